"""The V2A Studio main window: viewer, transport, timeline lanes, panels, menus and docks.

The window builds the widgets and wires menus and panels to its controllers
(``app.ui.controllers``), each of which owns one concern: files, edit, generation, export,
sounds. Its signals (``clip_opened``, ``takes_added`` …) are what scripted front ends and tests
wait on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QRect, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QDockWidget,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services import jobs
from app.services.engine_client import EngineClient
from app.ui.controllers.edit import EditController
from app.ui.controllers.export import ExportController
from app.ui.controllers.files import FileController
from app.ui.controllers.generation import GenerationController
from app.ui.controllers.sounds import SoundsController
from app.ui.document import StudioDocument
from app.ui.help import GettingStartedDialog, ShortcutsDialog, StartPage, action_keys
from app.ui.panels import GenerationPanel, LanesPanel, LibraryPanel, TakesPanel
from app.ui.prefs import prefs, read_bool
from app.ui.timeline import TimelineWidget
from app.ui.toolbar import ToolBar
from app.ui.viewer import ElidedLabel, PlaybackController, ViewerPanel

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1600, 900)  # first start, when the screen has room for it

# Keys a focused spin box keeps even though they are also single-key shortcuts: typing a
# number needs them. Enter or Escape hands the keys back to the timeline.
SPIN_EDIT_KEYS = {k.value for k in (
    Qt.Key.Key_Period, Qt.Key.Key_Comma, Qt.Key.Key_Minus, Qt.Key.Key_Plus, Qt.Key.Key_Left, Qt.Key.Key_Right,
    Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_Backspace, Qt.Key.Key_Delete, Qt.Key.Key_Up, Qt.Key.Key_Down,
    Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)} | set(range(Qt.Key.Key_0.value, Qt.Key.Key_9.value + 1))
RETURN_KEYS = {Qt.Key.Key_Return.value, Qt.Key.Key_Enter.value, Qt.Key.Key_Escape.value}


class SoundStatus(ElidedLabel):
    """The status bar's audio-output note. A long PortAudio message ends in "…" here; the
    tool tip holds all of it and a click shows it in a dialog (text can be copied)."""

    clicked = Signal()

    def __init__(self) -> None:
        super().__init__("")
        self.full = ""
        self.setMaximumWidth(460)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_message(self, short: str, full: str) -> None:
        self.full = full
        self.setText(short)
        self.setToolTip(full + ("\n\nClick for the whole message." if full != short else ""))

    def sizeHint(self):  # noqa: N802
        s = super().sizeHint()
        s.setWidth(min(self.maximumWidth(), self.fontMetrics().horizontalAdvance(self.text()) + 8))
        return s

    def mousePressEvent(self, ev) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(ev)


class MainWindow(QMainWindow):
    clip_opened = Signal(str)
    layout_shown = Signal()
    takes_added = Signal(int)
    export_done = Signal(list)
    job_cancelled = Signal()
    job_failed = Signal(str)

    def __init__(self, autosave: bool = True, interactive: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("V2A Studio")
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.interactive = interactive  # False: no modal questions (screenshots, tests)
        # Set by non-interactive front ends (--screenshot): errors go here, not to a dialog.
        self.error_sink: Callable[[str, str], None] | None = None
        self.doc = StudioDocument(self)
        self.engine = EngineClient(self)
        self.playback = PlaybackController(self.doc, self)
        self.shutting_down = False
        self.acts: dict[str, QAction] = {}  # named actions (help texts and tool tips name their keys)
        self.shortcuts_sheet: ShortcutsDialog | None = None
        # One concern each; they reach the widgets built below through this window.
        self.files = FileController(self, autosave=autosave)
        self.edit = EditController(self)
        self.generation = GenerationController(self)
        self.exporter = ExportController(self)
        self.sounds = SoundsController(self)
        self._build_ui()
        self._build_actions()
        self._wire()
        # Single-key shortcuts must reach the editor from a spin box too (see eventFilter).
        QApplication.instance().installEventFilter(self)
        self.update_title()
        self._show_sound_status()

    # ---------------------------------------------------------------------------- layout ----
    def _build_ui(self) -> None:
        self.viewer_panel = ViewerPanel(self.doc, self.playback)
        self.viewer = self.viewer_panel.viewer
        self.timeline = TimelineWidget(self.doc)
        self.tools = ToolBar(self.doc)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.setSpacing(0)
        bl.addWidget(self.tools)
        bl.addWidget(self.timeline, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.viewer_panel)
        split.addWidget(bottom)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 6)
        split.setSizes([400, 480])
        split.setChildrenCollapsible(False)
        split.setObjectName("MainSplitter")
        self.split = split
        # No clip open: the central area shows the three steps instead of an empty editor.
        self.start_page = StartPage(self.files.open_dialog, self.files.open_path, self.show_shortcuts)
        self.central = QStackedWidget()
        self.central.setObjectName("Central")
        self.central.addWidget(self.start_page)
        self.central.addWidget(split)
        self.setCentralWidget(self.central)
        self.lanes_panel = LanesPanel(self.doc)
        self.gen_panel = GenerationPanel(self.doc)
        self.takes_panel = TakesPanel(self.doc)
        self.library_panel = LibraryPanel(self.doc)
        for title, w, area, name in (
            ("Lanes", self.lanes_panel, Qt.DockWidgetArea.LeftDockWidgetArea, "LanesDock"),
            ("Sounds", self.library_panel, Qt.DockWidgetArea.LeftDockWidgetArea, "SoundsDock"),
            ("Generate", self.gen_panel, Qt.DockWidgetArea.RightDockWidgetArea, "GenerateDock"),
            ("Takes", self.takes_panel, Qt.DockWidgetArea.RightDockWidgetArea, "TakesDock"),
        ):
            d = QDockWidget(title, self)
            d.setObjectName(name)
            d.setWidget(w)
            d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
            self.addDockWidget(area, d)
        # The library search sits under the lanes: both are about the active lane's sound.
        self.splitDockWidget(self.findChild(QDockWidget, "LanesDock"), self.findChild(QDockWidget, "SoundsDock"),
                             Qt.Orientation.Vertical)
        self.resizeDocks([self.findChild(QDockWidget, "LanesDock")], [330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.findChild(QDockWidget, "GenerateDock")], [320], Qt.Orientation.Horizontal)
        self.sound_label = SoundStatus()
        self.sound_label.setObjectName("Dim")
        self.sound_label.clicked.connect(self.show_sound_details)
        self.statusBar().addPermanentWidget(self.sound_label)

    def _act(self, menu, text: str, fn, shortcut=None, tip: str = "", name: str = "") -> QAction:
        a = QAction(text, self)
        if name:
            self.acts[name] = a
        if shortcut is not None:
            a.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(fn)
        menu.addAction(a)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._act(f, "&Open…", self.files.open_dialog, QKeySequence.StandardKey.Open, name="open")
        self.recent_menu = f.addMenu("Open &Recent")
        self.files.fill_recent()
        f.addSeparator()
        self._act(f, "&Save Project", self.files.save, QKeySequence.StandardKey.Save, name="save")
        self._act(f, "Save Project &As…", self.files.save_as, QKeySequence("Ctrl+Shift+S"))
        f.addSeparator()
        self._act(f, "Import Layout from &Recording…", self.edit.import_reference, QKeySequence("Ctrl+I"),
                  "Turn a recorded cue or vocal imitation into layout at the playhead")
        self._act(f, "&Export…", self.exporter.export_dialog, QKeySequence("Ctrl+E"), name="export")
        f.addSeparator()
        self._act(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        e = mb.addMenu("&Edit")
        u = self.doc.undo.createUndoAction(self, "&Undo")
        u.setShortcut(QKeySequence.StandardKey.Undo)
        r = self.doc.undo.createRedoAction(self, "&Redo")
        r.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        u.setProperty("sheet_name", "Undo (the menu names the step)")
        r.setProperty("sheet_name", "Redo")
        e.addAction(u)
        e.addAction(r)
        self.addAction(u)
        self.addAction(r)
        self.undo_action, self.redo_action = u, r
        e.addSeparator()
        self._act(e, "&Copy Layout Range", self.edit.copy_range, QKeySequence.StandardKey.Copy)
        self._act(e, "&Paste Layout at Playhead", self.edit.paste_range, QKeySequence.StandardKey.Paste)
        self._act(e, "&Delete Layout Range", self.edit.delete_range, [QKeySequence.StandardKey.Delete, QKeySequence("Backspace")])
        self._act(e, "&Reset Range to Predicted", self.edit.reset_range, QKeySequence("R"))
        self._act(e, "Nudge Range Left One Frame", lambda: self.edit.nudge(-1), QKeySequence("Alt+Left"))
        self._act(e, "Nudge Range Right One Frame", lambda: self.edit.nudge(1), QKeySequence("Alt+Right"))
        self._act(e, "Stretch Range +10%", lambda: self.edit.stretch(1.1), QKeySequence("Alt+Up"))
        self._act(e, "Shrink Range −10%", lambda: self.edit.stretch(1 / 1.1), QKeySequence("Alt+Down"))
        self._act(e, "Snap &Events in Range (frames / motion peaks)", self.edit.snap_events, QKeySequence("S"),
                  "Move each layout event in the selection onto the snap target chosen in the tool bar")
        self._act(e, "Mark &Hit at Playhead", self.edit.mark_hit, QKeySequence("H"),
                  "A sound event at the playhead with the Event tool's decay, intensity and bands", name="mark_hit")
        self._act(e, "Nudge Events Left One Frame", lambda: self.edit.nudge_events(-1), QKeySequence(","),
                  "Move the events in the selection (or the last marked hit) one video frame earlier")
        self._act(e, "Nudge Events Right One Frame", lambda: self.edit.nudge_events(1), QKeySequence("."),
                  "Move the events in the selection (or the last marked hit) one video frame later")
        self._act(e, "Mark &In (selection start)", self.edit.mark_in, QKeySequence("I"))
        self._act(e, "Mark &Out (selection end)", self.edit.mark_out, QKeySequence("O"))
        self._act(e, "Select &All", self.edit.select_all, QKeySequence.StandardKey.SelectAll)
        self._act(e, "Clear Selection", self.edit.escape, QKeySequence("Escape"))
        e.addSeparator()
        for name, key in (("select", "V"), ("brush", "B"), ("eraser", "E"), ("event", "N")):
            self._act(e, f"{name.capitalize()} Tool", lambda _c=False, n=name: self.doc.tools.set("tool", n), QKeySequence(key),
                      name=f"tool_{name}")

        p = mb.addMenu("&Playback")
        self._act(p, "Play / Pause", self.playback.toggle, QKeySequence("Space"), name="play")
        self._act(p, "Shuttle Reverse", lambda: self.playback.shuttle("j"), QKeySequence("J"))
        self._act(p, "Stop", lambda: self.playback.shuttle("k"), QKeySequence("K"))
        self._act(p, "Shuttle Forward", lambda: self.playback.shuttle("l"), QKeySequence("L"))
        self._act(p, "Previous Frame", lambda: self.doc.timeline.step_frames(-1), QKeySequence("Left"))
        self._act(p, "Next Frame", lambda: self.doc.timeline.step_frames(1), QKeySequence("Right"))
        self._act(p, "Back 10 Frames", lambda: self.doc.timeline.step_frames(-10), QKeySequence("Shift+Left"))
        self._act(p, "Forward 10 Frames", lambda: self.doc.timeline.step_frames(10), QKeySequence("Shift+Right"))
        self._act(p, "Go to Start", lambda: self.doc.timeline.seek(0), QKeySequence("Home"))
        self._act(p, "Go to End", lambda: self.doc.timeline.seek_frame(self.doc.timeline.last_frame), QKeySequence("End"))

        v = mb.addMenu("&View")
        self._act(v, "Zoom In", lambda: self.doc.timeline.zoom(0.5), [QKeySequence("="), QKeySequence("+"), QKeySequence("Ctrl+=")])
        self._act(v, "Zoom Out", lambda: self.doc.timeline.zoom(2.0), [QKeySequence("-"), QKeySequence("Ctrl+-")])
        self._act(v, "Zoom to Fit", self.doc.timeline.fit, QKeySequence("\\"))
        self._act(v, "Pan Left", lambda: self.doc.timeline.pan(-0.25), QKeySequence("Ctrl+Left"))
        self._act(v, "Pan Right", lambda: self.doc.timeline.pan(0.25), QKeySequence("Ctrl+Right"))
        v.addSeparator()
        self._act(v, "Zoom Frequency In", lambda: self.timeline.zoom_frequency(0.8), QKeySequence("Ctrl+Up"),
                  "Show a narrower frequency range in the Take mel row (also Ctrl+wheel over a row)")
        self._act(v, "Zoom Frequency Out", lambda: self.timeline.zoom_frequency(1.25), QKeySequence("Ctrl+Down"))
        self._act(v, "Reset Frequency Zoom", self.timeline.reset_frequency_zoom, QKeySequence("Ctrl+0"),
                  "Every row back to its whole frequency range")
        v.addSeparator()
        self.legend_action = self._act(v, "Lane &Legend", self.timeline.set_legend_visible, QKeySequence("Ctrl+L"),
                                       "What the lanes' colours, rows and marks mean", name="legend")
        self.legend_action.setCheckable(True)
        on = read_bool(prefs(), "view/legend", True)
        self.legend_action.setChecked(on)
        self.timeline.set_legend_visible(on)
        self.timeline.legend_toggled.connect(self._on_legend_toggled)

        g = mb.addMenu("&Generate")
        self._act(g, "Generate &Lane", self.generation.generate_lane, QKeySequence("Ctrl+G"), name="generate_lane")
        self._act(g, "Generate &All Lanes", self.generation.generate_all, QKeySequence("Ctrl+Shift+G"), name="generate_all")
        self._act(g, "&Regenerate Selection", self.generation.regenerate_selection, QKeySequence("Ctrl+Alt+G"), name="regenerate")
        self._act(g, "Predict &Layout Again", self.generation.predict_layout)
        self._act(g, "&Cancel", self.generation.cancel_job, QKeySequence("Ctrl+."), name="cancel")

        h = mb.addMenu("&Help")
        self._act(h, "&Keyboard Shortcuts", self.show_shortcuts, [QKeySequence("?"), QKeySequence("Shift+?"), QKeySequence("F1")],
                  "Every keyboard shortcut of the window, by menu", name="shortcuts")
        self._act(h, "&Getting Started", self.show_getting_started, tip="The three steps from a silent clip to a soundtrack")
        h.addSeparator()
        self._act(h, "&About V2A Studio", self.show_about)
        self._shortcut_tips()
        self._single_keys = {
            kc.key().value for a in self.actions() for ks in a.shortcuts() if ks.count() == 1
            for kc in [ks[0]]
            if not kc.keyboardModifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                                             | Qt.KeyboardModifier.MetaModifier)
        }

    # ------------------------------------------------------------------------- keyboard ----
    def eventFilter(self, obj, ev) -> bool:  # noqa: N802 (Qt API)
        """Single-key shortcuts (Space, J/K/L, B, N, H…) work from everywhere in the window
        except text fields. A focused spin box would otherwise swallow them (its line edit
        claims every printable key), so it keeps only the keys a number needs; Enter and
        Escape hand the keyboard back to the timeline."""
        kind = ev.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        spin = obj if isinstance(obj, QAbstractSpinBox) else obj.parent() if isinstance(obj, QLineEdit) else None
        if not isinstance(spin, QAbstractSpinBox) or self.shutting_down or not self.isAncestorOf(spin):
            return False
        mods = ev.modifiers() & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier)
        key = int(ev.key())
        if key in RETURN_KEYS and mods == Qt.KeyboardModifier.NoModifier:
            if kind == QEvent.Type.ShortcutOverride:
                ev.accept()  # Escape leaves the field; it must not also clear the selection
                return True
            # After the spin box has taken its value (Enter) the timeline gets the keys back.
            QTimer.singleShot(0, self.focus_timeline)
            return key == Qt.Key.Key_Escape.value
        if (kind == QEvent.Type.ShortcutOverride and mods == Qt.KeyboardModifier.NoModifier
                and key in self._single_keys and key not in SPIN_EDIT_KEYS):
            ev.ignore()  # not claimed by the spin box: the window's shortcut fires
            return True
        return False

    def focus_timeline(self) -> None:
        self.timeline.glw.setFocus(Qt.FocusReason.OtherFocusReason)

    # ------------------------------------------------------------------ window geometry ----
    @staticmethod
    def window_settings() -> QSettings:
        """Window geometry, docks and splitter, in an INI file in the studio's config folder
        (``V2A_CONFIG_DIR`` moves it, e.g. for tests)."""
        from engine.api import config_dir

        return QSettings(str(config_dir() / "studio-window.ini"), QSettings.Format.IniFormat)

    def restore_window_state(self, available: QRect | None = None) -> None:
        """Last session's geometry, docks and splitter; on first start a size that fits the
        screen (1600×900 where there is room). Never larger than ``available``."""
        if available is None:
            scr = self.screen() or QApplication.primaryScreen()
            available = scr.availableGeometry() if scr is not None else QRect(0, 0, *DEFAULT_SIZE)
        s = self.window_settings()
        # Our own rectangle rather than restoreGeometry(): that one also fits the window to
        # whatever screen Qt reports now, and the clamp below does that against ``available``.
        rect = s.value("window/rect")
        restored = isinstance(rect, QRect) and rect.isValid()
        if restored:
            self.setGeometry(rect)
            if (state := s.value("window/state")) is not None:
                self.restoreState(state)
            if (split := s.value("window/splitter")) is not None:
                self.split.restoreState(split)
            if s.value("window/maximized") in (True, "true"):
                self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)
        else:
            self.resize(min(DEFAULT_SIZE[0], available.width()), min(DEFAULT_SIZE[1], available.height()))
            self.move(available.left() + (available.width() - self.width()) // 2,
                      available.top() + (available.height() - self.height()) // 2)
        self._fit_area = available
        self._clamp_to(available)

    def _clamp_to(self, available: QRect) -> None:
        """Shrink and move the window, frame included, inside ``available`` (a smaller screen
        than last time, a laptop at 1280×720)."""
        frame = self.frameGeometry()
        dw, dh = frame.width() - self.width(), frame.height() - self.height()  # 0 until shown
        w, h = min(self.width(), available.width() - dw), min(self.height(), available.height() - dh)
        if (w, h) != (self.width(), self.height()):
            self.resize(w, h)
        x = min(max(frame.x(), available.left()), available.right() + 1 - w - dw)
        y = min(max(frame.y(), available.top()), available.bottom() + 1 - h - dh)
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    def showEvent(self, ev) -> None:  # noqa: N802
        super().showEvent(ev)
        area = getattr(self, "_fit_area", None)
        if area is not None:  # the frame's size is known only now
            self._fit_area = None
            QTimer.singleShot(0, lambda: self._clamp_to(area))

    def save_window_state(self) -> None:
        s = self.window_settings()
        s.setValue("window/rect", self.normalGeometry() if self.isMaximized() else self.geometry())
        s.setValue("window/maximized", self.isMaximized())
        s.setValue("window/state", self.saveState())
        s.setValue("window/splitter", self.split.saveState())
        s.sync()

    # ----------------------------------------------------------------------------- help ----
    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard Shortcuts (?): the sheet, built from this window's actions."""
        if self.shortcuts_sheet is None:
            self.shortcuts_sheet = ShortcutsDialog(self)
        self.shortcuts_sheet.show()
        self.shortcuts_sheet.raise_()
        self.shortcuts_sheet.activateWindow()

    def show_getting_started(self) -> None:
        dlg = GettingStartedDialog(self, self.acts, self.show_shortcuts)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.getting_started = dlg
        dlg.show()

    def _on_legend_toggled(self, on: bool) -> None:
        self.legend_action.setChecked(on)
        s = prefs()
        s.setValue("view/legend", on)
        s.sync()

    def _shortcut_tips(self) -> None:
        """Tool tips of buttons that do what a menu action does end in that action's keys,
        read from the action (so a changed shortcut changes the tip)."""
        tips = (
            (self.lanes_panel.gen_one, "Generate new takes for the active lane", "generate_lane"),
            (self.lanes_panel.gen_all, "Generate new takes for every lane", "generate_all"),
            (self.gen_panel.regen, "Replace only the selected time range of the picked take", "regenerate"),
            (self.gen_panel.cancel_btn, "Stop the running engine job", "cancel"),
            (self.viewer_panel.transport.play_btn, "Play / pause", "play"),
        )
        for w, text, name in tips:
            keys = action_keys(self.acts.get(name))
            w.setToolTip(f"{text} ({keys})" if keys else text)
        for name, b in self.tools.buttons.items():
            keys = action_keys(self.acts.get(f"tool_{name}"))
            b.setToolTip(f"{b.property('tip') or b.text()} ({keys})" if keys else b.toolTip())
        self.start_page.set_shortcuts(self.acts)

    def show_sound_details(self) -> None:
        """The whole audio-output message (a PortAudio error can be several lines)."""
        full = self.sound_label.full or self.sound_label.text()
        box = QMessageBox(QMessageBox.Icon.Information, "Audio output", full.split(" (")[0], QMessageBox.StandardButton.Close, self)
        if full != full.split(" (")[0]:
            box.setInformativeText("The picture still plays, on the system clock.")
            box.setDetailedText(full)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sound_details = box
        if self.interactive:
            box.open()

    def show_about(self) -> None:
        """Version, packs and the licenses of the data they were trained on (app.firstrun)."""
        from PySide6.QtCore import qVersion

        from app.firstrun import about_text

        QMessageBox.about(self, "About V2A Studio", about_text({"Qt": qVersion()}))

    def _wire(self) -> None:
        self.generation.wire()
        self.sounds.wire()
        self.timeline.file_dropped.connect(self.files.on_timeline_drop)
        self.playback.status.connect(self._on_playback_status)
        self.viewer.frame_shown.connect(self.files.on_first_frame)
        self.doc.undo.cleanChanged.connect(lambda _c: self.update_title())
        self.doc.undo.indexChanged.connect(lambda _i: self.update_title())

    # --------------------------------------------------------------------------- helpers ----
    def update_title(self) -> None:
        try:
            self._set_title()
        except RuntimeError:
            pass  # the undo stack is being destroyed with the window

    def _set_title(self) -> None:
        name = self.doc.project.path.name if self.doc.project.path else (
            Path(self.doc.project.clip_path).name if self.doc.project.clip_path else "")
        dirty = "•" if not self.doc.undo.isClean() else ""
        self.setWindowTitle(f"{dirty}{name} — V2A Studio" if name else "V2A Studio")

    def _show_sound_status(self) -> None:
        prob = self.playback.sound_problem
        if prob:
            self.sound_label.set_message("No sound: " + prob.removeprefix("No sound: ").split(" (")[0], prob)
        else:
            name = f"Audio out: {getattr(self.playback.player, 'device_name', 'default')}"
            self.sound_label.set_message(name, name)

    def _on_playback_status(self, message: str) -> None:
        """A playback problem: its first clause in the status bar (which cuts long lines), all
        of it in the sound note's tool tip and behind a click on it."""
        self._show_sound_status()
        short = message.split(" (")[0]
        self.statusBar().showMessage(short + (" — click the note on the right for details" if short != message else ""),
                                     8000)

    def error(self, title: str, message: str) -> None:
        """One clear dialog, never a traceback (DESIGN.md §8). Without anyone to click it
        (``--screenshot``) the message goes to ``error_sink`` instead of a modal box."""
        self.statusBar().showMessage(message, 10000)
        if self.error_sink is not None:
            self.error_sink(title, message)
            return
        QMessageBox.critical(self, title, message)

    def show_editor(self) -> None:
        if self.central.currentWidget() is not self.split:
            self.central.setCurrentWidget(self.split)

    @property
    def showing_start_page(self) -> bool:
        return self.central.currentWidget() is self.start_page

    # ------------------------------------------------------------------------ commands ----
    # What front ends (app.main, --selftest, benchmarks) drive; the work is the controllers'.
    def open_path(self, path: str | Path) -> bool:
        return self.files.open_path(path)

    def open_dialog(self) -> None:
        self.files.open_dialog()

    def save(self) -> bool:
        return self.files.save()

    def offer_recovery(self) -> bool:
        return self.files.offer_recovery()

    def predict_layout(self) -> None:
        self.generation.predict_layout()

    def generate_lane(self) -> None:
        self.generation.generate_lane()

    def generate_all(self) -> None:
        self.generation.generate_all()

    def export(self, spec: jobs.ExportSpec) -> int | None:
        return self.exporter.export(spec)

    # ----------------------------------------------------------------------------- close ----
    def closeEvent(self, ev) -> None:  # noqa: N802
        if not self.files.maybe_keep_changes():
            ev.ignore()
            return
        self.save_window_state()
        self.shutdown()
        ev.accept()

    def shutdown(self) -> None:
        self.shutting_down = True
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.files.shutdown()
        self.playback.player.close()
        self.viewer.close_server()
        self.engine.shutdown()
        self.files.discard_autosave()

    # ------------------------------------------------------------------------ drag&drop ----
    def dragEnterEvent(self, ev) -> None:  # noqa: N802
        if ev.mimeData().hasUrls() and any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802
        if self.files.drop_urls(ev.mimeData().urls()):
            ev.acceptProposedAction()


def load_style(app: QApplication) -> None:
    """The dark QSS and the window icon, from resources/ of a checkout or a frozen bundle."""
    from PySide6.QtCore import QDir
    from PySide6.QtGui import QIcon

    from engine.api import app_icon_path, resource_path

    qss = resource_path("styles", "studio.qss")
    # The QSS names its images as studio:NAME (the check box tick), found beside it.
    QDir.addSearchPath("studio", str(qss.parent))
    if qss.exists():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))
    icon = app_icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
