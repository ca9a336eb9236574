"""Timeline lanes on one time axis with one playhead (pyqtgraph).

Rows: ruler with thumbnails · the clip's own audio (when it has a sound track) · one editable
heatmap per layout lane (predicted layout as a faint overlay) · mel-spectrogram of the active
lane's take (frequency axis in Hz; Ctrl+wheel zooms it) · waveform of the mix with onset
markers. All rows are x-linked; the visible range, playhead and selection live in
``TimelineState`` and every row follows it. A legend overlay explains colours and marks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QVBoxLayout, QWidget

from app.model import mix as mixmod
from app.model.layout import LayoutDoc
from app.model.thumbs import Slot, nearest, visible_slots
from app.ui.commands import PatchCommand
from app.ui.document import StudioDocument
from app.ui.legend import LaneLegend
from app.ui.waveform import Envelope
from engine.api import timebase

AXIS_W = 92
PLAYHEAD = QColor("#ff5a4f")
SEL_BRUSH = QColor(90, 160, 255, 45)
SEL_PEN = QColor(110, 170, 255, 160)
BRUSH_PEN = QColor(255, 255, 255, 210)
ERASER_PEN = QColor(120, 200, 255, 230)
CLIP_WAVE = QColor("#9aa7b8")
ZOOM_STEP = 0.8  # frequency zoom per wheel notch / menu step
MEL_MIN_SPAN = 1 / 16  # the Take mel row shows at least 4 of its 64 mel bins
# What Edit ▸ Undo / Redo call a stroke of each tool ("Undo Paint").
STROKE_NAMES = {"brush": "Paint", "eraser": "Erase", "event": "Add event"}
# Timing hook for benchmarks/bench_studio.py: called with each brush dab's model time (ms).
# None (the default) records nothing.
dab_timer: Callable[[float], None] | None = None

pg.setConfigOptions(antialias=False, imageAxisOrder="col-major", background="#16181c", foreground="#a7adba")


def _lut(name: str) -> np.ndarray:
    try:
        cmap = pg.colormap.get(name)
    except Exception:  # noqa: BLE001 - fall back to a built-in ramp
        cmap = pg.ColorMap([0, 1], [(0, 0, 0), (255, 200, 80)])
    return cmap.getLookupTable(0.0, 1.0, 256)


class TimeAxis(pg.AxisItem):
    """Ruler labels as timecode-ish m:ss.ff at coarse zoom, seconds with decimals when close."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph API)
        out = []
        for v in values:
            if v < 0:
                out.append("")
                continue
            m, s = divmod(v, 60)
            out.append(f"{int(m)}:{s:05.2f}" if spacing < 1 else f"{int(m)}:{int(round(s)):02d}")
        return out


def _mel_scale():
    from engine.api import MelConfig, hz_to_mel, mel_to_hz

    return MelConfig(), hz_to_mel, mel_to_hz


def mel_y_to_hz(y):
    """Height in the Take mel row (0 = bottom, 1 = top of its 64 mel bins) → Hz, on the mel
    scale ``app.model.mix.take_display`` draws (``engine.audio.MelConfig``)."""
    cfg, h2m, m2h = _mel_scale()
    lo, hi = float(h2m(cfg.fmin)), float(h2m(cfg.fmax))
    return m2h(lo + np.clip(np.asarray(y, float), 0, 1) * (hi - lo))


def hz_to_mel_y(f):
    cfg, h2m, _m2h = _mel_scale()
    lo, hi = float(h2m(cfg.fmin)), float(h2m(cfg.fmax))
    return (h2m(np.asarray(f, float)) - lo) / (hi - lo)


class FreqAxis(pg.AxisItem):
    """The Take mel row's left axis: ticks at round frequencies, labelled in Hz / kHz."""

    NICE = (50, 100, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 7000, 8000)

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph API)
        if maxVal <= minVal or size <= 0:
            return []
        ys = [float(hz_to_mel_y(f)) for f in self.NICE]
        inside = [y for y in ys if minVal <= y <= maxVal]
        px = size / (maxVal - minVal)
        out, last = [], -1e9
        for y in inside:  # keep labels at least 13 px apart
            if (y - last) * px >= 13:
                out.append(y)
                last = y
        return [(1.0, out)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        out = []
        for v in values:
            f = float(mel_y_to_hz(v))
            out.append(f"{f / 1000:.1f}".rstrip("0").rstrip(".") + "k" if f >= 1000 else f"{f:.0f}")
        return out


def zoom_y(vb: pg.ViewBox, factor: float, full: tuple[float, float], min_span: float,
           center: float | None = None) -> None:
    """Zoom a row's vertical (frequency) axis by ``factor`` (<1 = in) around ``center``,
    inside ``full``."""
    lo, hi = vb.viewRange()[1]
    lo, hi = max(full[0], lo), min(full[1], hi)
    c = (lo + hi) / 2 if center is None else min(max(center, lo), hi)
    span = float(np.clip((hi - lo) * factor, min_span, full[1] - full[0]))
    new_lo = c - (c - lo) * span / max(1e-9, hi - lo)
    new_lo = float(np.clip(new_lo, full[0], full[1] - span))
    vb.setYRange(new_lo, new_lo + span, padding=0)


class _YZoom:
    """Ctrl+wheel zooms the row's frequency axis around the pointer; the plain wheel keeps
    zooming time (pyqtgraph's own handling)."""

    y_full: tuple[float, float] | None = None
    y_min_span = 1.0

    def wheelEvent(self, ev, axis=None):  # noqa: N802 (pyqtgraph API)
        if self.y_full is not None and ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            ev.accept()
            notches = ev.delta() / 120.0
            if notches:
                zoom_y(self, ZOOM_STEP ** notches, self.y_full, self.y_min_span,
                       self.mapSceneToView(ev.scenePos()).y())
            return
        super().wheelEvent(ev, axis)


class _Row(pg.PlotItem):
    def __init__(self, name: str, vb: pg.ViewBox | None = None, height: int = 80, top_axis: bool = False,
                 expand: bool = False, left_axis: pg.AxisItem | None = None) -> None:
        axis = {"top": TimeAxis("top")} if top_axis else {}
        if left_axis is not None:
            axis["left"] = left_axis
        super().__init__(viewBox=vb, axisItems=axis)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.showAxis("bottom", False)
        if top_axis:
            self.showAxis("top", True)
        left = self.getAxis("left")
        left.setWidth(AXIS_W)
        left.setStyle(showValues=left_axis is not None, tickLength=-4 if left_axis is not None else 0)
        left.enableAutoSIPrefix(False)
        left.setLabel(name, color="#c8ccd4")
        self.vb.setMouseEnabled(x=True, y=False)
        self.setMinimumHeight(height)
        if not expand:
            self.setMaximumHeight(height)
        else:
            # Layout lanes take the spare height (the editing surface); fixed rows do not.
            self.setPreferredHeight(10 * height)
        self.playhead = pg.InfiniteLine(0, angle=90, pen=pg.mkPen(PLAYHEAD, width=1.5), movable=False)
        self.playhead.setZValue(100)
        self.addItem(self.playhead, ignoreBounds=True)
        self.selection = pg.LinearRegionItem((0, 0), movable=False, brush=SEL_BRUSH, pen=pg.mkPen(SEL_PEN))
        self.selection.setZValue(50)
        self.selection.hide()
        self.addItem(self.selection, ignoreBounds=True)


class RulerBox(pg.ViewBox):
    """Click or drag in the ruler to seek; middle-drag pans; wheel zooms."""

    def __init__(self, doc: StudioDocument) -> None:
        super().__init__(enableMenu=False)
        self.doc = doc

    def mouseClickEvent(self, ev):  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.doc.timeline.seek(self.mapSceneToView(ev.scenePos()).x())

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.doc.timeline.seek(self.mapSceneToView(ev.scenePos()).x())
        else:
            super().mouseDragEvent(ev, axis)


class SelectBox(_YZoom, pg.ViewBox):
    """Mel/waveform rows: left-drag selects a time range, middle-drag pans; with ``y_full``
    Ctrl+wheel zooms the frequency axis."""

    def __init__(self, doc: StudioDocument, y_full: tuple[float, float] | None = None, y_min_span: float = 1.0) -> None:
        super().__init__(enableMenu=False)
        self.doc = doc
        self._anchor: float | None = None
        self.y_full, self.y_min_span = y_full, y_min_span

    def mouseClickEvent(self, ev):  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.doc.timeline.set_selection(None)
            self.doc.timeline.seek(self.mapSceneToView(ev.scenePos()).x())

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        t = self.doc.snap(self.mapSceneToView(ev.scenePos()).x())
        if ev.isStart():
            self._anchor = self.doc.snap(self.mapSceneToView(ev.buttonDownScenePos()).x())
        if self._anchor is not None:
            self.doc.timeline.set_selection((self._anchor, t))
        if ev.isFinish():
            self._anchor = None


class LayoutBox(_YZoom, pg.ViewBox):
    """An editable layout lane: brush / eraser / event / select tools, one undo step per drag."""

    def __init__(self, doc: StudioDocument, lane_id: str) -> None:
        super().__init__(enableMenu=False)
        self.doc = doc
        self.lane_id = lane_id
        self.y_full = (0.0, float(self.layout.n_bands))
        self._mode: str | None = None
        self._anchor = 0.0
        self._snapshot: np.ndarray | None = None
        self._last: tuple[float, float] | None = None
        self._moved_sel: tuple[float, float] | None = None
        # Brush footprint under the pointer (like an image editor's brush cursor): the outer
        # ellipse is the reach of a dab, the dotted inner one the hard core left by *Soft*.
        self._hover: tuple[float, float, bool] | None = None  # t, band, Alt held
        self.outline = QGraphicsEllipseItem()
        self.outline_core = QGraphicsEllipseItem()
        for it, style in ((self.outline, Qt.PenStyle.SolidLine), (self.outline_core, Qt.PenStyle.DotLine)):
            pen = QPen(BRUSH_PEN, 1.2, style)
            pen.setCosmetic(True)  # 1 px whatever the zoom
            it.setPen(pen)
            it.setZValue(80)
            it.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            it.hide()
            self.addItem(it, ignoreBounds=True)

    # -- brush outline -------------------------------------------------------------------------
    def hoverEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph API)
        if ev.isExit():
            self.hide_outline()
            return
        t, band = self._pos(ev.scenePos())
        self.show_outline(t, band, bool(ev.modifiers() & Qt.KeyboardModifier.AltModifier))

    def outline_rect(self) -> QRectF | None:
        """The brush footprint in lane coordinates (seconds × bands), or None when hidden."""
        if self._hover is None or self.doc.tools.tool not in ("brush", "eraser"):
            return None
        t, band, _alt = self._hover
        lay = self.layout
        b = self.doc.tools.brush(lay.columns_per_second)
        rx, ry = b.radius_cols / lay.columns_per_second, b.radius_bands
        return QRectF(t - rx, band - ry, 2 * rx, 2 * ry)

    def show_outline(self, t: float, band: float, alt: bool = False) -> None:
        self._hover = (t, band, alt)
        self.update_outline()

    def hide_outline(self) -> None:
        self._hover = None
        self.update_outline()

    def update_outline(self) -> None:
        """Follow the pointer, the brush settings and the tool (hidden for non-brush tools)."""
        r = self.outline_rect()
        if r is None:
            self.outline.hide()
            self.outline_core.hide()
            return
        erase = self.doc.tools.tool == "eraser" or self._hover[2]
        for it in (self.outline, self.outline_core):
            pen = it.pen()
            pen.setColor(ERASER_PEN if erase else BRUSH_PEN)
            it.setPen(pen)
        self.outline.setRect(r)
        hard = 1.0 - float(np.clip(self.doc.tools.softness, 0.0, 1.0))
        if 0.05 < hard < 0.98:
            c = r.center()
            self.outline_core.setRect(QRectF(c.x() - r.width() * hard / 2, c.y() - r.height() * hard / 2,
                                             r.width() * hard, r.height() * hard))
            self.outline_core.show()
        else:
            self.outline_core.hide()
        self.outline.show()

    @property
    def layout(self) -> LayoutDoc:
        return self.doc.project.lane(self.lane_id).layout

    def _activate(self) -> None:
        ids = [ln.id for ln in self.doc.project.lanes]
        if self.lane_id in ids:
            self.doc.set_active_lane(ids.index(self.lane_id))

    def _pos(self, scene_pos: QPointF) -> tuple[float, float]:
        p = self.mapSceneToView(scene_pos)
        return float(p.x()), float(p.y())

    def _scale(self, mods) -> float:
        # Pressure-like intensity from modifiers: Shift paints at half strength, Ctrl at full.
        if mods & Qt.KeyboardModifier.ShiftModifier:
            return 0.5
        if mods & Qt.KeyboardModifier.ControlModifier:
            return 1.0 / max(1e-3, self.doc.tools.intensity)
        return 1.0

    def _dab(self, t: float, band: float, mods) -> None:
        lay = self.layout
        erase = bool(mods & Qt.KeyboardModifier.AltModifier)
        brush = self.doc.tools.brush(lay.columns_per_second, erase=erase, scale=self._scale(mods))
        t0 = time.perf_counter()
        # Interpolate between mouse samples so fast drags leave no gaps.
        if self._last is not None:
            lt, lb = self._last
            dc = abs(t - lt) * lay.columns_per_second
            n = max(1, int(np.ceil(max(dc, abs(band - lb)) / max(0.5, brush.radius_cols))))
            for k in range(1, n + 1):
                f = k / n
                lay.stamp((lt + (t - lt) * f) * lay.columns_per_second, lb + (band - lb) * f, brush)
        else:
            lay.stamp(t * lay.columns_per_second, band, brush)
        self._last = (t, band)
        if dab_timer is not None:
            dab_timer((time.perf_counter() - t0) * 1000)

    def _stamp_event(self, t: float, band: float, mods) -> None:
        lay = self.layout
        tools = self.doc.tools
        half = max(0.0, tools.brush_bands / 2 - 0.5)
        lo, hi = int(np.floor(band - half)), int(np.floor(band + half))
        lay.stamp_event(self.doc.snap(t), tools.decay, max(0, lo), min(lay.n_bands - 1, hi),
                        min(1.0, tools.intensity * self._scale(mods)))

    def mouseClickEvent(self, ev):  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        ev.accept()
        self._activate()
        t, band = self._pos(ev.scenePos())
        tool = self.doc.tools.tool
        lay = self.layout
        if tool in ("brush", "eraser", "event"):
            lay.begin_stroke()
            if tool == "event":
                self._stamp_event(t, band, ev.modifiers())
            else:
                self._last = None
                self._dab(t, band, ev.modifiers())
            self._commit_stroke(STROKE_NAMES[tool])
        else:
            self.doc.timeline.set_selection(None)
            self.doc.timeline.seek(t)

    def _commit_stroke(self, name: str) -> None:
        p = self.layout.end_stroke()
        self._last = None
        if p is not None:
            self.doc.undo.push(PatchCommand(self.layout, p, name, applied=True))

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        t, band = self._pos(ev.scenePos())
        tool = self.doc.tools.tool
        tl = self.doc.timeline
        lay = self.layout
        if tool in ("brush", "eraser"):  # hover events pause while a button is held
            self.show_outline(t, band, bool(ev.modifiers() & Qt.KeyboardModifier.AltModifier))
        if ev.isStart():
            self._activate()
            t_down, b_down = self._pos(ev.buttonDownScenePos())
            sel = tl.selection
            if tool in ("brush", "eraser"):
                self._mode = "paint"
                lay.begin_stroke()
                self._last = None
                self._dab(t_down, b_down, ev.modifiers())
            elif tool == "event":
                self._mode = "event"
            elif sel and sel[0] <= t_down <= sel[1]:
                # Drag inside the selection moves its content; Shift-drag stretches it.
                self._mode = "stretch" if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier else "move"
                self._anchor = t_down
                self._snapshot = lay.values.copy()
                self._moved_sel = sel
            else:
                self._mode = "select"
                self._anchor = self.doc.snap(t_down)
        if self._mode == "paint":
            self._dab(t, band, ev.modifiers())
        elif self._mode == "select":
            tl.set_selection((self._anchor, self.doc.snap(t)))
        elif self._mode in ("move", "stretch") and self._moved_sel is not None:
            self._preview_range_edit(t)
        if ev.isFinish():
            if self._mode == "paint":
                self._commit_stroke(STROKE_NAMES[tool])
            elif self._mode == "event":
                lay.begin_stroke()
                self._stamp_event(t, band, ev.modifiers())
                self._commit_stroke(STROKE_NAMES["event"])
            elif self._mode in ("move", "stretch"):
                self._finish_range_edit(t)
            self._mode = None

    def _range_target(self, t: float) -> tuple[float, float]:
        s0, s1 = self._moved_sel
        if self._mode == "move":
            dt = self.doc.snap(s0 + (t - self._anchor)) - s0
            return s0 + dt, s1 + dt
        new_end = max(s0 + 0.05, self.doc.snap(s1 + (t - self._anchor)))
        return s0, new_end

    def _edit_patch(self, t: float):
        lay = self.layout
        s0, s1 = self._moved_sel
        a, b = self._range_target(t)
        if self._mode == "move":
            return lay.move_range(s0, s1, a - s0), (a, b)
        return lay.stretch_range(s0, s1, b), (a, b)

    def _preview_range_edit(self, t: float) -> None:
        lay = self.layout
        lay.values[:] = self._snapshot
        p, sel = self._edit_patch(t)
        if p is not None:
            lay.apply(p)
        else:
            lay.changed.emit(0, lay.n_columns, 0, lay.n_bands)
        self.doc.timeline.set_selection(sel)

    def _finish_range_edit(self, t: float) -> None:
        lay = self.layout
        lay.values[:] = self._snapshot
        p, sel = self._edit_patch(t)
        lay.changed.emit(0, lay.n_columns, 0, lay.n_bands)
        if p is not None:
            self.doc.undo.push(PatchCommand(lay, p, "Move range" if self._mode == "move" else "Stretch range"))
        self.doc.timeline.set_selection(sel)
        self._snapshot = None
        self._moved_sel = None


class LaneRow(_Row):
    def __init__(self, doc: StudioDocument, lane_id: str, name: str) -> None:
        self.box = LayoutBox(doc, lane_id)
        super().__init__(name, self.box, height=70, expand=True)
        self.doc = doc
        self.lane_id = lane_id
        self.image = pg.ImageItem(levels=(0, 1), lut=_lut("inferno"))
        self.addItem(self.image)
        self.pred = pg.PlotDataItem(pen=pg.mkPen(QColor(170, 210, 255, 80), width=1, style=Qt.PenStyle.DotLine))
        self.pred.setZValue(10)
        self.addItem(self.pred)
        self.events = pg.ScatterPlotItem(symbol="t", size=9, brush=pg.mkBrush("#ffb347"), pen=None)
        self.events.setZValue(20)
        self.addItem(self.events)
        self.active_frame = pg.QtWidgets.QGraphicsRectItem()
        self._bands = -1
        self.refresh_all()

    def refresh_all(self) -> None:
        lay = self.doc.project.lane(self.lane_id).layout
        self.image.setImage(lay.values, levels=(0, 1), autoLevels=False)
        self.image.setRect(QRectF(0, 0, lay.duration, lay.n_bands))
        if lay.n_bands != self._bands:  # a frequency zoom survives a refresh of the same grid
            self._bands = lay.n_bands
            self.box.y_full = (0.0, float(lay.n_bands))
            self.vb.setLimits(yMin=0, yMax=lay.n_bands)
            self.vb.setYRange(0, lay.n_bands, padding=0)
        self.refresh_overlay()

    def refresh_image(self) -> None:
        lay = self.doc.project.lane(self.lane_id).layout
        self.image.updateImage(lay.values)

    def refresh_overlay(self) -> None:
        lay = self.doc.project.lane(self.lane_id).layout
        t = (np.arange(lay.n_columns) + 0.5) / lay.columns_per_second
        xs, ys = [], []
        for b in range(lay.n_bands):
            xs.append(t)
            ys.append(b + 0.06 + 0.88 * lay.predicted[:, b])
        connect = np.ones(lay.n_columns * lay.n_bands, bool)
        connect[lay.n_columns - 1 :: lay.n_columns] = False
        self.pred.setData(np.concatenate(xs), np.concatenate(ys), connect=connect)
        ev = lay.event_times()
        self.events.setData(ev, [lay.n_bands - 0.25] * len(ev))


class ThumbStrip(QObject):
    """The ruler's filmstrip: thumbnails at their natural aspect, side by side, for the
    visible range only; denser when zoomed in, coarser when zoomed out.

    Frames are decoded by a ``ThumbnailServer`` thread and cached here by frame index (so
    zooming back out or panning back shows cached frames at once). Until a frame arrives its
    slot shows the nearest cached frame, never an empty hole, and never waits.
    """

    CACHE = 1500  # frames kept (~25 KB each at strip height)

    def __init__(self, row: _Row, doc: StudioDocument) -> None:
        super().__init__()
        self.row, self.doc = row, doc
        self.server = None
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._keys: list[int] = []
        self.items: list[pg.ImageItem] = []
        self.shown: list[tuple[Slot, int | None]] = []  # slot, frame index on screen
        self.laid_out: tuple[float, float] | None = None  # the visible range ``shown`` is for
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(15)  # coalesce a burst of range changes / arriving frames
        self._timer.timeout.connect(self.refresh)
        row.vb.sigResized.connect(lambda _vb: self.schedule())

    def set_server(self, server) -> None:
        """A new clip's decoder (or None): the cache belongs to the clip, so it starts empty."""
        if self.server is not None:
            try:
                self.server.thumb_ready.disconnect(self._on_thumb)
            except (RuntimeError, TypeError):
                pass
        self.server = server
        self._timer.stop()
        self.cache.clear()
        self._keys = []
        self.shown = []
        self.laid_out = None
        for it in self.items:
            it.hide()
        if server is not None:
            server.thumb_ready.connect(self._on_thumb)
            self.schedule()

    def schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _on_thumb(self, index: int, rgb: np.ndarray) -> None:
        # Rows top-down → pyqtgraph's col-major, y-up image layout.
        self.cache[index] = np.ascontiguousarray(rgb[::-1].transpose(1, 0, 2))
        self.cache.move_to_end(index)
        while len(self.cache) > self.CACHE:
            self.cache.popitem(last=False)
        self._keys = sorted(self.cache)
        self.schedule()

    def thumb_seconds(self) -> float:
        """A thumbnail's natural width in seconds at the current zoom (0 before layout)."""
        vb = self.row.vb
        w, h = float(vb.width()), float(vb.height())
        info = self.doc.info
        if w < 4 or h < 4 or info is None or info.video is None:
            return 0.0
        dw, dh = info.video.display_size
        t0, t1 = self.doc.timeline.visible
        return h * (dw / max(1, dh)) * (t1 - t0) / w

    def refresh(self) -> None:
        if self.server is None or not self.doc.has_clip:
            return
        tl = self.doc.timeline
        slots = visible_slots(*tl.visible, tl.frame_duration, tl.last_frame + 1, self.thumb_seconds())
        want: list[int] = []
        shown: list[tuple[Slot, int | None]] = []
        for k, slot in enumerate(slots):
            have = slot.index if slot.index in self.cache else nearest(slot.index, self._keys)
            if have != slot.index and slot.index not in want:
                want.append(slot.index)
            while k >= len(self.items):
                it = pg.ImageItem()
                it.setZValue(-10)  # under the motion curve and the playhead
                self.row.addItem(it, ignoreBounds=True)
                self.items.append(it)
            it = self.items[k]
            if have is None:
                it.hide()
            else:
                if getattr(it, "frame_index", None) != have:
                    it.setImage(self.cache[have], autoLevels=False, levels=(0, 255))
                    it.frame_index = have
                it.setRect(QRectF(slot.t0, 0, slot.t1 - slot.t0, 1))
                it.show()
            shown.append((slot, have))
        for it in self.items[len(slots):]:
            it.hide()
        self.shown = shown
        self.laid_out = tl.visible
        # Only what is on screen now, centre outwards; anything still queued for a range the
        # editor left is dropped by the server.
        mid = 0.5 * (tl.visible[0] + tl.visible[1])
        want.sort(key=lambda i: abs(i * tl.frame_duration - mid))
        self.server.request(want)

    @property
    def settled(self) -> bool:
        """The strip is laid out for the current view and every slot shows its own frame."""
        return (bool(self.shown) and self.laid_out == self.doc.timeline.visible
                and all(s.index == have for s, have in self.shown))


class TimelineWidget(QWidget):
    """The lanes panel of the editor. Subscribes to the document; edits go to its undo stack."""

    stroke_done = Signal()
    file_dropped = Signal(str, str)  # local path, id of the lane it was dropped on ("" = none)
    legend_toggled = Signal(bool)

    def __init__(self, doc: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.setObjectName("Timeline")
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.ci.setSpacing(2)
        self.glw.ci.setContentsMargins(0, 0, 8, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.glw)
        self.ruler = _Row("", RulerBox(doc), height=84, top_axis=True)
        self.ruler.getAxis("left").setLabel("Picture", color="#c8ccd4")
        self.ruler.vb.setYRange(0, 1, padding=0)
        self.lane_rows: dict[str, LaneRow] = {}
        # The clip's own sound (production audio) under the picture, when the clip has one.
        self.clip_row = _Row("Clip audio", SelectBox(doc), height=40)
        # 40 px where there is room; it gives up to half of that on a 720-pixel-high screen
        # so the lanes, Take mel and Mix rows still fit under it.
        self.clip_row.setMinimumHeight(20)
        self.clip_row.setPreferredHeight(40)
        self.clip_wave = pg.PlotDataItem(pen=pg.mkPen(CLIP_WAVE, width=1))
        self.clip_row.addItem(self.clip_wave)
        self.clip_hint = pg.TextItem("", color="#6f7682", anchor=(0, 0.5))
        self.clip_row.addItem(self.clip_hint, ignoreBounds=True)
        self.clip_row.vb.setYRange(-1, 1, padding=0.05)
        self.clip_env: Envelope | None = None
        self._waves_timer = QTimer(self)
        self._waves_timer.setSingleShot(True)
        self._waves_timer.setInterval(15)
        self._waves_timer.timeout.connect(self._refresh_waves)
        self.mel_row = _Row("Take mel", SelectBox(doc, (0.0, 1.0), MEL_MIN_SPAN), height=88, left_axis=FreqAxis("left"))
        self.mel_img = pg.ImageItem(levels=(0, 1), lut=_lut("magma"))
        self.mel_row.addItem(self.mel_img)
        self.mel_hint = pg.TextItem("No take yet — Generate (Ctrl+G) to hear this lane", color="#6f7682", anchor=(0, 0.5))
        self.mel_row.addItem(self.mel_hint, ignoreBounds=True)
        self.mel_row.vb.setLimits(yMin=0, yMax=1, minYRange=MEL_MIN_SPAN)
        self.mel_row.vb.setYRange(0, 1, padding=0)
        self.mix_env: Envelope | None = None  # the mix, drawn for the visible range like the clip's
        self.wave_row = _Row("Mix", SelectBox(doc), height=64)
        self.wave = pg.PlotDataItem(pen=pg.mkPen("#5fd3a6", width=1))
        self.wave_row.addItem(self.wave)
        self.take_onsets = pg.PlotDataItem(pen=pg.mkPen(QColor(120, 200, 255, 200), width=1))
        self.layout_onsets = pg.PlotDataItem(pen=pg.mkPen(QColor(255, 179, 71, 200), width=1, style=Qt.PenStyle.DotLine))
        self.wave_row.addItem(self.take_onsets)
        self.wave_row.addItem(self.layout_onsets)
        self.wave_row.vb.setYRange(-1, 1, padding=0.05)
        self.motion = pg.PlotDataItem(pen=pg.mkPen(QColor(255, 255, 255, 150), width=1))
        self.motion.setZValue(20)
        self.ruler.addItem(self.motion)
        self.thumbs = ThumbStrip(self.ruler, doc)
        self.legend = LaneLegend(_lut("inferno"), self)
        self.legend.closed.connect(lambda: self.set_legend_visible(False))
        self._legend_on = True
        self._syncing = False
        self._audio_pending = False
        self._wave_scale = 1.0
        self._take_onset_times: list[float] = []
        self.ruler.vb.sigXRangeChanged.connect(self._on_range)
        self._build_rows()
        doc.timeline.playhead_changed.connect(self._on_playhead)
        doc.timeline.view_changed.connect(self._on_view)
        doc.timeline.selection_changed.connect(self._on_selection)
        doc.clip_changed.connect(self._on_clip)
        doc.lanes_changed.connect(self._build_rows)
        doc.layout_changed.connect(self._on_layout)
        doc.lane_changed.connect(self._on_lane_attr)
        doc.active_lane_changed.connect(lambda _i: (self._mark_active(), self.schedule_audio_refresh(),
                                                    self._update_legend()))
        doc.motion_changed.connect(self._on_motion)
        doc.tools.changed.connect(self._on_tools)
        self.glw.viewport().setAcceptDrops(True)  # a recording dropped on a lane (file_dropped)
        self.glw.viewport().installEventFilter(self)

    def eventFilter(self, obj, ev) -> bool:  # noqa: N802
        kind = ev.type()
        if kind == QEvent.Type.Leave:  # the pointer left the timeline: no brush outline
            for row in self.lane_rows.values():
                row.box.hide_outline()
        elif kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and _local_file(ev.mimeData()):
            ev.acceptProposedAction()
            return True
        elif kind == QEvent.Type.Drop and (path := _local_file(ev.mimeData())):
            # Which lane is under the pointer decides where a recording goes; what the file
            # is (a sound, a clip) is for the window to decide.
            ev.acceptProposedAction()
            self.file_dropped.emit(path, self.lane_at(ev.position().toPoint()) or "")
            return True
        return super().eventFilter(obj, ev)

    def lane_at(self, viewport_pos) -> str | None:
        """The id of the lane row under a point of the graphics view's viewport."""
        scene = self.glw.mapToScene(viewport_pos)
        for lid, row in self.lane_rows.items():
            if row.sceneBoundingRect().contains(scene):
                return lid
        return None

    def _on_tools(self, _name: str) -> None:
        for row in self.lane_rows.values():
            row.box.update_outline()

    def set_thumbnail_server(self, server) -> None:
        """The clip's filmstrip decoder (``app.services.frames.ThumbnailServer``) or None."""
        self.thumbs.set_server(server)

    # -- structure --------------------------------------------------------------------------
    @property
    def has_clip_audio_row(self) -> bool:
        """The clip has a sound track: its waveform gets a row under the picture."""
        info = self.doc.info
        return info is not None and bool(info.audio)

    def rows(self) -> list[_Row]:
        clip = [self.clip_row] if self.has_clip_audio_row else []
        return [self.ruler, *clip, *self.lane_rows.values(), self.mel_row, self.wave_row]

    def _build_rows(self) -> None:
        self.glw.ci.clear()
        self.lane_rows = {}
        self.glw.ci.addItem(self.ruler, row=0, col=0)
        r = 1
        if self.has_clip_audio_row:
            self.clip_row.setXLink(self.ruler)
            self.glw.ci.addItem(self.clip_row, row=r, col=0)
            r += 1
        first_lane = r
        for lane in self.doc.project.lanes:
            row = LaneRow(self.doc, lane.id, lane.name)
            # Lanes share the spare height (row stretch); the minimum keeps one lane at 120 px
            # and several at 40 px each, so the window still fits a 720-pixel-high screen.
            row.setMinimumHeight(max(40, 120 // max(1, len(self.doc.project.lanes))))
            row.setXLink(self.ruler)
            self.lane_rows[lane.id] = row
            self.glw.ci.addItem(row, row=r, col=0)
            r += 1
        for row in (self.mel_row, self.wave_row):
            row.setXLink(self.ruler)
            self.glw.ci.addItem(row, row=r, col=0)
            r += 1
        gl = self.glw.ci.layout
        for i in range(r):
            gl.setRowStretchFactor(i, 3 if first_lane <= i < first_lane + len(self.lane_rows) else 0)
        # The graphics scene does not pass its rows' minimum heights on to the widget: without
        # this a short window (1280×720) pushed the Take mel and Mix rows out of sight.
        self.setMinimumHeight(int(sum(row.minimumHeight() for row in self.rows()) + 2 * r + 4))
        self._apply_limits()
        self._on_view(*self.doc.timeline.visible)
        self._on_playhead(self.doc.timeline.playhead)
        self._on_selection(self.doc.timeline.selection)
        self._mark_active()
        self.refresh_audio()
        self._update_legend()

    # -- legend ---------------------------------------------------------------------------------
    def set_legend_visible(self, on: bool) -> None:
        if on != self._legend_on:
            self._legend_on = on
            self.legend_toggled.emit(on)
        self._update_legend()

    @property
    def legend_visible(self) -> bool:
        return self._legend_on

    def _update_legend(self) -> None:
        lane = self.doc.active_lane
        show = self._legend_on and lane is not None and self.doc.has_clip
        if lane is not None and lane.layout.n_bands != self.legend.n_bands:
            self.legend.set_bands(lane.layout.n_bands)
        self.legend.setVisible(show)
        if show:
            self.legend.raise_()
            QTimer.singleShot(0, self.place_legend)

    def place_legend(self) -> None:
        """Top right of the lanes, under the picture row (the filmstrip stays clear)."""
        if not self.lane_rows:
            return
        first = next(iter(self.lane_rows.values()))
        top = self.glw.mapFromScene(first.sceneBoundingRect().topRight())
        pos = self.glw.mapTo(self, top)
        self.legend.adjustSize()
        self.legend.move(max(AXIS_W, pos.x() - self.legend.width() - 6), pos.y() + 4)

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        if self.legend.isVisible():
            QTimer.singleShot(0, self.place_legend)

    # -- clip audio -----------------------------------------------------------------------------
    def set_clip_audio(self, audio: np.ndarray | None, sample_rate: int = 0, message: str = "") -> None:
        """The clip's own sound for its row (None with a message: reading it failed / is
        under way)."""
        self.clip_env = Envelope(audio, sample_rate) if audio is not None else None
        self.clip_hint.setText(message if audio is None else ("" if self.clip_env.peak > 0 else "Silent audio track"))
        self.clip_hint.setVisible(bool(self.clip_hint.toPlainText()))
        k = max(0.05, self.clip_env.peak) if self.clip_env is not None else 1.0
        self.clip_row.vb.setYRange(-k, k, padding=0.08)
        self._refresh_clip_wave()

    def _draw_mix_wave(self) -> None:
        """The mix at about one min/max pair per pixel of the visible range (any zoom)."""
        if self.mix_env is None:
            self.wave.setData([], [])
            return
        t0, t1 = self.doc.timeline.visible
        x, y, connect = self.mix_env.view(t0, t1, int(max(200, self.wave_row.vb.width())))
        self.wave.setData(x, y, connect=connect)

    def _refresh_waves(self) -> None:
        """Redraw the Mix and Clip audio rows for the visible range (after a zoom or scroll)."""
        self._draw_mix_wave()
        self._refresh_clip_wave()

    def _refresh_clip_wave(self) -> None:
        env = self.clip_env
        t0, t1 = self.doc.timeline.visible
        self.clip_hint.setPos(t0 + 0.01 * (t1 - t0), 0)
        if env is None:
            self.clip_wave.setData([], [])
            return
        x, y, connect = env.view(t0, t1, int(max(200, self.clip_row.vb.width())))
        self.clip_wave.setData(x, y, connect=connect)

    def _apply_limits(self) -> None:
        d = max(0.5, self.doc.duration)
        for row in self.rows():
            row.vb.setLimits(xMin=-0.02 * d, xMax=d * 1.02, minXRange=0.05)

    def _mark_active(self) -> None:
        active = self.doc.active_lane
        for lid, row in self.lane_rows.items():
            on = active is not None and active.id == lid
            row.getAxis("left").setLabel(
                self.doc.project.lane(lid).name, color="#ffffff" if on else "#8a909c", **{"font-weight": "bold" if on else "normal"}
            )

    # -- document → view ----------------------------------------------------------------------
    def _on_clip(self) -> None:
        self.thumbs.set_server(None)
        self.motion.setData([], [])
        self.set_clip_audio(None, message="Reading the clip's audio…")
        self._build_rows()
        self.doc.timeline.fit()

    def _on_motion(self) -> None:
        c = self.doc.motion_curve
        if len(c) and c.max() > 0:
            self.motion.setData(self.doc.motion_times, 0.02 + 0.4 * c / c.max())

    def _on_layout(self, lane_id: str, c0: int, c1: int) -> None:
        row = self.lane_rows.get(lane_id)
        if row is not None:
            row.refresh_image()
            if not self.doc.project.lane(lane_id).layout.in_stroke:
                row.refresh_overlay()
                self._refresh_layout_onsets()

    def _on_lane_attr(self, lane_id: str, what: str) -> None:
        if what == "name":
            self._mark_active()
        if what in ("picked", "takes", "mute", "solo", "gain_db"):
            self.schedule_audio_refresh()

    def schedule_audio_refresh(self) -> None:
        """Coalesce bursts (a generation adds takes and picks one) into one redraw."""
        if not self._audio_pending:
            self._audio_pending = True
            QTimer.singleShot(0, self._run_audio_refresh)

    def _run_audio_refresh(self) -> None:
        self._audio_pending = False
        self.refresh_audio()

    def refresh_layouts(self) -> None:
        for row in self.lane_rows.values():
            row.refresh_all()
        self._refresh_layout_onsets()

    def _refresh_layout_onsets(self) -> None:
        lane = self.doc.active_lane
        ev = lane.layout.event_times() if lane else []
        k = self._wave_scale
        self.layout_onsets.setData(*_ticks(ev, -1.0 * k, -0.6 * k), connect="pairs")

    def refresh_audio(self) -> None:
        """Mel of the active lane's picked take; waveform of the mix; onset ticks."""
        lane = self.doc.active_lane
        take = lane.picked_take if lane else None
        self.mel_hint.setVisible(take is None)
        self._take_onset_times = []
        if take is None:
            self.mel_img.clear()
            self.mel_hint.setPos(self.doc.timeline.visible[0], 0.5)
        else:
            disp = self.doc.take_display.get(take.id)
            if disp is None:  # e.g. a take loaded from a project: analyse once, then cached
                disp = self.doc.take_display[take.id] = mixmod.take_display(take.audio, take.sample_rate)
            img, ons, dur = disp
            self.mel_img.setImage(img, levels=(0, 1), autoLevels=False)
            self.mel_img.setRect(QRectF(0, 0, dur, 1))
            self._take_onset_times = list(ons)
        picked = [ln.picked_take for ln in self.doc.project.lanes if ln.picked_take is not None]
        sr = picked[0].sample_rate if picked else 8000  # the takes' own rate: no resampling
        m = mixmod.mix(self.doc.project.lanes, sr, self.doc.duration) if self.doc.duration > 0 else np.zeros(0)
        self.mix_env = Envelope(m, sr) if len(m) else None
        self._draw_mix_wave()
        # Scale to the material (like a DAW's waveform zoom) so quiet takes stay readable.
        self._wave_scale = max(0.05, self.mix_env.peak) if self.mix_env is not None else 1.0
        self.wave_row.vb.setYRange(-self._wave_scale, self._wave_scale, padding=0.08 if self.mix_env else 0.05)
        k = self._wave_scale
        self.take_onsets.setData(*_ticks(self._take_onset_times, 0.6 * k, 1.0 * k), connect="pairs")
        self._refresh_layout_onsets()

    def _on_playhead(self, t: float) -> None:
        for row in self.rows():
            row.playhead.setValue(t)

    def _on_selection(self, sel) -> None:
        for row in self.rows():
            if sel is None:
                row.selection.hide()
            else:
                row.selection.setRegion(sel)
                row.selection.show()

    def _on_view(self, t0: float, t1: float) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.ruler.vb.setXRange(t0, t1, padding=0)
            self._place_hints()
        finally:
            self._syncing = False
        self.thumbs.schedule()
        self._waves_timer.start()

    def _on_range(self, _vb, rng) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.doc.timeline.set_view(float(rng[0]), float(rng[1]))
        finally:
            self._syncing = False
        self.thumbs.schedule()
        self._waves_timer.start()

    def _place_hints(self) -> None:
        t0, t1 = self.doc.timeline.visible
        lo, hi = self.mel_row.vb.viewRange()[1]
        self.mel_hint.setPos(t0 + 0.01 * (t1 - t0), 0.5 * (lo + hi))
        self.clip_hint.setPos(t0 + 0.01 * (t1 - t0), 0)

    # -- frequency zoom ---------------------------------------------------------------------------
    def zoom_frequency(self, factor: float) -> None:
        """View ▸ Zoom Frequency In / Out: the Take mel row, around the middle of its view."""
        zoom_y(self.mel_row.vb, factor, (0.0, 1.0), MEL_MIN_SPAN)
        self._place_hints()

    def reset_frequency_zoom(self) -> None:
        """Every row back to its whole frequency range (Take mel 0–8 kHz, lanes all bands)."""
        self.mel_row.vb.setYRange(0, 1, padding=0)
        for row in self.lane_rows.values():
            row.vb.setYRange(*row.box.y_full, padding=0)
        self._place_hints()

    def mel_frequency_range(self) -> tuple[float, float]:
        """The frequencies (Hz) the Take mel row shows now."""
        lo, hi = self.mel_row.vb.viewRange()[1]
        return float(mel_y_to_hz(lo)), float(mel_y_to_hz(hi))

    # -- helpers for tests and benchmarks ---------------------------------------------------------
    def lane_view_to_scene(self, lane_id: str, t: float, band: float) -> QPointF:
        return self.lane_rows[lane_id].vb.mapViewToScene(QPointF(t, band))

    def scene_to_widget(self, p: QPointF):
        return self.glw.mapFromScene(p)


def _local_file(mime) -> str | None:
    for u in mime.urls() if mime.hasUrls() else []:
        if u.isLocalFile():
            return u.toLocalFile()
    return None


def _ticks(times, y0: float, y1: float) -> tuple[np.ndarray, np.ndarray]:
    if not len(times):
        return np.zeros(0), np.zeros(0)
    x = np.repeat(np.asarray(times, float), 2)
    y = np.tile([y0, y1], len(times))
    return x, y


def frames_per_column(doc: StudioDocument) -> float:
    lane = doc.active_lane
    cps = lane.layout.columns_per_second if lane else 10.0
    return float(doc.timeline.fps) / cps if cps else 1.0


__all__ = ["TimelineWidget", "timebase", "QPen"]
