"""The studio's remembered choices (export options and folder, the last folder a clip was
opened from, the lane legend), in ``studio.ini`` in the studio's config folder
(``V2A_CONFIG_DIR`` moves it). Window geometry lives beside it in ``studio-window.ini``."""

from __future__ import annotations

from PySide6.QtCore import QSettings


def prefs() -> QSettings:
    from engine.api import config_dir

    return QSettings(str(config_dir() / "studio.ini"), QSettings.Format.IniFormat)


def read_bool(s: QSettings, key: str, default: bool) -> bool:
    """INI files give booleans back as the strings "true"/"false"."""
    v = s.value(key, default)
    return v in (True, "true", "1", 1) if not isinstance(v, bool) else v
