"""The V2A Studio main window: viewer, transport, timeline lanes, panels, menus."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QRect, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.model import mix as mixmod
from app.model.layout import LayoutDoc, resample_bands, resample_columns
from app.model.project import Lane, Project, ProjectError
from app.services import jobs
from app.services.autosave import AutosaveSlot, RecentFiles, remove_slot
from app.services.engine_client import EngineClient
from app.services.frames import ClipAnalyzer, ThumbnailServer
from app.services.sounds import is_sound_file, sound_problem
from app.ui import commands as cmd
from app.ui.document import StudioDocument
from app.ui.export_dialog import ExportDialog
from app.ui.help import GettingStartedDialog, ShortcutsDialog, StartPage, action_keys
from app.ui.panels import GenerationPanel, LanesPanel, LibraryPanel, TakesPanel
from app.ui.prefs import prefs, read_bool
from app.ui.timeline import TimelineWidget
from app.ui.toolbar import SNAP_TARGETS, ToolBar
from app.ui.viewer import ElidedLabel, PlaybackController, ViewerPanel
from engine.api import GenerationRequest, V2AError, read_sound

log = logging.getLogger(__name__)

VIDEO_FILTER = "Video or project (*.mp4 *.mov *.mkv *.m4v *.avi *.webm *.v2aproj);;All files (*)"
AUTOSAVE_MS = 30_000
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
        self.recent = RecentFiles()
        self.autosave_slot = AutosaveSlot() if autosave else None
        self.analyzer: ClipAnalyzer | None = None
        self.thumbs: ThumbnailServer | None = None
        self._pending_start: tuple[str, bool] | None = None
        self._shut_down = False
        self._predict_job: int | None = None
        self._last_saved_index = 0
        self._autosaved_index = -1
        self._last_hit: tuple[str, float] | None = None  # lane id, time of the last H
        self._quiet_jobs: set[int] = set()  # jobs whose failure their own panel shows
        self.acts: dict[str, QAction] = {}  # named actions (help texts and tool tips name their keys)
        self.shortcuts_sheet: ShortcutsDialog | None = None
        # The clip's own audio is read off the GUI thread for its waveform row.
        self._audio_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clip-audio")
        self._audio_future: tuple[str, Future] | None = None
        self._audio_poll = QTimer(self)
        self._audio_poll.setInterval(40)
        self._audio_poll.timeout.connect(self._poll_clip_audio)
        self._build_ui()
        self._build_actions()
        self._wire()
        # Single-key shortcuts must reach the editor from a spin box too (see eventFilter).
        QApplication.instance().installEventFilter(self)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        if autosave:
            self.autosave_timer.start()
        self._update_title()
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
        self.start_page = StartPage(self.open_dialog, self.open_path, self.show_shortcuts)
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
        self._act(f, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open, name="open")
        self.recent_menu = f.addMenu("Open &Recent")
        self._fill_recent()
        f.addSeparator()
        self._act(f, "&Save Project", self.save, QKeySequence.StandardKey.Save, name="save")
        self._act(f, "Save Project &As…", self.save_as, QKeySequence("Ctrl+Shift+S"))
        f.addSeparator()
        self._act(f, "Import Layout from &Recording…", self.import_reference, QKeySequence("Ctrl+I"),
                  "Turn a recorded cue or vocal imitation into layout at the playhead")
        self._act(f, "&Export…", self.export_dialog, QKeySequence("Ctrl+E"), name="export")
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
        self._act(e, "&Copy Layout Range", self.copy_range, QKeySequence.StandardKey.Copy)
        self._act(e, "&Paste Layout at Playhead", self.paste_range, QKeySequence.StandardKey.Paste)
        self._act(e, "&Delete Layout Range", self.delete_range, [QKeySequence.StandardKey.Delete, QKeySequence("Backspace")])
        self._act(e, "&Reset Range to Predicted", self.reset_range, QKeySequence("R"))
        self._act(e, "Nudge Range Left One Frame", lambda: self.nudge(-1), QKeySequence("Alt+Left"))
        self._act(e, "Nudge Range Right One Frame", lambda: self.nudge(1), QKeySequence("Alt+Right"))
        self._act(e, "Stretch Range +10%", lambda: self.stretch(1.1), QKeySequence("Alt+Up"))
        self._act(e, "Shrink Range −10%", lambda: self.stretch(1 / 1.1), QKeySequence("Alt+Down"))
        self._act(e, "Snap &Events in Range (frames / motion peaks)", self.snap_events, QKeySequence("S"),
                  "Move each layout event in the selection onto the snap target chosen in the tool bar")
        self._act(e, "Mark &Hit at Playhead", self.mark_hit, QKeySequence("H"),
                  "A sound event at the playhead with the Event tool's decay, intensity and bands", name="mark_hit")
        self._act(e, "Nudge Events Left One Frame", lambda: self.nudge_events(-1), QKeySequence(","),
                  "Move the events in the selection (or the last marked hit) one video frame earlier")
        self._act(e, "Nudge Events Right One Frame", lambda: self.nudge_events(1), QKeySequence("."),
                  "Move the events in the selection (or the last marked hit) one video frame later")
        self._act(e, "Mark &In (selection start)", self.mark_in, QKeySequence("I"))
        self._act(e, "Mark &Out (selection end)", self.mark_out, QKeySequence("O"))
        self._act(e, "Select &All", lambda: self.doc.timeline.set_selection((0, self.doc.duration)), QKeySequence.StandardKey.SelectAll)
        self._act(e, "Clear Selection", self.escape, QKeySequence("Escape"))
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
        self._act(g, "Generate &Lane", self.generate_lane, QKeySequence("Ctrl+G"), name="generate_lane")
        self._act(g, "Generate &All Lanes", self.generate_all, QKeySequence("Ctrl+Shift+G"), name="generate_all")
        self._act(g, "&Regenerate Selection", self.regenerate_selection, QKeySequence("Ctrl+Alt+G"), name="regenerate")
        self._act(g, "Predict &Layout Again", self.predict_layout)
        self._act(g, "&Cancel", self.cancel_job, QKeySequence("Ctrl+."), name="cancel")

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
        if not isinstance(spin, QAbstractSpinBox) or self._shut_down or not self.isAncestorOf(spin):
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
        self.engine.job_started.connect(lambda _i, label: self.gen_panel.job_started(label))
        self.engine.job_progress.connect(lambda _i, s, f: self.gen_panel.job_progress(s, f))
        self.engine.job_failed.connect(self._on_job_failed)
        self.engine.job_cancelled.connect(self._on_job_cancelled)
        self.engine.job_finished.connect(lambda _i, _r: self.gen_panel.job_ended("Done"))
        self.engine.engine_state.connect(self._on_engine_state)
        self.gen_panel.generate.connect(self.generate_lane)
        self.gen_panel.regenerate_region.connect(self.regenerate_selection)
        self.gen_panel.cancel.connect(self.cancel_job)
        self.lanes_panel.generate_lane.connect(self.generate_lane)
        self.lanes_panel.generate_all.connect(self.generate_all)
        self.takes_panel.audition.connect(self.audition)
        self.takes_panel.ab.connect(self.ab_switch)
        self.library_panel.search.connect(self.search_library)
        self.library_panel.audition.connect(self.audition_sound)
        self.timeline.file_dropped.connect(self._on_timeline_drop)
        self.playback.status.connect(self._on_playback_status)
        self.viewer.frame_shown.connect(self._on_first_frame)
        self.doc.undo.cleanChanged.connect(lambda _c: self._update_title())
        self.doc.undo.indexChanged.connect(lambda _i: self._update_title())

    # --------------------------------------------------------------------------- helpers ----
    def _update_title(self) -> None:
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

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        items = self.recent.load()
        for p in items:
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _c=False, path=p: self.open_path(path))
        self.recent_menu.setEnabled(bool(items))
        self.start_page.set_recent(items)

    # ----------------------------------------------------------------------------- open ----
    def open_folder(self) -> str:
        """Where File ▸ Open starts: the open clip's folder, else the folder a clip was last
        opened from, else the most recent file's."""
        cands = []
        if self.doc.info is not None:
            cands.append(Path(self.doc.info.path).parent)
        last = prefs().value("open/folder")
        if last:
            cands.append(Path(str(last)))
        cands += [Path(p).parent for p in self.recent.load()[:1]]
        for c in cands:
            if c.is_dir():
                return str(c)
        return ""

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open clip or project", self.open_folder(), VIDEO_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        """Open a clip or a ``.v2aproj``. Bad files give a dialog naming the file."""
        path = str(path)
        if not self._maybe_keep_changes():
            return False
        try:
            if path.endswith(".v2aproj"):
                ok = self._open_project(Project.load(path))
            else:
                ok = self._open_clip(path)
        except V2AError as e:
            self.error("Cannot open file", e.message)
            return False
        if ok:
            self._fill_recent_after(path)
            s = prefs()
            s.setValue("open/folder", str(Path(path).resolve().parent))
            s.sync()
        return ok

    def _fill_recent_after(self, path: str) -> None:
        self.recent.add(path)
        self._fill_recent()

    def _probe(self, path: str):
        from engine.api import probe

        info = probe(path)
        if info.video is None:
            raise V2AError("has no video stream — V2A Studio needs a video clip", path)
        if info.video.duration <= 0:
            raise V2AError("the video has zero length", path)
        return info

    def _reset_clip_services(self) -> None:
        # A clip whose first frame is still pending must not start its services later.
        self._pending_start = None
        self._audio_future = None
        self._last_hit = None
        self.playback.stop()
        if self._predict_job is not None:
            self.engine.cancel(self._predict_job)
            self._predict_job = None
        if self.analyzer is not None:
            self.analyzer.close()
            self.analyzer = None
        if self.thumbs is not None:
            self.timeline.set_thumbnail_server(None)
            self.thumbs.close()
            self.thumbs = None

    def _open_clip(self, path: str) -> bool:
        info = self._probe(path)
        self._reset_clip_services()
        proj = Project(str(Path(path).resolve()))
        try:  # a new project starts at the steps and guidance its pack recommends
            from engine.api import sampling_defaults

            for k, v in proj.params.pack_changes(sampling_defaults(proj.params.pack)).items():
                setattr(proj.params, k, v)
        except V2AError:  # no such pack here: the built-in defaults; generating will say why
            pass
        proj.add_lane(Lane("Lane 1", self._blank_layout(proj, info.video.duration)))
        self._show_editor()
        self.doc.set_project(proj, info)
        self.doc.layout_ready = False
        self._after_load(predict=True)
        return True

    @staticmethod
    def _blank_layout(proj: Project, duration: float) -> LayoutDoc:
        """An empty layout on the grid of the project's pack (its columns/s and bands)."""
        from engine.api import layout_grid

        cps, bands = layout_grid(proj.params.pack)
        return LayoutDoc.empty(duration, bands, cps)

    def _open_project(self, proj: Project) -> bool:
        if not proj.clip_path:
            raise ProjectError("the project names no clip", proj.path)
        clip = Path(proj.clip_path)
        if not clip.is_absolute() and proj.path is not None:
            clip = proj.path.resolve().parent / clip
        if not clip.exists():
            raise V2AError(f"the project's clip is missing: {clip}", proj.path)
        info = self._probe(str(clip))
        self._reset_clip_services()
        if not proj.lanes:
            proj.add_lane(Lane("Lane 1", self._blank_layout(proj, info.video.duration)))
        self._show_editor()
        self.doc.set_project(proj, info)
        self.doc.layout_ready = True
        self._after_load()
        self.timeline.refresh_layouts()
        self.layout_shown.emit()
        return True

    def _show_editor(self) -> None:
        if self.central.currentWidget() is not self.split:
            self.central.setCurrentWidget(self.split)

    @property
    def showing_start_page(self) -> bool:
        return self.central.currentWidget() is self.start_page

    def _after_load(self, predict: bool = False) -> None:
        info = self.doc.info
        v = info.video
        # Picture first: thumbnails, motion analysis and layout prediction (which loads torch
        # in the engine thread and competes for the GIL) start once the first frame is shown.
        self._pending_start = (info.path, predict)
        if self.viewer.has_frame:
            self._start_background()
        else:  # a clip whose first frame never decodes still gets its layout
            QTimer.singleShot(3000, lambda p=info.path: self._on_first_frame(0.0) if self._pending_start and self._pending_start[0] == p else None)
        self._last_saved_index = 0
        self._autosaved_index = -1
        self._update_title()
        fps = float(v.fps)
        rot = f", rotated {v.rotation}°" if v.rotation else ""
        dw, dh = v.display_size
        self.statusBar().showMessage(
            f"Opened {Path(info.path).name}: {dw}×{dh}{rot}, {fps:.3f} fps, {v.duration:.2f} s"
            + ("" if info.audio else ", no audio"), 8000)
        self.clip_opened.emit(info.path)

    def _on_first_frame(self, _pts: float) -> None:
        if getattr(self, "_pending_start", None) is not None:
            self._start_background()

    def _start_background(self) -> None:
        pending, self._pending_start = self._pending_start, None
        if pending is None or self._shut_down or self.doc.info is None or self.doc.info.path != pending[0]:
            return
        # The filmstrip decodes what the visible range needs (its own thread and reader); the
        # analyzer only computes the motion curve.
        v = self.doc.info.video
        self.thumbs = ThumbnailServer(self.doc.info.path, self.doc.timeline.frame_duration, v.display_size)
        self.timeline.set_thumbnail_server(self.thumbs)
        analyzer = self.analyzer = ClipAnalyzer(self.doc.info.path, self.doc.duration)
        # Queued from the analyzer's thread: a result that arrives after the clip changed (or
        # the window shut down) belongs to no document.
        analyzer.motion_ready.connect(lambda t, c: self.doc.set_motion(t, c) if self.analyzer is analyzer else None)
        self._read_clip_audio()
        if pending[1]:
            self.predict_layout()

    # ----------------------------------------------------------------------- clip audio ----
    def _read_clip_audio(self) -> None:
        """The clip's own sound for the timeline's Clip audio row, decoded by the engine's media
        reader off the GUI thread at the player's rate, so *Clip audio* playback reuses it."""
        info = self.doc.info
        if info is None or not info.audio:
            return
        if self.doc.clip_audio is not None:  # already read for playback
            self.timeline.set_clip_audio(*self.doc.clip_audio)
            return
        from engine.api import read_audio

        path, sr = info.path, self.playback.player.sample_rate
        self._audio_future = (path, self._audio_pool.submit(read_audio, path, sr))
        self._audio_poll.start()

    def _poll_clip_audio(self) -> None:
        if self._audio_future is None:
            self._audio_poll.stop()
            return
        path, fut = self._audio_future
        if not fut.done():
            return
        self._audio_future = None
        self._audio_poll.stop()
        if self._shut_down or self.doc.info is None or self.doc.info.path != path:
            return  # another clip was opened meanwhile
        try:
            audio, sr = fut.result()
        except V2AError as e:
            self.timeline.set_clip_audio(None, message=f"Cannot read the clip's audio: {e.message}")
            return
        except Exception as e:  # noqa: BLE001 - a damaged track must not stop the editor
            self.timeline.set_clip_audio(None, message=f"Cannot read the clip's audio: {e}")
            return
        if self.doc.clip_audio is None:
            self.doc.clip_audio = (audio, sr)
        self.timeline.set_clip_audio(audio, sr)

    def predict_layout(self) -> None:
        if not self.doc.has_clip:
            return
        lane = self.doc.project.lanes[0]
        job = jobs.predict_layout_job(self.doc.info.path, self.doc.project.params.pack, self.doc.duration,
                                      lane.layout.columns_per_second, lane.layout.n_bands)
        clip = self.doc.info.path
        self._predict_job = self.engine.submit("Predicting layout", job, lambda r: self._on_predicted(clip, r),
                                               lambda m: self._on_predict_failed(clip, m))

    def _on_predicted(self, clip: str, result: jobs.PredictResult) -> None:
        self._predict_job = None
        if self.doc.info is None or self.doc.info.path != clip:
            return  # a different clip was opened meanwhile
        fresh = self.doc.undo.count() == 0
        for lane in self.doc.project.lanes:
            lay = lane.layout
            vals = np.asarray(result.layout.values, np.float32)
            if fresh:
                # Nothing edited yet: take the predictor's own grid (no resampling loss).
                lay.reset_grid(vals, result.layout.columns_per_second)
                continue
            if vals.shape[1] != lay.n_bands:
                vals = resample_bands(vals, lay.n_bands)
            if vals.shape[0] != lay.n_columns:
                vals = resample_columns(vals, lay.n_columns)
            untouched = np.array_equal(lay.values, lay.predicted)
            lay.set_predicted(vals, replace_values=untouched)
        self.doc.layout_ready = True
        self.timeline.refresh_layouts()
        self.statusBar().showMessage(result.source, 15000)
        self.layout_shown.emit()

    def _on_predict_failed(self, clip: str, message: str) -> None:
        self._predict_job = None
        self.doc.layout_ready = True  # the empty layout stays; the user can paint
        self.statusBar().showMessage(f"Layout prediction failed: {message} — starting from an empty layout", 15000)
        self.layout_shown.emit()

    # ----------------------------------------------------------------------- save/close ----
    def save(self) -> bool:
        if self.doc.project.path is None:
            return self.save_as()
        return self._save_to(self.doc.project.path)

    def save_as(self) -> bool:
        if not self.doc.has_clip:
            return False
        start = self.doc.project.path or Path(self.doc.project.clip_path).with_suffix(".v2aproj")
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(start), "V2A Studio project (*.v2aproj)")
        if not path:
            return False
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            out = self.doc.project.save(path)
        except (V2AError, OSError) as e:
            self.error("Cannot save project", getattr(e, "message", f"{path}: {e}"))
            return False
        self.doc.undo.setClean()
        self._fill_recent_after(str(out))
        self._update_title()
        self.statusBar().showMessage(f"Saved {out}", 5000)
        return True

    def autosave(self) -> Path | None:
        if self.autosave_slot is None or not self.doc.has_clip:
            return None
        idx = self.doc.undo.index()
        if self.doc.undo.isClean() or idx == self._autosaved_index:
            return None
        try:
            out = self.autosave_slot.save(self.doc.project)
        except (V2AError, OSError) as e:
            self.statusBar().showMessage(f"Autosave failed: {getattr(e, 'message', e)}", 8000)
            return None
        self._autosaved_index = idx
        return out

    def offer_recovery(self) -> bool:
        """After a crash: offer the newest left-over autosave. Returns True if one was opened."""
        left = AutosaveSlot.leftovers(self.autosave_slot.dir if self.autosave_slot else None)
        if not left:
            return False
        left.sort(key=lambda r: r.saved_at)
        rec = left[-1]
        name = rec.original or (Path(rec.clip).name if rec.clip else "untitled")
        ans = QMessageBox.question(
            self, "Recover project",
            f"V2A Studio did not close properly last time.\n\nRecover the autosaved work on “{name}”?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard, QMessageBox.StandardButton.Yes)
        opened = False
        if ans == QMessageBox.StandardButton.Yes:
            try:
                proj = Project.load(rec.project)
                proj.path = Path(rec.original) if rec.original else None
                opened = self._open_project(proj)
                if opened:
                    # The recovered state is unsaved work: mark the document dirty.
                    self.doc.undo.resetClean()
                    self._update_title()
                    self.statusBar().showMessage("Recovered the autosaved project — save it to keep it", 10000)
            except V2AError as e:
                self.error("Cannot recover", e.message)
        for r in left:
            remove_slot(r.project, r.note)
        return opened

    def _maybe_keep_changes(self) -> bool:
        """True when it is fine to replace the current document."""
        if not self.interactive or self.doc.undo.isClean() or not self.doc.has_clip:
            return True
        ans = QMessageBox.question(
            self, "Unsaved changes", "Save the changes to the current project first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if ans == QMessageBox.StandardButton.Save:
            return self.save()
        return ans == QMessageBox.StandardButton.Discard

    def closeEvent(self, ev) -> None:  # noqa: N802
        if not self._maybe_keep_changes():
            ev.ignore()
            return
        self.save_window_state()
        self.shutdown()
        ev.accept()

    def shutdown(self) -> None:
        self._shut_down = True
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self._reset_clip_services()
        self._audio_poll.stop()
        self._audio_pool.shutdown(wait=False, cancel_futures=True)
        self.playback.player.close()
        self.viewer.close_server()
        self.engine.shutdown()
        if self.autosave_slot is not None:
            self.autosave_slot.discard()

    # ------------------------------------------------------------------------ drag&drop ----
    def dragEnterEvent(self, ev) -> None:  # noqa: N802
        if ev.mimeData().hasUrls() and any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802
        for u in ev.mimeData().urls():
            if u.isLocalFile():
                ev.acceptProposedAction()
                path = u.toLocalFile()
                if is_sound_file(path) and self.doc.active_lane is not None:  # a recording: the lane's sound
                    self.set_lane_sound(self.doc.active_lane.id, path)
                else:
                    QTimer.singleShot(0, lambda p=path: self.open_path(p))
                return

    # --------------------------------------------------------------------- range edits ----
    def _range_patch(self, make, label: str) -> None:
        lane, sel = self.doc.active_lane, self.doc.timeline.selection
        if lane is None or sel is None:
            self.statusBar().showMessage("Select a time range first (Select tool, drag in a lane)", 4000)
            return
        p = make(lane.layout, sel)
        if p is not None:
            self.doc.undo.push(cmd.PatchCommand(lane.layout, p, label))

    def copy_range(self) -> None:
        lane, sel = self.doc.active_lane, self.doc.timeline.selection
        if lane is not None and sel is not None:
            self.doc.clipboard = lane.layout.copy_range(*sel)
            self.statusBar().showMessage(f"Copied {sel[1] - sel[0]:.2f} s of layout", 3000)

    def paste_range(self) -> None:
        lane, block = self.doc.active_lane, self.doc.clipboard
        if lane is None or block is None:
            return
        t = self.doc.snap(self.doc.timeline.playhead)
        p = lane.layout.paste(block, t)
        if p is not None:
            self.doc.undo.push(cmd.PatchCommand(lane.layout, p, "Paste layout"))
            self.doc.timeline.set_selection((t, t + block.shape[0] / lane.layout.columns_per_second))

    def delete_range(self) -> None:
        self._range_patch(lambda lay, s: lay.delete_range(*s), "Delete events")

    def reset_range(self) -> None:
        self._range_patch(lambda lay, s: lay.reset_range(*s), "Reset range to predicted")

    def nudge(self, frames: int) -> None:
        """Move the selected layout range by whole video frames (and the selection with it)."""
        sel = self.doc.timeline.selection
        dt = frames * self.doc.timeline.frame_duration
        self._range_patch(lambda lay, s: lay.move_range(s[0], s[1], dt), f"Nudge {frames:+d} frame")
        if sel is not None:
            self.doc.timeline.set_selection((sel[0] + dt, sel[1] + dt))

    def stretch(self, factor: float) -> None:
        sel = self.doc.timeline.selection
        if sel is None:
            return
        new_end = self.doc.snap(sel[0] + (sel[1] - sel[0]) * factor)
        self._range_patch(lambda lay, s: lay.stretch_range(s[0], s[1], new_end), "Stretch range")
        self.doc.timeline.set_selection((sel[0], new_end))

    def snap_events(self) -> None:
        """S: move each event in the selection onto the snap target; the status bar says how
        many moved and onto what."""
        mode = self.doc.tools.snap
        lane, sel = self.doc.active_lane, self.doc.timeline.selection
        if mode == "off":
            self.statusBar().showMessage("Snap is off — choose frames or motion peaks in the tool bar (Snap)", 5000)
            return
        if lane is None or sel is None:
            self.statusBar().showMessage("Select a time range first: S snaps the events inside it", 4000)
            return
        target = SNAP_TARGETS[mode]
        if mode == "motion" and not len(self.doc.motion_peaks):
            self.statusBar().showMessage("No motion peaks yet: the motion curve is still being computed", 5000)
            return
        lay = lane.layout
        onsets = [t for t in lay.event_times() if sel[0] - 1e-9 <= t <= sel[1] + 1e-9]
        moved = [abs(shift) / lay.columns_per_second for _t, shift in lay.snap_moves(sel[0], sel[1], self.doc.snap)]
        p = lay.snap_events(sel[0], sel[1], self.doc.snap) if moved else None
        if p is not None:
            self.doc.undo.push(cmd.PatchCommand(lane.layout, p, f"Snap events to {target}"))
        if not onsets:
            msg = "No events in the selection to snap"
        elif not moved:
            msg = f"All {len(onsets)} event{'s' if len(onsets) != 1 else ''} in the selection already on {target}"
        else:
            msg = (f"Snapped {len(moved)} of {len(onsets)} event{'s' if len(onsets) != 1 else ''} to {target} "
                   f"(largest move {1000 * max(moved):.0f} ms)")
        self.statusBar().showMessage(msg, 6000)

    # -------------------------------------------------------------------- hits & marks ----
    def mark_hit(self) -> None:
        """H: a sound event at the playhead with the Event tool's decay, intensity and band
        height (centred on the lane), as one undo step — spot hits while stepping frames."""
        lane = self.doc.active_lane
        if lane is None or not self.doc.has_clip:
            return
        lay, tools = lane.layout, self.doc.tools
        t = self.doc.timeline.playhead
        half = max(0.0, tools.brush_bands / 2 - 0.5)
        mid = lay.n_bands / 2
        lo, hi = max(0, int(np.floor(mid - half))), min(lay.n_bands - 1, int(np.floor(mid + half)))
        lay.begin_stroke()
        lay.stamp_event(t, tools.decay, lo, hi, min(1.0, tools.intensity))
        p = lay.end_stroke()
        if p is not None:
            self.doc.undo.push(cmd.PatchCommand(lay, p, "Mark hit", applied=True))
        self._last_hit = (lane.id, t)
        self.statusBar().showMessage(f"Hit at {self.doc.timeline.timecode(t)} on {lane.name} "
                                     "(, and . nudge it by a frame)", 4000)

    def nudge_events(self, frames: int) -> None:
        """, / .: move the events in the selection — or else the last marked hit — by whole
        video frames, one undo step each."""
        lane, sel = self.doc.active_lane, self.doc.timeline.selection
        if lane is None:
            return
        lay = lane.layout
        dt = frames * self.doc.timeline.frame_duration
        onsets = lay.event_times()
        if sel is not None and any(sel[0] - 1e-9 <= t <= sel[1] + 1e-9 for t in onsets):
            rng, what = sel, "events in the selection"
        elif self._last_hit is not None and self._last_hit[0] == lane.id and onsets:
            # The hit's onset sits at the start of the column holding its time.
            t_hit = self._last_hit[1]
            near = min(onsets, key=lambda t: abs(t - t_hit))
            if abs(near - t_hit) > 1.5 / lay.columns_per_second:
                self.statusBar().showMessage("The last marked hit is gone — select the events to nudge", 4000)
                return
            rng, what = (near, near), "the last hit"
        else:
            self.statusBar().showMessage("Select events (or mark a hit with H) to nudge them", 4000)
            return
        p = lay.nudge_events(rng[0], rng[1], dt)
        if p is None:
            return
        self.doc.undo.push(cmd.PatchCommand(lay, p, f"Nudge {'hit' if rng[0] == rng[1] else 'events'} {frames:+d} frame"))
        if rng is sel:
            self.doc.timeline.set_selection((sel[0] + dt, sel[1] + dt))
        else:
            self._last_hit = (lane.id, self._last_hit[1] + dt)
        self.statusBar().showMessage(f"Nudged {what} {frames:+d} frame ({1000 * dt:+.0f} ms)", 3000)

    def mark_in(self) -> None:
        """I: the selection starts at the playhead (it keeps its end when that is later)."""
        tl = self.doc.timeline
        t = tl.playhead
        end = tl.selection[1] if tl.selection is not None and tl.selection[1] > t else tl.duration
        tl.set_selection((t, end))

    def mark_out(self) -> None:
        """O: the selection ends at the playhead (it keeps its start when that is earlier)."""
        tl = self.doc.timeline
        t = tl.playhead
        start = tl.selection[0] if tl.selection is not None and tl.selection[0] < t else 0.0
        tl.set_selection((start, t))

    def escape(self) -> None:
        self.doc.timeline.set_selection(None)

    def import_reference(self) -> None:
        if self.doc.active_lane is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Reference recording", "", "Audio or video (*.wav *.flac *.mp3 *.ogg *.m4a *.mp4 *.mov *.mkv);;All files (*)")
        if path:
            self.import_reference_from(path)

    def import_reference_from(self, path: str) -> None:
        """Dubbing workflow: the recording's layout lands at the playhead, as one undo step."""
        lane = self.doc.active_lane
        if lane is None:
            return
        t = self.doc.snap(self.doc.timeline.playhead)
        lane_id = lane.id

        def done(block: np.ndarray) -> None:
            try:
                ln = self.doc.project.lane(lane_id)
            except KeyError:
                return
            p = ln.layout.import_block(block, t)
            if p is not None:
                self.doc.undo.push(cmd.PatchCommand(ln.layout, p, "Import layout from recording"))
            dur = block.shape[0] / ln.layout.columns_per_second
            self.doc.timeline.set_selection((t, min(self.doc.duration, t + dur)))
            self.statusBar().showMessage(f"Imported {dur:.2f} s of layout from {Path(path).name} at {self.doc.timeline.timecode(t)}", 6000)

        self.engine.submit(f"Reading {Path(path).name}", jobs.reference_layout_job(path, lane.layout.columns_per_second, lane.layout.n_bands),
                           done, lambda m: self.error("Cannot import recording", m))

    # ----------------------------------------------------------------------- generation ----
    def _request(self, lane: Lane, region: tuple[float, float] | None) -> GenerationRequest:
        p = self.doc.project.params
        return GenerationRequest(
            video_path=self.doc.info.path,
            layout=lane.layout.to_layout(),
            prompt=lane.prompt,
            negative_prompt=lane.negative_prompt,
            guidance=p.guidance,
            layout_strength=p.layout_strength,
            layout_guidance=p.layout_guidance,
            steps=p.steps,
            seed=p.seed,
            takes=p.takes,
            engine=p.engine,
            region=region,
            reference=lane.reference or None,
        )

    def _next_seed(self) -> None:
        if not self.doc.project.params.seed_locked:
            self.doc.project.set_param("seed", random.randrange(0, 2**31 - 1))

    def generate_lane(self) -> None:
        if self.doc.active_lane is not None:
            self._generate([self.doc.active_lane], None)

    def generate_all(self) -> None:
        self._generate(list(self.doc.project.lanes), None)

    def regenerate_selection(self) -> None:
        lane, sel = self.doc.active_lane, self.doc.timeline.selection
        if lane is None or sel is None:
            self.statusBar().showMessage("Select the time range to regenerate first", 4000)
            return
        if lane.picked_take is None:
            self.statusBar().showMessage("Pick a take first: the selection is regenerated inside it", 5000)
            return
        self._generate([lane], sel)

    def _generate(self, lanes: list[Lane], region: tuple[float, float] | None) -> None:
        if not self.doc.has_clip or not lanes:
            return
        if self.engine.busy:
            self.statusBar().showMessage("The engine is busy — wait or cancel first", 4000)
            return
        self._next_seed()
        items = [(ln.id, ln.name, self._request(ln, region)) for ln in lanes]
        bases = {ln.id: ln.picked_take for ln in lanes if region is not None and ln.picked_take is not None}
        label = "Generating " + (lanes[0].name if len(lanes) == 1 else f"{len(lanes)} lanes") + (" (selection)" if region else "")
        self.engine.submit(label, jobs.generate_job(items, self.doc.project.params.pack, bases),
                           lambda res: self._on_generated(res, region), None)

    def _on_generated(self, result: jobs.GeneratedTakes, region: tuple[float, float] | None) -> None:
        n = 0
        names = {ln.id: ln.name for ln in self.doc.project.lanes}
        self.doc.take_display.update(result.display)
        macro = len(result.takes) > 1
        if macro:
            self.doc.undo.beginMacro("Generate all lanes")
        try:
            for lane_id, recs in result.takes.items():
                try:
                    lane = self.doc.project.lane(lane_id)
                except KeyError:
                    continue  # the lane was deleted while the engine worked
                text = f"Regenerate {region[0]:.2f}–{region[1]:.2f} s" if region else f"Generate {lane.name}"
                self.doc.undo.push(cmd.AddTakesCommand(lane, recs, text))
                n += len(recs)
        finally:
            if macro:
                self.doc.undo.endMacro()
        self.gen_panel.job_ended(f"{n} new take{'s' if n != 1 else ''}")
        # Library takes say why they sound as they do ("prompt names footstep", …).
        notes = [f"{names[lid]}: {recs[0].meta['notice']}" for lid, recs in result.takes.items()
                 if recs and recs[0].meta.get("notice") and lid in names]
        seeds = sorted({r.seed for recs in result.takes.values() for r in recs})
        seed_note = f" (seed {seeds[0]}{f'–{seeds[-1]}' if len(seeds) > 1 else ''})" if seeds else ""
        self.statusBar().showMessage(f"Generated {n} take{'s' if n != 1 else ''}{seed_note}"
                                     + (" — " + "; ".join(notes) if notes else ""), 6000 if not notes else 15000)
        self.takes_added.emit(n)

    def cancel_job(self) -> None:
        if self.engine.busy:
            self.engine.cancel()
            self.gen_panel.stage.setText("Cancelling…")

    def _on_job_failed(self, job: int, message: str) -> None:
        self.gen_panel.job_ended("Failed")
        self.job_failed.emit(message)
        if job in self._quiet_jobs:
            self._quiet_jobs.discard(job)
            return
        self.error("Engine", message)

    # ------------------------------------------------------------------- sound library ----
    def search_library(self, query: str) -> int:
        """Run a library search in the engine; the Sounds panel shows the rows, or the
        engine's one line (which lists the classes) when nothing matches."""
        panel = self.library_panel

        def done(rows: list[dict]) -> None:
            self._quiet_jobs.discard(job)
            panel.show_results(query, rows)

        job = self.engine.submit(f"Searching sounds for “{query}”", jobs.library_search_job(query, 20), done,
                                 panel.show_message)
        self._quiet_jobs.add(job)
        return job

    def audition_sound(self, row: dict) -> None:
        """Play a library recording on its own (read here: numpy + soundfile, no engine job)."""
        try:
            audio, sr = read_sound(row["path"], float(row.get("start", 0.0)), float(row.get("duration", 0.0)))
        except V2AError as e:
            self.statusBar().showMessage(f"Cannot play this recording: {e.message}", 8000)
            return
        self.playback.audition_sound(audio, sr)
        self.statusBar().showMessage(f"Auditioning {Path(row['path']).name} ({row.get('class', '')}, "
                                     f"{len(audio) / sr:.1f} s, {row.get('license', '')})", 6000)

    def set_lane_sound(self, lane_id: str, path: str) -> bool:
        """A recording becomes a lane's sound (drop on the lane): one undo step, or a message
        saying why the file cannot be one."""
        try:
            lane = self.doc.project.lane(lane_id)
        except KeyError:
            return False
        problem = sound_problem(path)
        if problem is not None:
            self.statusBar().showMessage(problem, 10000)
            return False
        if lane.reference != path:
            self.doc.undo.push(cmd.lane_reference(lane, path, f"Set sound of {lane.name}"))
        self.statusBar().showMessage(f"{lane.name}'s sound is now {Path(path).name} (Library engine)", 6000)
        return True

    def _on_timeline_drop(self, path: str, lane_id: str) -> None:
        """A file dropped on the timeline: a recording on a lane becomes its sound; a clip or
        project opens as anywhere else in the window; anything else on a lane is explained."""
        if lane_id and (is_sound_file(path) or not _opens_as_clip(path)):
            self.set_lane_sound(lane_id, path)
            return
        if is_sound_file(path) and self.doc.active_lane is not None:
            self.set_lane_sound(self.doc.active_lane.id, path)
            return
        QTimer.singleShot(0, lambda: self.open_path(path))

    def _on_engine_state(self, state: str, message: str) -> None:
        """Worker process start-up / loss. "Engine ready" never hides a message the editor
        has not read yet (recovery, first-run notes): it only replaces "Loading engine…"."""
        current = self.statusBar().currentMessage()
        if state == "error":
            self.statusBar().showMessage(message, 15000)
        elif state == "loading" and not current:
            self.statusBar().showMessage(message)
        elif state == "ready" and current in ("", "Loading engine…"):
            self.statusBar().showMessage(message, 8000)

    def _on_job_cancelled(self, _job: int) -> None:
        self.gen_panel.job_ended("Cancelled")
        self.statusBar().showMessage("Cancelled", 4000)
        self.job_cancelled.emit()

    # ---------------------------------------------------------------------------- takes ----
    def audition(self, index: int) -> None:
        lane = self.doc.active_lane
        if lane is None or not (0 <= index < len(lane.takes)):
            return
        if index != lane.picked:
            self.doc.undo.push(cmd.PickTakeCommand(lane, index))
        sel = self.doc.timeline.selection
        self.playback.stop()
        if sel is not None:
            self.doc.timeline.seek(sel[0])
        self.playback.play(1.0)

    def ab_switch(self) -> None:
        lane = self.doc.active_lane
        if lane is None or lane.previous_pick is None or lane.picked is None:
            return
        was_playing = self.playback.speed == 1.0
        t = self.doc.timeline.playhead
        self.doc.undo.push(cmd.PickTakeCommand(lane, lane.previous_pick))
        if was_playing:  # keep playing from the same instant so the comparison is fair
            self.playback.stop()
            self.doc.timeline.seek(t)
            self.playback.play(1.0)
        self.statusBar().showMessage(f"Now playing take #{lane.picked + 1}", 2500)

    # --------------------------------------------------------------------------- export ----
    def _export_credits(self) -> list[tuple[str, list[str]]]:
        """Per audible lane whose picked take uses library recordings: (lane name, credit lines)."""
        return [(ln.name, list(ln.picked_take.meta["credits"])) for ln in mixmod.audible(self.doc.project.lanes)
                if ln.picked_take is not None and ln.picked_take.meta.get("credits")]

    def export_dialog(self) -> None:
        if not self.doc.has_clip:
            return
        dlg = ExportDialog(self.doc.info.path, self, credits=bool(self._export_credits()))
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.export(dlg.spec())

    def export(self, spec: jobs.ExportSpec) -> int | None:
        if not any(ln.picked_take is not None for ln in mixmod.audible(self.doc.project.lanes)):
            self.error("Nothing to export", "No audible lane has a picked take yet — generate first.")
            return None
        # A snapshot of what is audible now; mixing and resampling happen in the engine thread.
        sources = [(ln.name, ln.picked_take.audio, ln.picked_take.sample_rate, ln.gain_db)
                   for ln in mixmod.audible(self.doc.project.lanes) if ln.picked_take is not None]

        def done(paths: list[str]) -> None:
            self.statusBar().showMessage("Exported " + ", ".join(Path(p).name for p in paths), 10000)
            self.gen_panel.job_ended(f"Exported {Path(paths[0]).name}")
            self.export_done.emit(paths)

        job = jobs.export_job(spec, sources, self.doc.duration, self._export_credits())
        return self.engine.submit(f"Exporting {Path(spec.out).name}", job, done, None)


def _opens_as_clip(path: str) -> bool:
    """A file the window opens when dropped (a video or a project), by its extension."""
    exts = {e.lstrip("*") for e in VIDEO_FILTER.split("(")[1].split(")")[0].split()}
    return Path(path).suffix.lower() in exts


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
