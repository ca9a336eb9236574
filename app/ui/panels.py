"""Side panels: lanes (prompt, negative, sound, gain, mute/solo), the sound library search,
generation settings + job progress, takes list (the layout tool bar is ``app.ui.toolbar``). Each edits the document through undo commands
and refreshes itself from the document's signals."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.model.eta import JobEta
from app.services.sounds import sound_problem
from app.ui import commands as cmd
from app.ui.document import StudioDocument

SOUND_FILTER = "Audio (*.wav *.flac *.ogg *.oga *.mp3 *.aif *.aiff);;All files (*)"
AUTO_TIP = ("Per lane when generating: a lane with a prompt or a Sound gets the Library engine (real "
            "recordings), any other lane Diffusion. Each take names the engine that made it")
NOT_FOR_LIBRARY = "Not used by the Library engine: it places real recordings on the layout, nothing is sampled"


def _spin(lo: int, hi: int, val: int) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(val)
    s.setKeyboardTracking(False)
    return s


def _dspin(lo: float, hi: float, val: float, step: float, dec: int = 2, suffix: str = "",
           tip: str = "") -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setRange(lo, hi)
    s.setDecimals(dec)
    s.setSingleStep(step)
    s.setValue(val)
    s.setKeyboardTracking(False)
    if suffix:
        s.setSuffix(suffix)
    if tip:
        s.setToolTip(tip)
    return s


class LanesPanel(QWidget):
    generate_lane = Signal()
    generate_all = Signal()

    def __init__(self, doc: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self._loading = False
        v = QVBoxLayout(self)
        v.setContentsMargins(8, 8, 8, 8)
        self.list = QListWidget()
        self.list.setObjectName("LaneList")
        self.list.setToolTip("The lanes: one sound source each ([M] muted, [S] solo). Click one to edit its "
                             "layout and settings")
        self.list.currentRowChanged.connect(self._on_row)
        v.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.add_btn = QPushButton("+ Lane")
        self.add_btn.setToolTip("Add a lane for another sound source (its own layout, prompt and takes)")
        self.add_btn.clicked.connect(self._add)
        self.del_btn = QPushButton("− Lane")
        self.del_btn.setToolTip("Remove the active lane (undoable; the last lane stays)")
        self.del_btn.clicked.connect(self._delete)
        row.addWidget(self.add_btn)
        row.addWidget(self.del_btn)
        v.addLayout(row)
        box = QGroupBox("Lane")
        f = QFormLayout(box)
        self.name = QLineEdit()
        self.name.setToolTip("The lane's name (timeline, Takes panel, stems and credits)")
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("e.g. footsteps on gravel")
        self.prompt.setToolTip("What this lane should sound like, in words")
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("e.g. music, speech")
        self.negative.setToolTip("What this lane should not sound like (negative prompt)")
        self.gain = _dspin(-60, 12, 0, 0.5, 1, " dB", "The lane's level in the mix and the export")
        # The lane's sound for the library engine: a file or a library recording ("Use" in
        # the Sounds panel, or dropped on the lane).
        self.sound = QLineEdit()
        self.sound.setReadOnly(True)
        self.sound.setPlaceholderText("from the prompt")
        self.sound.setToolTip("The recording the Library engine places on this lane's layout "
                              "(choose a file, Use one from the Sounds panel, or drop one on the lane)")
        self.sound_pick = QToolButton()
        self.sound_pick.setText("…")
        self.sound_pick.setToolTip("Choose a recording (WAV, FLAC, OGG, MP3) as this lane's sound")
        self.sound_pick.clicked.connect(self._choose_sound)
        self.sound_clear = QToolButton()
        self.sound_clear.setText("✕")
        self.sound_clear.setToolTip("No sound: the Library engine chooses from the prompt")
        self.sound_clear.clicked.connect(lambda: self._set_sound(None, "Clear lane sound"))
        self.sound_note = QLabel("")
        self.sound_note.setObjectName("Dim")
        self.sound_note.setWordWrap(True)
        self.sound_note.hide()
        sound_row = QHBoxLayout()
        sound_row.addWidget(self.sound, 1)
        sound_row.addWidget(self.sound_pick)
        sound_row.addWidget(self.sound_clear)
        ms = QHBoxLayout()
        self.mute = QCheckBox("Mute")
        self.mute.setToolTip("Leave this lane out of playback and the export")
        self.solo = QCheckBox("Solo")
        self.solo.setToolTip("Hear only the soloed lanes")
        ms.addWidget(self.mute)
        ms.addWidget(self.solo)
        ms.addStretch(1)
        f.addRow("Name", self.name)
        f.addRow("Prompt", self.prompt)
        f.addRow("Negative", self.negative)
        f.addRow("Sound", sound_row)
        f.addRow("", self.sound_note)
        f.addRow("Gain", self.gain)
        f.addRow("", ms)
        v.addWidget(box)
        g = QHBoxLayout()
        self.gen_one = QPushButton("Generate lane")
        self.gen_one.setObjectName("Accent")
        self.gen_one.clicked.connect(self.generate_lane.emit)
        self.gen_all = QPushButton("Generate all")
        self.gen_all.clicked.connect(self.generate_all.emit)
        g.addWidget(self.gen_one)
        g.addWidget(self.gen_all)
        v.addLayout(g)
        self.name.editingFinished.connect(lambda: self._set("name", self.name.text().strip() or "Lane", "Rename lane"))
        self.prompt.editingFinished.connect(lambda: self._set("prompt", self.prompt.text(), "Edit prompt"))
        self.negative.editingFinished.connect(lambda: self._set("negative_prompt", self.negative.text(), "Edit negative prompt"))
        self.gain.valueChanged.connect(lambda x: self._set("gain_db", float(x), "Lane gain"))
        self.mute.toggled.connect(lambda x: self._set("mute", bool(x), "Mute lane"))
        self.solo.toggled.connect(lambda x: self._set("solo", bool(x), "Solo lane"))
        doc.lanes_changed.connect(self.refresh)
        doc.lane_changed.connect(lambda _i, _w: self.refresh())
        doc.active_lane_changed.connect(lambda _i: self.refresh())
        self.refresh()

    def _set(self, name: str, value, label: str) -> None:
        lane = self.doc.active_lane
        if self._loading or lane is None or getattr(lane, name) == value:
            return
        self.doc.undo.push(cmd.lane_attr(lane, name, value, label))

    def _set_sound(self, path: str | None, label: str) -> None:
        lane = self.doc.active_lane
        if lane is not None and lane.reference != path:
            self.doc.undo.push(cmd.lane_reference(lane, path, label))

    def _choose_sound(self) -> None:
        if self.doc.active_lane is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Lane sound", "", SOUND_FILTER)
        if not path:
            return
        problem = sound_problem(path)
        self.sound_note.setText(problem or "")
        self.sound_note.setVisible(bool(problem))
        if problem is None:
            self._set_sound(path, "Set lane sound")

    def _on_row(self, row: int) -> None:
        if not self._loading and row >= 0:
            self.doc.set_active_lane(row)

    def _add(self) -> None:
        if not self.doc.has_clip:
            return
        from app.model.project import Lane

        n = len(self.doc.project.lanes) + 1
        self.doc.undo.push(cmd.AddLaneCommand(self.doc.project, Lane(f"Lane {n}", self.doc.new_lane_layout())))

    def _delete(self) -> None:
        if len(self.doc.project.lanes) > 1:
            self.doc.undo.push(cmd.RemoveLaneCommand(self.doc.project, self.doc.project.active_lane))

    def refresh(self) -> None:
        self._loading = True
        try:
            lanes = self.doc.project.lanes
            self.list.clear()
            for ln in lanes:
                flags = ("  [M]" if ln.mute else "") + ("  [S]" if ln.solo else "")
                take = f"  ·  {len(ln.takes)} take{'s' if len(ln.takes) != 1 else ''}" if ln.takes else ""
                self.list.addItem(QListWidgetItem(f"{ln.name}{flags}{take}"))
            lane = self.doc.active_lane
            has = lane is not None
            for w in (self.name, self.prompt, self.negative, self.gain, self.mute, self.solo, self.gen_one, self.gen_all,
                      self.del_btn, self.sound, self.sound_pick):
                w.setEnabled(has)
            self.add_btn.setEnabled(self.doc.has_clip)
            if lane is not None:
                self.list.setCurrentRow(self.doc.project.active_lane)
                self.name.setText(lane.name)
                self.prompt.setText(lane.prompt)
                self.negative.setText(lane.negative_prompt)
                ref = lane.reference
                self.sound.setText(Path(ref).name if ref else "")
                self.sound.setToolTip(ref or self.sound.placeholderText())
                self.sound.setCursorPosition(0)
                self.sound_note.hide()
                self.gain.setValue(lane.gain_db)
                self.mute.setChecked(lane.mute)
                self.solo.setChecked(lane.solo)
            self.sound_clear.setEnabled(has and lane.reference is not None)
        finally:
            self._loading = False


class LibraryPanel(QWidget):
    """Search the sound library and choose a lane's sound. The search runs as an engine job
    (the main window submits it on ``search`` and hands back ``show_results`` / ``show_message``);
    *Use* sets the active lane's sound as one undo step."""

    search = Signal(str)
    audition = Signal(dict)  # a result row (path, start, duration, …)

    COLUMNS = ("Class", "Length", "Source", "License")

    def __init__(self, doc: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.rows: list[dict] = []
        v = QVBoxLayout(self)
        v.setContentsMargins(8, 8, 8, 8)
        self.query = QLineEdit()
        self.query.setPlaceholderText("Search real recordings, e.g. footsteps — Enter")
        self.query.setClearButtonEnabled(True)
        self.query.setToolTip("Search the sound library by what you hear (e.g. footsteps, door, rain); Enter searches")
        self.query.returnPressed.connect(self._search)
        v.addWidget(self.query)
        self.message = QLabel("")
        self.message.setObjectName("Dim")
        self.message.setWordWrap(True)
        v.addWidget(self.message)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("SoundResults")
        self.table.setToolTip("Recordings found, best match first; double-click to audition")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(60)
        self.table.verticalHeader().setDefaultSectionSize(22)  # more results in a short dock
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for col in (2, 3):  # source and license share what class and length leave
            hh.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _it: self._audition())
        v.addWidget(self.table, 1)
        r = QHBoxLayout()
        self.play = QPushButton("Audition")
        self.play.setToolTip("Play the selected recording")
        self.play.clicked.connect(self._audition)
        self.use = QPushButton("Use")
        self.use.setToolTip("Make the selected recording the active lane's sound (Library engine)")
        self.use.clicked.connect(self._use)
        r.addWidget(self.play)
        r.addWidget(self.use)
        v.addLayout(r)
        doc.clip_changed.connect(self._update_buttons)
        doc.active_lane_changed.connect(lambda _i: self._update_buttons())
        self._update_buttons()

    def _search(self) -> None:
        q = self.query.text().strip()
        if q:
            self.message.setText(f"Searching for “{q}”…")
            self.search.emit(q)

    @property
    def selected(self) -> dict | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def show_results(self, query: str, rows: list[dict]) -> None:
        self.rows = list(rows)
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            cells = (f"{r['class']}/{r['subclass']}" if r.get("subclass") else r["class"], f"{r['duration']:.1f} s",
                     r["source"], r["license"])
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{Path(r['path']).name} — {r['source']}, {r['license']}, {r['sample_rate']} Hz")
                self.table.setItem(i, j, item)
        if self.rows:
            self.table.selectRow(0)
        self.message.setText(f"{len(self.rows)} recording{'s' if len(self.rows) != 1 else ''} for “{query}”")
        self._update_buttons()

    def show_message(self, text: str) -> None:
        """A search that found nothing: the engine's one line (it lists the library's classes)."""
        self.rows = []
        self.table.setRowCount(0)
        self.message.setText(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        sel = self.selected is not None
        self.play.setEnabled(sel)
        self.use.setEnabled(sel and self.doc.active_lane is not None and self.doc.has_clip)

    def _audition(self) -> None:
        row = self.selected
        if row is not None:
            self.audition.emit(row)

    def _use(self) -> None:
        row, lane = self.selected, self.doc.active_lane
        if row is None or lane is None or lane.reference == row["path"]:
            return
        self.doc.undo.push(cmd.lane_reference(lane, row["path"], f"Use sound {row['class']}"))


class GenerationPanel(QWidget):
    generate = Signal()
    regenerate_region = Signal()
    cancel = Signal()

    def __init__(self, doc: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self._loading = False
        v = QVBoxLayout(self)
        v.setContentsMargins(8, 8, 8, 8)
        box = QGroupBox("Generation")
        f = QFormLayout(box)
        self.pack = QComboBox()
        self.pack.setToolTip("The model pack that predicts layouts and generates sound (its recommended steps "
                             "and guidance come with it)")
        self.engine = QComboBox()
        self.engine.setToolTip("How sound is made: Auto (per lane), diffusion, autoregressive, or real recordings "
                               "from the library")
        self.engine.addItem("Auto (per lane)", "auto")
        self.engine.addItem("Diffusion (TiVA)", "diffusion")
        self.engine.addItem("Autoregressive (V-AURA)", "ar")
        self.engine.addItem("Library (real recordings)", "library")
        self.engine.setItemData(0, AUTO_TIP, Qt.ItemDataRole.ToolTipRole)
        self.engine.setItemData(3, "Real recordings from the sound library placed on each lane's layout "
                                   "(the lane's Sound, else its prompt)", Qt.ItemDataRole.ToolTipRole)
        self.steps = _spin(1, 200, 25)
        self.guidance = _dspin(0, 20, 5, 0.5, 1)
        self.strength = _dspin(0, 2, 1, 0.05, 2)
        self.layout_guidance = _dspin(0, 5, 1, 0.25, 2)
        self.layout_guidance.setToolTip("How hard the sound is pushed toward the layout's timing (0 = off; "
                                        "one more network pass on the first half of the steps). Diffusion only")
        self.steps.setToolTip("Denoising steps (diffusion only)")
        self.strength.setToolTip("Share of the denoising steps that follow the layout (diffusion only)")
        self.guidance.setToolTip("How strongly the sound follows the picture and prompt (classifier-free guidance)")
        # The tool tips above, restored when another engine than the library is chosen.
        self._tips = {w: w.toolTip() for w in (self.steps, self.guidance, self.strength, self.layout_guidance)}
        self.seed = _spin(0, 2**31 - 1, 0)
        self.seed.setToolTip("Random seed of the next run (takes use seed, seed+1, …); after a run with Lock off it "
                             "shows the seed that run drew")
        self.lock = QCheckBox("Lock")
        self.lock.setToolTip("Keep this seed for the next generation (otherwise a new one is drawn)")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.lock)
        self.takes = _spin(1, 8, 2)
        self.takes.setToolTip("How many takes each run adds per lane")
        f.addRow("Pack", self.pack)
        f.addRow("Engine", self.engine)
        f.addRow("Steps", self.steps)
        f.addRow("Guidance", self.guidance)
        f.addRow("Layout strength", self.strength)
        f.addRow("Layout guidance", self.layout_guidance)
        f.addRow("Seed", seed_row)
        f.addRow("Takes", self.takes)
        v.addWidget(box)
        self.regen = QPushButton("Regenerate selection")
        self.regen.setToolTip("Replace only the selected time range of the picked take")
        self.regen.clicked.connect(self.regenerate_region.emit)
        v.addWidget(self.regen)
        job = QGroupBox("Engine")
        j = QVBoxLayout(job)
        self.stage = QLabel("Idle")
        self.stage.setObjectName("Dim")
        self.stage.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.eta = QLabel("")
        self.eta.setObjectName("Dim")
        self.eta.setToolTip("Time for the whole job (every stage, take and lane), from its progress so far")
        # Whole-job estimate (app.model.eta); the label ticks once a second so "elapsed"
        # keeps moving through long stages that report rarely.
        self.job_eta = JobEta()
        self.clock = time.monotonic  # replaceable in tests
        self._eta_timer = QTimer(self)
        self._eta_timer.setInterval(1000)
        self._eta_timer.timeout.connect(self._show_eta)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop the running engine job (Ctrl+.)")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel.emit)
        j.addWidget(self.stage)
        j.addWidget(self.progress)
        r = QHBoxLayout()
        r.addWidget(self.eta, 1)
        r.addWidget(self.cancel_btn)
        j.addLayout(r)
        v.addWidget(job)
        v.addStretch(1)
        self.pack.currentIndexChanged.connect(lambda _i: self._pick_pack(self.pack.currentData() or "starter"))
        self.engine.currentIndexChanged.connect(lambda _i: self._set("engine", self.engine.currentData(), "Engine"))
        self.steps.valueChanged.connect(lambda x: self._set("steps", int(x), "Steps"))
        self.guidance.valueChanged.connect(lambda x: self._set("guidance", float(x), "Guidance"))
        self.strength.valueChanged.connect(lambda x: self._set("layout_strength", float(x), "Layout strength"))
        self.layout_guidance.valueChanged.connect(lambda x: self._set("layout_guidance", float(x), "Layout guidance"))
        self.seed.valueChanged.connect(lambda x: self._set("seed", int(x), "Seed"))
        self.lock.toggled.connect(lambda x: self._set("seed_locked", bool(x), "Lock seed"))
        self.takes.valueChanged.connect(lambda x: self._set("takes", int(x), "Takes"))
        doc.params_changed.connect(lambda _n: self.refresh())
        doc.clip_changed.connect(self.refresh)
        doc.timeline.selection_changed.connect(lambda s: self.regen.setEnabled(s is not None))
        self.regen.setEnabled(False)
        self._fill_packs()
        self.refresh()

    def _fill_packs(self) -> None:
        self._loading = True
        try:
            self.pack.clear()
            try:
                from engine.api import list_packs

                packs = list_packs()
            except Exception:  # noqa: BLE001 - listing must never stop the window
                packs = []
            for p in packs:
                self.pack.addItem(f"{p.name}  ({p.root_kind})", p.name)
            if not packs:
                self.pack.addItem("starter (not installed)", "starter")
        finally:
            self._loading = False

    def _pick_pack(self, name: str) -> None:
        """Choose a pack and take up the steps and guidance it recommends, as one undo step."""
        params = self.doc.project.params
        if self._loading or params.pack == name:
            return
        try:
            from engine.api import sampling_defaults

            changes = params.pack_changes(sampling_defaults(name))
        except Exception:  # noqa: BLE001 - a pack that cannot be read keeps the current settings
            changes = {}
        self.doc.undo.beginMacro(f"Pack “{name}”")
        try:
            self.doc.undo.push(cmd.param_attr(self.doc.project, "pack", name, "Pack"))
            for k, v in changes.items():
                self.doc.undo.push(cmd.param_attr(self.doc.project, k, v, k))
        finally:
            self.doc.undo.endMacro()

    def _set(self, name: str, value, label: str) -> None:
        if self._loading or getattr(self.doc.project.params, name) == value:
            return
        self.doc.undo.push(cmd.param_attr(self.doc.project, name, value, label))

    def refresh(self) -> None:
        self._loading = True
        try:
            p = self.doc.project.params
            i = self.pack.findData(p.pack)
            if i < 0:
                self.pack.addItem(f"{p.pack} (not installed)", p.pack)
                i = self.pack.count() - 1
            self.pack.setCurrentIndex(i)
            self.engine.setCurrentIndex(max(0, self.engine.findData(p.engine)))
            self.steps.setValue(p.steps)
            self.guidance.setValue(p.guidance)
            self.strength.setValue(p.layout_strength)
            self.layout_guidance.setValue(p.layout_guidance)
            # The AR engine samples tokens with one CFG scale and the library engine samples
            # nothing: the controls they ignore are disabled, and their tool tip says why.
            # Auto may run diffusion on some lanes: everything stays on.
            library = p.engine == "library"
            for w in (self.steps, self.strength, self.layout_guidance):
                w.setEnabled(p.engine in ("diffusion", "auto"))
            self.guidance.setEnabled(not library)
            for w, tip in self._tips.items():
                w.setToolTip(NOT_FOR_LIBRARY if library else tip)
            self.seed.setValue(p.seed)
            self.lock.setChecked(p.seed_locked)
            self.takes.setValue(p.takes)
        finally:
            self._loading = False

    # -- job strip ------------------------------------------------------------------------------
    def job_started(self, label: str) -> None:
        self.stage.setText(label)
        self.progress.setRange(0, 0)  # busy until the first progress report
        self.cancel_btn.setEnabled(True)
        self.job_eta.start(self.clock())
        self._eta_timer.start()
        self._show_eta()

    def job_progress(self, stage: str, fraction: float) -> None:
        """One engine progress report; the strip shows the whole job, estimated from every
        report so far."""
        self.job_eta.update(stage, fraction, self.clock())
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(self.job_eta.fraction * 1000))
        self.stage.setText(stage)
        self._show_eta()

    def _show_eta(self) -> None:
        self.eta.setText(self.job_eta.text(self.clock()))

    def job_ended(self, text: str) -> None:
        self.job_eta.reset()
        self._eta_timer.stop()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.stage.setText(text)
        self.eta.setText("")
        self.cancel_btn.setEnabled(False)


class TakesPanel(QWidget):
    audition = Signal(int)
    ab = Signal()

    def __init__(self, doc: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        v = QVBoxLayout(self)
        v.setContentsMargins(8, 8, 8, 8)
        self.title = QLabel("Takes")
        self.title.setObjectName("Heading")
        v.addWidget(self.title)
        self.list = QListWidget()
        self.list.setObjectName("TakeList")
        self.list.setToolTip("The active lane's takes: ● picked (heard), ◐ previous pick; double-click picks")
        self.list.itemDoubleClicked.connect(lambda _it: self._pick())
        v.addWidget(self.list, 1)
        # Why a library take sounds as it does (meta "notice") and how many recordings it credits.
        self.note = QLabel("")
        self.note.setObjectName("Dim")
        self.note.setWordWrap(True)
        self.note.hide()
        v.addWidget(self.note)
        r = QHBoxLayout()
        self.play = QPushButton("Audition")
        self.play.setToolTip("Pick this take and play from the selection start or the playhead")
        self.play.clicked.connect(lambda: self.audition.emit(self.list.currentRow()))
        self.ab_btn = QPushButton("A/B")
        self.ab_btn.setToolTip("Switch between this take and the previously picked one")
        self.ab_btn.clicked.connect(self.ab.emit)
        self.pick_btn = QPushButton("Pick")
        self.pick_btn.setToolTip("Use the selected take in the mix and the export")
        self.pick_btn.clicked.connect(self._pick)
        self.del_btn = QPushButton("Delete")
        self.del_btn.setToolTip("Delete the selected take (undoable)")
        self.del_btn.clicked.connect(self._delete)
        for b in (self.play, self.ab_btn, self.pick_btn, self.del_btn):
            r.addWidget(b)
        v.addLayout(r)
        doc.lanes_changed.connect(self.refresh)
        doc.lane_changed.connect(lambda _i, what: self.refresh() if what in ("takes", "picked", "name") else None)
        doc.active_lane_changed.connect(lambda _i: self.refresh())
        self.refresh()

    def _pick(self) -> None:
        lane = self.doc.active_lane
        row = self.list.currentRow()
        if lane is not None and 0 <= row < len(lane.takes) and row != lane.picked:
            self.doc.undo.push(cmd.PickTakeCommand(lane, row))

    def _delete(self) -> None:
        lane = self.doc.active_lane
        row = self.list.currentRow()
        if lane is not None and 0 <= row < len(lane.takes):
            self.doc.undo.push(cmd.DeleteTakeCommand(lane, row))

    def refresh(self) -> None:
        lane = self.doc.active_lane
        self.list.clear()
        take = lane.picked_take if lane is not None else None
        notice = take.meta.get("notice", "") if take is not None else ""
        n_credits = len(take.meta.get("credits", [])) if take is not None else 0
        self.note.setText(notice + (f" · {n_credits} recording{'s' if n_credits != 1 else ''} credited"
                                    if n_credits else ""))
        self.note.setVisible(bool(notice or n_credits))
        if lane is None:  # no clip open: nothing to audition, pick or delete
            self.title.setText("Takes")
            for b in (self.play, self.ab_btn, self.pick_btn, self.del_btn):
                b.setEnabled(False)
            return
        self.title.setText(f"Takes — {lane.name}")
        for i, t in enumerate(lane.takes):
            mark = "●" if i == lane.picked else ("◐" if i == lane.previous_pick else "○")
            item = QListWidgetItem(f"{mark}  #{i + 1}  {t.label}  ·  {t.duration:.2f} s")
            self.list.addItem(item)
        if lane.picked is not None:
            self.list.setCurrentRow(lane.picked)
        has = bool(lane.takes)
        for b in (self.play, self.pick_btn, self.del_btn):
            b.setEnabled(has)
        self.ab_btn.setEnabled(lane.previous_pick is not None and lane.picked is not None)


__all__ = ["GenerationPanel", "LanesPanel", "LibraryPanel", "TakesPanel", "Qt"]
