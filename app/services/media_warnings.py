"""Damaged-media warnings for the studio: the engine skips undecodable packets with one
``MediaWarning`` (engine.errors) instead of refusing the file; the CLI prints it as one line,
the studio shows it once per clip in the status bar.

Warnings raised in the GUI process (the viewer, thumbnails, the clip's own audio) reach
``MediaWarnings.warned`` through a ``warnings.showwarning`` hook, from any thread (the signal
is queued to the GUI thread). The engine worker process catches them per job and sends them
back; the engine client hands them to ``MediaWarnings.report``.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.api import MediaWarning


class MediaWarnings(QObject):
    warned = Signal(str)  # one line, shown once per clip

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._previous: Any = None
        self._hook: Any = None

    def report(self, message: str) -> None:
        """Show ``message`` unless this clip already showed it (any thread)."""
        with self._lock:
            if message in self._seen:
                return
            self._seen.add(message)
        self.warned.emit(message)

    def reset(self) -> None:
        """A new clip: its warnings are shown again."""
        with self._lock:
            self._seen.clear()

    def install(self) -> None:
        """Route ``MediaWarning``s of this process here (others go where they went). Again
        after anything (``warnings.catch_warnings``) put the previous hook back."""
        if self._hook is not None and warnings.showwarning is self._hook:
            return
        previous = warnings.showwarning
        warnings.simplefilter("always", MediaWarning)  # the engine already warns once per file

        def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
            if isinstance(category, type) and issubclass(category, MediaWarning):
                self.report(str(message))
            else:
                previous(message, category, filename, lineno, file, line)

        self._previous, self._hook = previous, show
        warnings.showwarning = show

    def uninstall(self) -> None:
        if self._hook is not None and warnings.showwarning is self._hook:
            warnings.showwarning = self._previous
        self._previous = self._hook = None


_INSTANCE: MediaWarnings | None = None


def media_warnings() -> MediaWarnings:
    """The process's one ``MediaWarnings`` (created on first use, in the GUI thread)."""
    global _INSTANCE
    if _INSTANCE is None:
        _INSTANCE = MediaWarnings()
    return _INSTANCE


def captured(records: list[warnings.WarningMessage]) -> list[str]:
    """The ``MediaWarning`` texts among recorded warnings (for the worker to send back)."""
    return [str(r.message) for r in records if issubclass(r.category, MediaWarning)]
