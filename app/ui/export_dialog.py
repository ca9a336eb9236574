"""Export dialog: muxed video (replace / add / mix), WAV or FLAC, stems, rate, loudness.

The options and the folder of the last export are remembered (``app.ui.prefs``) and come
back the next time the dialog opens, in this session or the next."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.services.jobs import ExportSpec
from app.ui.prefs import prefs, read_bool
from engine.api import MUX_CONTAINERS as CONTAINERS

KINDS = (("video", "Video with sound (muxed, picture copied bit-exact)"), ("wav", "WAV audio"), ("flac", "FLAC audio"))
MODES = (("replace", "Replace the original sound"), ("add", "Add as a new audio track"), ("mix", "Mix with the original sound"))
RATES = (48000, 44100, 96000, 32000, 16000)


class ExportDialog(QDialog):
    def __init__(self, source: str, parent: QWidget | None = None, credits: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.source = source
        self.setMinimumWidth(560)
        f = QFormLayout(self)
        self.kind = QComboBox()
        for k, label in KINDS:
            self.kind.addItem(label, k)
        self.kind.setToolTip("What to write: the clip with the new sound (its picture copied untouched), "
                             "or the mix alone as WAV or FLAC")
        self.mode = QComboBox()
        for k, label in MODES:
            self.mode.addItem(label, k)
        self.mode_tip = "What happens to the clip's own sound in the exported video"
        self.mode.setToolTip(self.mode_tip)
        self.rate = QComboBox()
        for r in RATES:
            self.rate.addItem(f"{r / 1000:g} kHz", r)
        self.rate.setToolTip("Sample rate of the exported sound (48 kHz is the video standard)")
        self.normalize = QCheckBox("Normalise loudness to")
        self.normalize.setToolTip("Bring the mix to the target integrated loudness (ITU-R BS.1770); "
                                  "peaks stay below −0.1 dBFS")
        self.lufs = QDoubleSpinBox()
        self.lufs.setRange(-40, -5)
        self.lufs.setValue(-23.0)
        self.lufs.setSuffix(" LUFS")
        self.lufs.setToolTip("Target loudness: −23 LUFS for broadcast (EBU R128), about −14 for the web")
        norm = QHBoxLayout()
        norm.addWidget(self.normalize)
        norm.addWidget(self.lufs)
        norm.addStretch(1)
        self.stems = QCheckBox("Also write one file per lane (stems)")
        self.stems.setToolTip("Also write name.stem-<lane>.wav/.flac for each audible lane")
        self.out = QLineEdit()
        self.out.setToolTip("The file to write; it never replaces the source clip")
        browse = QPushButton("Browse…")
        browse.setToolTip("Choose the file to export to")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.out, 1)
        row.addWidget(browse)
        self.warn = QLabel("")
        self.warn.setObjectName("Warn")
        # Takes made of library recordings owe their sources a credit: say where it goes.
        self.credits = QLabel("")
        self.credits.setObjectName("Dim")
        self.credits.setWordWrap(True)
        self.credits.setVisible(credits)
        self.mode_label = QLabel("Audio track")
        f.addRow("Export", self.kind)
        f.addRow(self.mode_label, self.mode)
        f.addRow("Sample rate", self.rate)
        f.addRow("Loudness", norm)
        f.addRow("", self.stems)
        f.addRow("Save to", row)
        f.addRow("", self.credits)
        f.addRow("", self.warn)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setToolTip("Write the file (the engine strip shows progress)")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setToolTip("Close without exporting")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        f.addRow(self.buttons)
        self.kind.currentIndexChanged.connect(self._on_kind)
        self.out.textChanged.connect(self._validate)
        self.out.textChanged.connect(self._show_credits_name)
        self._restore()
        self._on_kind()
        self.accepted.connect(self._remember)

    # -- remembered between opens ----------------------------------------------------------------
    def _restore(self) -> None:
        s = prefs()
        for combo, key in ((self.kind, "export/kind"), (self.mode, "export/mode"), (self.rate, "export/rate")):
            v = s.value(key)
            if v is not None:
                i = combo.findData(int(v) if combo is self.rate else str(v))
                if i >= 0:
                    combo.setCurrentIndex(i)
        self.normalize.setChecked(read_bool(s, "export/normalize", False))
        self.stems.setChecked(read_bool(s, "export/stems", False))
        try:
            self.lufs.setValue(float(s.value("export/lufs", -23.0)))
        except (TypeError, ValueError):
            pass
        folder = s.value("export/folder")
        self.folder = Path(str(folder)) if folder and Path(str(folder)).is_dir() else None

    def _remember(self) -> None:
        s = prefs()
        s.setValue("export/kind", self.kind.currentData())
        s.setValue("export/mode", self.mode.currentData())
        s.setValue("export/rate", int(self.rate.currentData()))
        s.setValue("export/normalize", self.normalize.isChecked())
        s.setValue("export/stems", self.stems.isChecked())
        s.setValue("export/lufs", float(self.lufs.value()))
        s.setValue("export/folder", str(Path(self.out.text().strip()).resolve().parent))
        s.sync()

    def _show_credits_name(self) -> None:
        name = Path(self.out.text().strip() or "export").stem
        self.credits.setText(f"Library recordings are used: their sources and licenses are listed in {name}.credits.txt "
                             "beside the export")

    def _default_path(self) -> str:
        src = Path(self.source)
        k = self.kind.currentData()
        suffix = src.suffix if k == "video" else f".{k}"
        if k == "video" and suffix.lower() not in (".mp4", ".mov", ".mkv", ".m4v"):
            suffix = ".mp4"
        folder = self.folder if getattr(self, "folder", None) is not None else src.parent
        return str(folder / f"{src.stem}_v2a{suffix}")

    def _on_kind(self) -> None:
        k = self.kind.currentData()
        # An audio file has no audio *track* to replace, add or mix: the choice is off.
        self.mode.setEnabled(k == "video")
        self.mode_label.setEnabled(k == "video")
        self.mode.setToolTip(self.mode_tip if k == "video" else "Only for video: a WAV or FLAC export is the mix alone")
        cur = self.out.text()
        if not cur or Path(cur).stem.endswith("_v2a"):
            self.out.setText(self._default_path())
        self._validate()

    def _browse(self) -> None:
        k = self.kind.currentData()
        filt = {"video": "Video (*.mp4 *.mov *.mkv *.m4v)", "wav": "WAV (*.wav)", "flac": "FLAC (*.flac)"}[k]
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.out.text(), filt)
        if path:
            self.out.setText(path)

    def _problem(self) -> str:
        out = self.out.text().strip()
        if not out:
            return "Choose where to save."
        p = Path(out)
        try:
            if p.resolve() == Path(self.source).resolve():
                return "That is the source clip — exports never overwrite it."
        except OSError:
            return "That path is not usable."
        if not p.resolve().parent.is_dir():
            return f"Folder {p.parent} does not exist."
        k = self.kind.currentData()
        if k in ("wav", "flac") and p.suffix.lower() != f".{k}":
            return f"The file name must end in .{k}."
        if k == "video" and p.suffix.lower() not in CONTAINERS:
            return f"The file name must end in {', '.join(CONTAINERS)}."
        return ""

    def _validate(self) -> None:
        prob = self._problem()
        exists = not prob and Path(self.out.text()).exists()
        self.warn.setText(prob or ("The file exists and will be replaced." if exists else ""))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not prob)

    def _accept(self) -> None:
        if not self._problem():
            self.accept()

    def spec(self) -> ExportSpec:
        return ExportSpec(
            source=self.source,
            out=self.out.text().strip(),
            kind=self.kind.currentData(),
            mode=self.mode.currentData(),
            sample_rate=int(self.rate.currentData()),
            normalize=self.normalize.isChecked(),
            target_lufs=float(self.lufs.value()),
            stems=self.stems.isChecked(),
        )
