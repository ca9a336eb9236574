"""Checking a recording a user offers as a lane's sound (drop, browse), in the GUI process.
Qt-free and torch-free: ``engine.api.read_sound`` reads with numpy + soundfile."""

from __future__ import annotations

from pathlib import Path

from engine.api import SOUND_EXTENSIONS, V2AError, read_sound


def is_sound_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in SOUND_EXTENSIONS


def sound_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a lane's sound (one line naming the file), or None when it can."""
    p = Path(path)
    if not is_sound_file(p):
        kinds = ", ".join(e.lstrip(".").upper() for e in SOUND_EXTENSIONS)
        return f"{p.name} is not an audio recording — a lane's sound must be {kinds}"
    if not p.is_file():
        return f"{p.name}: no such file"
    try:
        audio, _sr = read_sound(str(p), 0.0, 0.5)  # the first half second proves it decodes
    except V2AError as e:
        return e.message
    if len(audio) == 0:
        return f"{p.name}: no audio samples"
    return None
