"""Errors the engine raises on purpose. Every one names the file and the problem."""

from __future__ import annotations

from pathlib import Path


class V2AError(Exception):
    """Base for expected failures: shown to the user as one line, never as a traceback."""

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


class MediaError(V2AError):
    """A media file is missing, unreadable, truncated, empty or has no usable stream."""


class MediaWarning(UserWarning):
    """Media that decoded only in part (damaged packets skipped): the result is usable, but the
    user should know. ``str()`` is one line naming the file, like ``V2AError``."""

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class OutputError(V2AError):
    """An output path is unusable (would overwrite the input, directory missing, ...)."""


class PackError(V2AError):
    """A model pack is missing, fails its checksum, or does not match its config."""


class DeviceError(V2AError):
    """The compute device asked for (e.g. ``cuda``) is not usable on this machine."""


class LayoutError(V2AError):
    """A layout file has the wrong shape, dtype or values."""


class Cancelled(V2AError):
    """The user cancelled a long operation."""

    def __init__(self, problem: str = "cancelled") -> None:
        super().__init__(problem)
