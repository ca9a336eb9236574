"""The lane legend: what the timeline's colours, rows and marks mean, drawn with the same
colours the timeline uses. It floats at the top right of the lanes (View ▸ Lane Legend, or
its ✕, hides it; the choice is remembered)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QToolButton, QWidget

SW = (30, 14)  # swatch size
EVENT = QColor("#ffb347")
PRED = QColor(170, 210, 255, 200)
TAKE_ONSET = QColor(120, 200, 255)
CLIP_WAVE = QColor("#9aa7b8")


def band_edges_hz(n_bands: int) -> np.ndarray:
    """Approximate band edges (Hz) of an n-band layout: the layout's bands split the 64-bin
    mel scale of ``engine.audio.MelConfig`` (0–8 kHz, Slaney) evenly."""
    from engine.api import MelConfig, hz_to_mel, mel_to_hz

    cfg = MelConfig()
    return np.asarray(mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), n_bands + 1)), float)


def _khz(f: float) -> str:
    return f"{f / 1000:.1f}".rstrip("0").rstrip(".") if f else "0"


def _pix(draw) -> QPixmap:
    pm = QPixmap(*SW)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    draw(p, SW[0], SW[1])
    p.end()
    return pm


def _ramp(lut: np.ndarray) -> QPixmap:
    w, h = SW
    row = np.asarray(lut, np.uint8)[np.linspace(0, len(lut) - 1, w).astype(int), :3]
    img = np.ascontiguousarray(np.repeat(row[None], h, axis=0))
    q = QImage(img.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(q)


def _bands(lut: np.ndarray, n: int) -> QPixmap:
    def draw(p: QPainter, w: int, h: int) -> None:
        for b in range(n):  # brighter = louder; here a low sound: bright at the bottom
            v = int(255 * max(0.0, 1.0 - b / max(1, n - 1)) ** 1.5)
            c = np.asarray(lut)[min(255, v)]
            y0 = h - (b + 1) * h / n
            p.fillRect(QRectF(0, y0, w, h / n - 0.5), QColor(int(c[0]), int(c[1]), int(c[2])))
    return _pix(draw)


def _triangle(p: QPainter, w: int, h: int) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(EVENT)
    p.drawPolygon(QPolygonF([QPointF(w / 2 - 5, 4), QPointF(w / 2 + 5, 4), QPointF(w / 2, 12)]))


def _dotted(p: QPainter, w: int, h: int) -> None:
    pen = QPen(PRED, 1.2, Qt.PenStyle.DotLine)
    p.setPen(pen)
    p.drawPolyline(QPolygonF([QPointF(2, h - 4), QPointF(w * 0.35, h - 5), QPointF(w * 0.55, 4),
                              QPointF(w * 0.75, 6), QPointF(w - 2, h - 4)]))


def _ticks(p: QPainter, w: int, h: int) -> None:
    p.setPen(QPen(TAKE_ONSET, 1.5))
    p.drawLine(QPointF(w * 0.3, 1), QPointF(w * 0.3, h / 2 - 1))
    p.setPen(QPen(EVENT, 1.5, Qt.PenStyle.DotLine))
    p.drawLine(QPointF(w * 0.7, h / 2 + 1), QPointF(w * 0.7, h - 1))


def _wave(p: QPainter, w: int, h: int) -> None:
    p.setPen(QPen(CLIP_WAVE, 1))
    xs = np.arange(2, w - 2)
    env = np.exp(-((xs - w * 0.35) / (w * 0.12)) ** 2)
    for x, e in zip(xs, env, strict=True):
        a = 1 + e * (h / 2 - 2) * (0.6 + 0.4 * np.sin(x * 1.7))
        p.drawLine(QPointF(float(x), h / 2 - a), QPointF(float(x), h / 2 + a))


class LaneLegend(QFrame):
    """The legend overlay. ``set_bands`` updates the band rows for the active lane's grid."""

    closed = Signal()

    def __init__(self, lut: np.ndarray, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LaneLegend")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._lut = lut
        g = QGridLayout(self)
        g.setContentsMargins(8, 2, 2, 6)
        g.setHorizontalSpacing(7)
        g.setVerticalSpacing(2)
        head = QHBoxLayout()
        title = QLabel("Legend")
        title.setObjectName("LegendTitle")
        self.close_btn = QToolButton()
        self.close_btn.setText("✕")
        self.close_btn.setObjectName("LegendClose")
        self.close_btn.setToolTip("Hide the legend (View ▸ Lane Legend shows it again)")
        self.close_btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.close_btn.clicked.connect(self.closed.emit)
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.close_btn)
        g.addLayout(head, 0, 0, 1, 2)
        self.labels: list[QLabel] = []
        self.band_swatch = QLabel()
        rows = (
            (_ramp(lut), "Brightness = loudness: dark silent, bright loud"),
            (None, ""),  # bands, filled by set_bands
            (_pix(_triangle), "Event: a sound starts here (Event tool, H)"),
            (_pix(_dotted), "Dotted: the layout predicted from the picture"),
            (_pix(_ticks), "Mix: blue = onset heard in the take, orange = event"),
            (_pix(_wave), "Clip audio: the clip's own sound"),
        )
        for i, (pm, text) in enumerate(rows, start=1):
            sw = self.band_swatch if pm is None else QLabel()
            if pm is not None:
                sw.setPixmap(pm)
            sw.setFixedSize(*SW)
            lbl = QLabel(text)
            lbl.setObjectName("LegendText")
            g.addWidget(sw, i, 0, Qt.AlignmentFlag.AlignVCenter)
            g.addWidget(lbl, i, 1)
            self.labels.append(lbl)
        self.band_label = self.labels[1]
        hint = QLabel("Ctrl+wheel: zoom frequency · ?: all shortcuts · Ctrl+L: hide")
        hint.setObjectName("LegendHint")
        g.addWidget(hint, len(rows) + 1, 0, 1, 2)
        self.labels.append(hint)
        self.set_bands(5)

    def set_bands(self, n: int) -> None:
        self.n_bands = n
        self.band_swatch.setPixmap(_bands(self._lut, n))
        try:
            edges = band_edges_hz(n)
            ranges = " · ".join(f"{_khz(a)}–{_khz(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True)) + " kHz"
        except Exception:  # noqa: BLE001 - the legend never stops the window
            ranges = ""
        self.band_label.setText(f"Rows: {n} bands, low pitch at the bottom, high on top")
        self.band_label.setToolTip(f"Each layout row is a frequency band (≈ {ranges})" if ranges else "")
        self.band_ranges = ranges
        self.adjustSize()

    def text(self) -> str:
        return "\n".join(lbl.text() for lbl in self.labels)


__all__ = ["LaneLegend", "band_edges_hz"]
