"""Video viewer, transport bar and level meter; playback with the audio clock as master."""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QIcon,
    QImage,
    QLinearGradient,
    QPainter,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.model import mix as mixmod
from app.services.frames import FrameServer, fit_size
from app.services.playback import AudioPlayer
from app.ui.document import StudioDocument
from engine.api import timebase


class VideoViewer(QWidget):
    """Shows the frame at the playhead. Decoding runs in ``FrameServer``; this only paints."""

    frame_shown = Signal(float)  # pts of the frame now on screen

    def __init__(self, doc: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Viewer")
        self.doc = doc
        self.server: FrameServer | None = None
        self.image: QImage | None = None
        self.pts = -1.0
        self.aspect = 16 / 9
        self._display = (16.0, 9.0)
        self._want_frame = -1
        self.first_frame_at: float | None = None
        self.message = "Open a video clip (File ▸ Open, or drop it here)"
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        doc.timeline.playhead_changed.connect(self._on_playhead)
        doc.clip_changed.connect(self._on_clip)

    def _on_clip(self) -> None:
        self.close_server()
        self.image = None
        self.pts = -1.0
        self._want_frame = -1
        info = self.doc.info
        if info is None or info.video is None:
            self.update()
            return
        v = info.video
        dw, dh = v.display_size
        dw = dw * float(v.pixel_aspect) if v.rotation % 180 == 0 else dw
        self.aspect = dw / max(1, dh)
        self._display = (float(dw), float(dh))
        self.server = FrameServer(info.path, self._fit())
        self.server.frame_ready.connect(self._on_frame)
        self.server.failed.connect(self._on_failed)
        self._on_playhead(self.doc.timeline.playhead, force=True)

    def _fit(self) -> tuple[int, int] | None:
        r = self.devicePixelRatioF()
        return fit_size(self._display, (max(16, int(self.width() * r)), max(16, int(self.height() * r))))

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        if self.server is not None:
            self.server.set_size(self._fit())
            if self.image is not None:
                self._on_playhead(self.doc.timeline.playhead, force=True)  # re-render at the new size

    def close_server(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def _on_playhead(self, t: float, force: bool = False) -> None:
        if self.server is None:
            return
        idx = self.doc.timeline.frame_of(t)
        if idx != self._want_frame or force:
            self._want_frame = idx
            # Ask for the middle of the frame so float error never lands on the previous one.
            self.server.request(timebase.frame_to_seconds(idx, self.doc.timeline.fps) + 0.5 * self.doc.timeline.frame_duration)

    def _on_frame(self, _t: float, pts: float, img: QImage) -> None:
        self.image = img
        self.pts = pts
        if self.first_frame_at is None:
            self.first_frame_at = time.perf_counter()
        self.update()
        self.frame_shown.emit(pts)

    def _on_failed(self, msg: str) -> None:
        self.message = msg
        self.image = None
        self.update()

    @property
    def has_frame(self) -> bool:
        return self.image is not None

    def paintEvent(self, _ev) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#0b0c0e"))
        if self.image is None:
            p.setPen(QColor("#7d8490"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        w, h = self.width(), self.height()
        if w / max(1, h) > self.aspect:
            dh = h
            dw = h * self.aspect
        else:
            dw = w
            dh = w / self.aspect
        target = QRectF((w - dw) / 2, (h - dh) / 2, dw, dh)
        if abs(self.image.width() - dw) <= 2 and abs(self.image.height() - dh) <= 2:
            # Already scaled to fit by the decoder thread: a plain blit.
            p.drawImage(QPointF((w - self.image.width()) / 2, (h - self.image.height()) / 2), self.image)
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(target, self.image)


class LevelMeter(QWidget):
    """Peak meter in dBFS with a falling bar and a 1.5 s peak hold."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # 150 px where there is room; narrower on a 1280-pixel screen with both docks open.
        self.setFixedHeight(14)
        self.setMinimumWidth(70)
        self.setMaximumWidth(150)
        self.db = -90.0
        self.hold = -90.0
        self._hold_t = 0.0
        self.setToolTip("Output level (dBFS)")

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(150, 14)

    def set_level(self, peak: float) -> None:
        db = 20 * math.log10(max(peak, 1e-5))
        now = time.monotonic()
        self.db = max(db, self.db - 1.5)  # fall-back speed per tick
        if db >= self.hold or now - self._hold_t > 1.5:
            self.hold, self._hold_t = db, now
        self.update()

    def paintEvent(self, _ev) -> None:  # noqa: N802
        p = QPainter(self)
        r = self.rect()
        p.fillRect(r, QColor("#0e0f12"))

        def x(db: float) -> float:
            return r.width() * (min(0.0, max(-60.0, db)) + 60) / 60

        g = QLinearGradient(0, 0, r.width(), 0)
        g.setColorAt(0.0, QColor("#2e9e6a"))
        g.setColorAt(0.75, QColor("#c9c23a"))
        g.setColorAt(1.0, QColor("#e0453a"))
        p.fillRect(QRectF(0, 2, x(self.db), r.height() - 4), g)
        p.setPen(QColor("#ffffff"))
        p.drawLine(int(x(self.hold)), 1, int(x(self.hold)), r.height() - 1)
        p.setPen(QColor("#3a3e46"))
        for d in (-48, -36, -24, -12, -6):
            p.drawLine(int(x(d)), r.height() - 3, int(x(d)), r.height())


class PlaybackController(QObject):
    """Transport: play/pause, J/K/L shuttle, frame step. Audio clock drives the playhead."""

    status = Signal(str)
    speed_changed = Signal(float)

    def __init__(self, doc: StudioDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.player = AudioPlayer()
        self.speed = 0.0
        self.clip_audio_on = False
        self._shuttle_t0 = 0.0
        self._shuttle_origin = 0.0
        self._mix_dirty = True
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(8)
        self.timer.timeout.connect(self._tick)
        doc.lane_changed.connect(lambda _l, what: self._invalidate() if what in ("picked", "takes", "mute", "solo", "gain_db") else None)
        doc.lanes_changed.connect(self._invalidate)
        doc.clip_changed.connect(self._on_clip)

    @property
    def sound_problem(self) -> str | None:
        return self.player.problem

    def _on_clip(self) -> None:
        self.stop()
        self.doc.clip_audio = None
        self._invalidate()

    def _invalidate(self) -> None:
        self._mix_dirty = True
        if self.player.playing:
            self.player.set_buffer(self.render_mix())
            self._mix_dirty = False

    def _clip_audio(self) -> np.ndarray | None:
        info = self.doc.info
        if info is None or not info.audio:
            return None
        if self.doc.clip_audio is None:
            from engine.api import V2AError, read_audio

            try:
                self.doc.clip_audio = read_audio(info.path, self.player.sample_rate)
            except V2AError as e:
                self.status.emit(e.message)
                return None
        return self.doc.clip_audio[0]

    def render_mix(self) -> np.ndarray:
        sr = self.player.sample_rate
        m = mixmod.mix(self.doc.project.lanes, sr, self.doc.duration)
        if self.clip_audio_on:
            ca = self._clip_audio()
            if ca is not None:
                n = min(len(m), len(ca))
                m[:n] += ca[:n]
        return m

    def set_clip_audio(self, on: bool) -> None:
        self.clip_audio_on = on
        self._invalidate()

    # -- transport ------------------------------------------------------------------------------
    def toggle(self) -> None:
        if self.speed != 0:
            self.stop()
        else:
            self.play(1.0)

    def play(self, speed: float = 1.0) -> None:
        tl = self.doc.timeline
        if not self.doc.has_clip:
            return
        if tl.playhead >= tl.duration - 1e-3 and speed > 0:
            tl.seek(0.0)
        self.player.stop()
        self.speed = speed
        if speed == 1.0:
            if self._mix_dirty:
                self.player.set_buffer(self.render_mix())
                self._mix_dirty = False
            self.player.start(tl.playhead)
            if self.player.problem:
                self.status.emit(self.player.problem)
        else:
            # Shuttle at other speeds (J/L repeated, reverse) runs silent on the system clock.
            self._shuttle_t0 = time.monotonic()
            self._shuttle_origin = tl.playhead
        tl.set_playing(True)
        self.timer.start()
        self.speed_changed.emit(speed)

    def stop(self) -> None:
        self.player.stop()
        self.timer.stop()
        if self.speed != 0:
            self.speed = 0.0
            self.speed_changed.emit(0.0)
        self.doc.timeline.set_playing(False)

    def audition_sound(self, audio: np.ndarray, sample_rate: int) -> None:
        """Play a recording on its own (a library sound before it is used): the transport
        stops, and the next Play renders the mix again."""
        self.stop()
        sr = self.player.sample_rate
        self.player.set_buffer(mixmod.resample(np.asarray(audio, np.float32), int(sample_rate), sr))
        self._mix_dirty = True
        self.player.start(0.0)
        if self.player.problem:
            self.status.emit(self.player.problem)

    def shuttle(self, key: str) -> None:
        """J/K/L: L forward (again = faster), J reverse (again = faster), K stop."""
        if key == "k":
            self.stop()
            return
        sign = 1.0 if key == "l" else -1.0
        if self.speed == 0 or math.copysign(1, self.speed) != sign:
            new = sign
        else:
            new = max(-8.0, min(8.0, self.speed * 2))
        self.stop()
        self.play(new)

    def position(self) -> float:
        if self.speed == 1.0:
            return self.player.position()
        return self._shuttle_origin + (time.monotonic() - self._shuttle_t0) * self.speed

    def _tick(self) -> None:
        tl = self.doc.timeline
        t = self.position()
        if t >= tl.duration or t <= 0 and self.speed < 0:
            tl.seek(tl.clamp(t))
            self.stop()
            return
        tl.seek(t)
        tl.follow()


def transport_icon(kind: str, size: int = 32) -> QIcon:
    """Crisp light-on-dark transport glyphs drawn here (platform icons are grey on dark themes)."""
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#e6e8ec"))
    s = size

    def tri(x0: float, x1: float) -> None:  # pointing right if x1 > x0
        p.drawPolygon(QPolygonF([QPointF(x0, s * 0.2), QPointF(x1, s * 0.5), QPointF(x0, s * 0.8)]))

    def bar(x: float, w: float = 0.12) -> None:
        p.drawRect(QRectF(x, s * 0.2, s * w, s * 0.6))

    if kind == "play":
        tri(s * 0.28, s * 0.8)
    elif kind == "pause":
        bar(s * 0.27, 0.16)
        bar(s * 0.57, 0.16)
    elif kind == "next":
        tri(s * 0.22, s * 0.62)
        bar(s * 0.66)
    elif kind == "prev":
        bar(s * 0.22)
        tri(s * 0.78, s * 0.38)
    elif kind == "start":
        bar(s * 0.14)
        tri(s * 0.56, s * 0.27)
        tri(s * 0.88, s * 0.59)
    elif kind == "end":
        tri(s * 0.12, s * 0.41)
        tri(s * 0.44, s * 0.73)
        bar(s * 0.74)
    p.end()
    return QIcon(pm)


class ElidedLabel(QLabel):
    """A one-line label that never widens the window: when it is too narrow the label shows the
    longest of its shorter forms that fits (``set_forms``), else ends in …; the full text stays
    in the tool tip."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self._forms: tuple[str, ...] = ()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(24, super().minimumSizeHint().height())

    def setText(self, text: str) -> None:  # noqa: N802
        self._forms = ()
        super().setText(text)
        self.setToolTip(text)

    def set_forms(self, *forms: str) -> None:
        """The full text, then shorter forms of it (e.g. without the duration and rate)."""
        super().setText(forms[0])
        self.setToolTip(forms[0])
        self._forms = forms

    def shown_text(self) -> str:
        width, fm = self.contentsRect().width(), self.fontMetrics()
        for form in self._forms or (self.text(),):
            if fm.horizontalAdvance(form) <= width:
                return form
        return fm.elidedText((self._forms or (self.text(),))[-1], Qt.TextElideMode.ElideRight, width)

    def paintEvent(self, _ev) -> None:  # noqa: N802
        p = QPainter(self)
        p.setPen(self.palette().color(self.foregroundRole()))
        shown = self.shown_text()
        p.drawText(self.contentsRect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)
        p.end()


class ShuttleLabel(QLabel):
    """"▶▶ 2×" / "◀◀ 8×" (the tool tip says forward / reverse): as wide as its widest text
    whatever it shows, so its appearing never changes the transport's size (which made the
    docks jump); short, so the frame counter keeps room at 1280 px."""

    WIDEST = "  ◀◀ 16×"

    def sizeHint(self) -> QSize:  # noqa: N802
        f = QFont(self.font())
        f.setBold(True)
        from PySide6.QtGui import QFontMetrics

        return QSize(QFontMetrics(f).horizontalAdvance(self.WIDEST) + 6, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.sizeHint()


class TransportBar(QWidget):
    def __init__(self, doc: StudioDocument, playback: PlaybackController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Transport")
        self.doc, self.pb = doc, playback
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.setSpacing(4)

        def btn(icon: str, tip: str, fn) -> QToolButton:
            b = QToolButton()
            b.setIcon(transport_icon(icon))
            b.setToolTip(tip)
            b.clicked.connect(fn)
            b.setAutoRaise(True)
            lay.addWidget(b)
            return b

        btn("start", "Go to start (Home)", lambda: doc.timeline.seek(0))
        btn("prev", "Previous frame (←)", lambda: doc.timeline.step_frames(-1))
        self.play_btn = btn("play", "Play / pause (Space)", playback.toggle)
        self.play_btn.setObjectName("PlayButton")
        btn("next", "Next frame (→)", lambda: doc.timeline.step_frames(1))
        btn("end", "Go to end (End)", lambda: doc.timeline.seek_frame(doc.timeline.last_frame))
        lay.addSpacing(12)
        self.tc = QLabel("00:00:00:00")
        self.tc.setObjectName("Timecode")
        f = QFont("monospace")
        f.setStyleHint(QFont.StyleHint.Monospace)
        f.setPointSize(15)
        self.tc.setFont(f)
        lay.addWidget(self.tc)
        self.frame_lbl = ElidedLabel("")
        self.frame_lbl.setObjectName("Dim")
        # room for its shortest form ("  1234 / 5678") at any window size
        self.frame_lbl.setMinimumWidth(self.frame_lbl.fontMetrics().horizontalAdvance("  0000 / 0000") + 4)
        lay.addWidget(self.frame_lbl)
        self.speed_lbl = ShuttleLabel("")
        self.speed_lbl.setObjectName("Shuttle")
        lay.addWidget(self.speed_lbl)
        lay.addStretch(1)
        self.clip_audio = QCheckBox("Clip audio")
        self.clip_audio.setToolTip("Play the clip's original sound under the mix")
        self.clip_audio.toggled.connect(playback.set_clip_audio)
        lay.addWidget(self.clip_audio)
        lay.addSpacing(8)
        lay.addWidget(QLabel("Out"))
        self.meter = LevelMeter()
        lay.addWidget(self.meter)
        self.meter_timer = QTimer(self)
        self.meter_timer.setInterval(33)
        self.meter_timer.timeout.connect(lambda: self.meter.set_level(playback.player.level))
        self.meter_timer.start()
        doc.timeline.playhead_changed.connect(self._on_playhead)
        doc.clip_changed.connect(lambda: self._on_playhead(doc.timeline.playhead))
        playback.speed_changed.connect(self._on_speed)

    def _on_playhead(self, t: float) -> None:
        tl = self.doc.timeline
        self.tc.setText(tl.timecode(t))
        if self.doc.has_clip:
            fps = float(tl.fps)
            rate = f"{fps:.3f}".rstrip("0").rstrip(".")
            frame = f"{tl.frame_of(t)} / {tl.last_frame}"
            self.frame_lbl.set_forms(f"  frame {frame}  ·  {tl.timecode(tl.duration)}  ·  {rate} fps",
                                     f"  frame {frame}", f"  {frame}")

    def _on_speed(self, s: float) -> None:
        self.play_btn.setIcon(transport_icon("pause" if s != 0 else "play"))
        self.speed_lbl.setText("" if s in (0.0, 1.0) else f"  {'◀◀' if s < 0 else '▶▶'} {abs(s):g}×")
        self.speed_lbl.setToolTip("" if s in (0.0, 1.0) else f"Playing {'in reverse' if s < 0 else 'forward'} at {abs(s):g}× (J / K / L)")


class ViewerPanel(QWidget):
    def __init__(self, doc: StudioDocument, playback: PlaybackController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.viewer = VideoViewer(doc)
        self.transport = TransportBar(doc, playback)
        lay.addWidget(self.viewer, 1)
        lay.addWidget(self.transport)
