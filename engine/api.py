"""The one surface the app imports from the engine (docs/DESIGN.md §3; a test enforces it).

Plain types, errors and progress are imported with this module (all torch-free). Everything
else is looked up on first use (PEP 562 ``__getattr__``), so ``from engine.api import probe``
inside a function imports PyAV then, and ``from engine.api import load_pack`` is the first
torch import, in the engine worker — importing ``app`` never loads torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine import timebase
from engine.errors import (
    Cancelled,
    LayoutError,
    MediaError,
    MediaWarning,
    OutputError,
    PackError,
    V2AError,
)
from engine.progress import CancelToken, Progress, run_to_completion
from engine.types import AudioLayout, GenerationRequest, MediaInfo, Take

# What the library engine accepts as a reference recording (engine.library.records.
# AUDIO_EXTENSIONS, repeated here so the app can check a dropped file without importing it).
SOUND_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")

#: name -> (module, attribute): the module is imported on first access.
_LAZY: dict[str, tuple[str, str]] = {
    # audio (numpy/scipy)
    "LayoutConfig": ("engine.audio.layout", "LayoutConfig"),
    "MelConfig": ("engine.audio.mel", "MelConfig"),
    "hz_to_mel": ("engine.audio.mel", "hz_to_mel"),
    "mel_to_hz": ("engine.audio.mel", "mel_to_hz"),
    "log_mel": ("engine.audio.mel", "log_mel"),
    "detect_onsets": ("engine.audio.onset", "detect_onsets"),
    "layout_from_audio": ("engine.audio.layout", "layout_from_audio"),
    "paint_event": ("engine.audio.layout", "paint_event"),
    "resize_layout": ("engine.audio.layout", "resize_layout"),
    "resample": ("engine.audio.dsp", "resample"),
    "splice": ("engine.audio.dsp", "splice"),
    "format_duration": ("engine.timebase", "format_duration"),
    "seconds_to_samples": ("engine.timebase", "seconds_to_samples"),
    # media (PyAV)
    "probe": ("engine.media", "probe"),
    "read_audio": ("engine.media", "read_audio"),
    "write_audio": ("engine.media", "write_audio"),
    "read_frames": ("engine.media", "read_frames"),
    "VideoReader": ("engine.media", "VideoReader"),
    "mux": ("engine.media", "mux"),
    "MUX_CONTAINERS": ("engine.media.mux", "CONTAINERS"),
    # video analysis (OpenCV)
    "contact_times_job": ("engine.video", "contact_times_job"),
    # files, folders, packs (torch-free)
    "atomic_output": ("engine.safe_write", "atomic_output"),
    "check_output_path": ("engine.safe_write", "check_output_path"),
    "resolve_inside": ("engine.safe_write", "resolve_inside"),
    "app_icon_path": ("engine.paths", "app_icon_path"),
    "autosave_dir": ("engine.paths", "autosave_dir"),
    "bundled_packs_dir": ("engine.paths", "bundled_packs_dir"),
    "config_dir": ("engine.paths", "config_dir"),
    "describe_paths": ("engine.paths", "describe"),
    "resource_path": ("engine.paths", "resource_path"),
    "resources_root": ("engine.paths", "resources_root"),
    "settings_file": ("engine.paths", "settings_file"),
    "user_packs_dir": ("engine.paths", "user_packs_dir"),
    "find_pack": ("engine.packs", "find_pack"),
    "list_packs": ("engine.packs", "list_packs"),
    "read_manifest": ("engine.packs", "read_manifest"),
    "sampling_defaults": ("engine.packs", "sampling_defaults"),
    "SamplingConfig": ("engine.packs.config", "SamplingConfig"),
    # the sound library (torch-free search)
    "load_library": ("engine.library", "load_library"),
    "choose_class": ("engine.library.search", "choose_class"),
    "search_library": ("engine.library.search", "search"),
    # generation (imports torch: engine worker only)
    "load_pack": ("engine.generation", "load_pack"),
    "predict_layout": ("engine.generation", "predict_layout"),
    "generate": ("engine.generation", "generate"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"engine.api has no {name!r}") from None
    # not cached here: importlib finds an imported module in sys.modules at dict speed, and a
    # module replaced there (tests, a reload) is the one used
    return getattr(importlib.import_module(module), attr)


def pack_engine(pack: str | None = None) -> str:
    """The engine a pack declares ("diffusion", "ar"); torch-free. PackError if unreadable."""
    from engine.packs import find_pack, read_manifest
    from engine.packs.config import pack_config

    d = find_pack(pack)
    return pack_config(read_manifest(d), d).engine


def layout_grid(pack: str | None = None) -> tuple[float, int]:
    """(columns per second, bands) of the layouts ``pack`` works on — the grid new lanes get.
    Torch-free (reads pack.json); a pack that cannot be read gives the engine's default grid."""
    from engine.packs import find_pack, read_manifest
    from engine.packs.config import pack_config

    try:
        d = find_pack(pack)
        lay = pack_config(read_manifest(d), d).layout
    except PackError:
        from engine.packs.config import LayoutSettings

        lay = LayoutSettings()
    return float(lay.columns_per_second), int(lay.bands)


def read_sound(path: str, start: float = 0.0, duration: float = 0.0):
    """Mono float32 samples of ``[start, start + duration)`` of a recording (all of it when
    ``duration`` is 0) and its rate — numpy + soundfile only, so the GUI may call it to
    audition a library sound. ``MediaError`` (one line) when the file is not audio."""
    from engine.library.records import read_stretch

    return read_stretch(path, start, duration)


__all__ = [
    "AudioLayout",
    "CancelToken",
    "Cancelled",
    "GenerationRequest",
    "LayoutError",
    "MediaError",
    "MediaInfo",
    "MediaWarning",
    "OutputError",
    "PackError",
    "Progress",
    "SOUND_EXTENSIONS",
    "Take",
    "V2AError",
    "layout_grid",
    "pack_engine",
    "read_sound",
    "run_to_completion",
    "timebase",
    *_LAZY,
]
