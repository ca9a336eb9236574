"""The torch-free surface the app may import (DESIGN.md §3).

It re-exports plain types and lazy entry points; anything that needs torch is imported
inside the function body, so calling it from the engine thread is the first torch import.
"""

from __future__ import annotations

from engine.errors import Cancelled, LayoutError, MediaError, OutputError, PackError, V2AError
from engine.progress import CancelToken, Progress, run_to_completion
from engine.types import AudioLayout, GenerationRequest, MediaInfo, Take

# What the library engine accepts as a reference recording (engine.library.records.
# AUDIO_EXTENSIONS, repeated here so the app can check a dropped file without importing it).
SOUND_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")


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
    "OutputError",
    "PackError",
    "Progress",
    "SOUND_EXTENSIONS",
    "Take",
    "V2AError",
    "read_sound",
    "run_to_completion",
]
