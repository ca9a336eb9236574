"""The main window's controllers, one concern each (DESIGN.md §1: ``app/ui`` are widgets over
``app/model``). ``MainWindow`` builds the widgets, menus and docks and wires them to these:

- ``files.FileController``: open a clip or project, recent files, save / autosave / recovery,
  drag & drop, the clip's background services (thumbnails, motion, its own audio).
- ``edit.EditController``: layout range edits, clipboard, selection marks, hits, snapping,
  importing layout from a recording.
- ``generation.GenerationController``: building ``GenerationRequest``s, engine jobs and their
  progress / cancel / failure, layout prediction, takes (audition, A/B).
- ``export.ExportController``: the export dialog, the export job and its credits.
- ``sounds.SoundsController``: the sound library (search, audition, a lane's sound).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


class Controller(QObject):
    """One concern of the main window; reaches the document, widgets and engine through it."""

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self.doc = win.doc

    def status(self, message: str, ms: int = 0) -> None:
        """A message in the window's status bar (``ms`` = 0: until replaced)."""
        self.win.statusBar().showMessage(message, ms)
