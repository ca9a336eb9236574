"""Export dialog: muxed video (replace / add / mix), WAV or FLAC, stems, rate, loudness."""

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
from engine.media.mux import CONTAINERS

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
        self.mode = QComboBox()
        for k, label in MODES:
            self.mode.addItem(label, k)
        self.rate = QComboBox()
        for r in RATES:
            self.rate.addItem(f"{r / 1000:g} kHz", r)
        self.normalize = QCheckBox("Normalise loudness to")
        self.lufs = QDoubleSpinBox()
        self.lufs.setRange(-40, -5)
        self.lufs.setValue(-23.0)
        self.lufs.setSuffix(" LUFS")
        norm = QHBoxLayout()
        norm.addWidget(self.normalize)
        norm.addWidget(self.lufs)
        norm.addStretch(1)
        self.stems = QCheckBox("Also write one file per lane (stems)")
        self.out = QLineEdit()
        browse = QPushButton("Browse…")
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
        f.addRow("Export", self.kind)
        f.addRow("Audio track", self.mode)
        f.addRow("Sample rate", self.rate)
        f.addRow("Loudness", norm)
        f.addRow("", self.stems)
        f.addRow("Save to", row)
        f.addRow("", self.credits)
        f.addRow("", self.warn)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        f.addRow(self.buttons)
        self.kind.currentIndexChanged.connect(self._on_kind)
        self.out.textChanged.connect(self._validate)
        self.out.textChanged.connect(self._show_credits_name)
        self._on_kind()

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
        return str(src.with_name(f"{src.stem}_v2a{suffix}"))

    def _on_kind(self) -> None:
        k = self.kind.currentData()
        self.mode.setEnabled(k == "video")
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
