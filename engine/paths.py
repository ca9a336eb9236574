"""Where V2A Studio keeps things on disk (torch-free; the app and the CLI both import it).

Per-user locations follow the platform conventions through ``platformdirs`` (Linux: XDG,
macOS: ~/Library/..., Windows: %LOCALAPPDATA%), and every one can be moved by environment:

==================  ====================================  ======================================
what                function                              override (first that is set wins)
==================  ====================================  ======================================
installed packs     :func:`user_packs_dir`                ``V2A_PACKS_DIR``, ``V2A_HOME/packs``
caches (features)   :func:`cache_dir`, :func:`features…`  ``V2A_CACHE_DIR``, ``V2A_HOME/cache``
settings            :func:`config_dir`, :func:`settings…` ``V2A_CONFIG_DIR``, ``V2A_HOME/config``
autosave/recovery   :func:`autosave_dir`                  ``V2A_STATE_DIR``, ``V2A_HOME/state``
logs                :func:`log_dir`                       ``V2A_LOG_DIR``, ``V2A_HOME/logs``
bundled resources   :func:`resources_root`                ``V2A_RESOURCES``
==================  ====================================  ======================================

``V2A_HOME`` puts everything under one folder (portable installs, tests, CI). Nothing here
creates a folder unless asked (``ensure=True``), so importing and asking is free of side effects.

:func:`resource_path` finds the repository's ``resources/`` folder in a source checkout or an
editable install, and inside a PyInstaller bundle (``sys._MEIPASS/resources``).
(``V2A_DATA`` is a different thing: the *training* data root of ``engine.data``.)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engine.errors import V2AError

APP_NAME = "v2a-studio"
# platformdirs' "appauthor" is only used on Windows (a vendor folder); keep it flat.
_APP_AUTHOR = False

_SOURCE_RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _home() -> Path | None:
    return _env_path("V2A_HOME")


def _ensure(path: Path, ensure: bool) -> Path:
    if ensure:
        path.mkdir(parents=True, exist_ok=True)
    return path


def _platform(kind: str) -> Path:
    # Imported lazily: platformdirs is small, but keeping the module import-cheap matters
    # for start-up, and a missing platformdirs should only fail when a path is asked for.
    import platformdirs

    fn = {
        "data": platformdirs.user_data_dir,
        "cache": platformdirs.user_cache_dir,
        "config": platformdirs.user_config_dir,
        "state": platformdirs.user_state_dir,
        "log": platformdirs.user_log_dir,
    }[kind]
    return Path(fn(APP_NAME, _APP_AUTHOR))


def _resolve(env: str, home_sub: str, kind: str, sub: str = "") -> Path:
    direct = _env_path(env)
    if direct is not None:
        return direct
    home = _home()
    if home is not None:
        return home / home_sub
    base = _platform(kind)
    return base / sub if sub else base


def user_data_dir(ensure: bool = False) -> Path:
    """Root for user data (installed packs live below it). ``V2A_HOME`` wins."""
    home = _home()
    return _ensure(home if home is not None else _platform("data"), ensure)


def user_packs_dir(ensure: bool = False) -> Path:
    """Where ``v2a pack install`` puts packs (one sub-folder with a ``pack.json`` per pack)."""
    return _ensure(_resolve("V2A_PACKS_DIR", "packs", "data", "packs"), ensure)


def bundled_packs_dir() -> Path:
    """The packs shipped with the program (the starter pack): ``resources/packs``."""
    return resource_path("packs")


def pack_search_dirs() -> list[Path]:
    """Folders that may hold packs, user-installed first so a user's copy shadows the bundled one.

    Extra folders can be given in ``V2A_PACK_PATH`` (``os.pathsep``-separated), searched first.
    """
    dirs: list[Path] = []
    extra = os.environ.get("V2A_PACK_PATH", "")
    dirs += [Path(p).expanduser() for p in extra.split(os.pathsep) if p.strip()]
    dirs.append(user_packs_dir())
    try:
        dirs.append(bundled_packs_dir())
    except V2AError:
        pass  # a broken install without resources/ still lets user packs work
    seen: set[Path] = set()
    unique = []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            unique.append(d)
    return unique


def cache_dir(ensure: bool = False) -> Path:
    """Disposable data: safe to delete, rebuilt on demand."""
    return _ensure(_resolve("V2A_CACHE_DIR", "cache", "cache"), ensure)


def features_cache_dir(ensure: bool = False) -> Path:
    """Clip features cached by content hash (``<sha>.npz``)."""
    return _ensure(cache_dir() / "features", ensure)


def config_dir(ensure: bool = False) -> Path:
    return _ensure(_resolve("V2A_CONFIG_DIR", "config", "config"), ensure)


def settings_file() -> Path:
    """The studio's settings (JSON). Its absence means this is the first run."""
    return config_dir() / "settings.json"


def autosave_dir(ensure: bool = False) -> Path:
    """Autosaved projects; what is left here after a crash is offered for recovery."""
    return _ensure(_resolve("V2A_STATE_DIR", "state", "state", "") / "autosave", ensure)


def log_dir(ensure: bool = False) -> Path:
    return _ensure(_resolve("V2A_LOG_DIR", "logs", "log"), ensure)


def is_frozen() -> bool:
    """True inside a PyInstaller (or similar) bundle."""
    return bool(getattr(sys, "frozen", False))


def resource_roots() -> list[Path]:
    """Candidate ``resources/`` folders, in the order they are tried."""
    roots: list[Path] = []
    override = _env_path("V2A_RESOURCES")
    if override is not None:
        roots.append(override)
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        roots.append(Path(meipass) / "resources")
    if is_frozen():
        # Some freezers (and PyInstaller's contents-directory="." layout) put data beside the exe.
        roots.append(Path(sys.executable).resolve().parent / "resources")
    roots.append(_SOURCE_RESOURCES)  # source checkout or editable install
    roots.append(Path(sys.prefix) / "share" / APP_NAME / "resources")  # data-files installs
    return roots


def resources_root() -> Path:
    """The first existing ``resources/`` folder; a clear error naming where it looked if none."""
    roots = resource_roots()
    for root in roots:
        if root.is_dir():
            return root
    looked = ", ".join(str(r) for r in roots)
    raise V2AError(f"the program's resources folder is missing (looked in: {looked}); reinstall")


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource, e.g. ``resource_path("packs", "starter", "pack.json")``.

    Returns the path under the first existing resources root (the file itself need not exist;
    callers that need it check and raise their own error naming it).
    """
    return resources_root().joinpath(*parts)


def app_icon_path() -> Path | None:
    """The application icon (SVG) for the window and About box, or None if it is missing.

    Looked up in resources/icons, then beside a frozen bundle's data (``_MEIPASS/icons``, where
    the spec puts it), then in the checkout's packaging/icons.
    """
    cands = []
    try:
        cands.append(resource_path("icons", "v2a-studio.svg"))
    except V2AError:
        pass
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        cands.append(Path(meipass) / "icons" / "v2a-studio.svg")
    cands.append(_SOURCE_RESOURCES.parent / "packaging" / "icons" / "v2a-studio.svg")
    return next((c for c in cands if c.is_file()), None)


def describe() -> dict[str, str]:
    """Human-readable map of where things live, for the About box, first run and bug reports."""
    out = {
        "installed packs": str(user_packs_dir()),
        "caches": str(cache_dir()),
        "settings": str(settings_file()),
        "autosave / recovery": str(autosave_dir()),
        "logs": str(log_dir()),
    }
    try:
        out["bundled resources"] = str(resources_root())
    except V2AError as exc:
        out["bundled resources"] = f"MISSING ({exc.problem})"
    return out
