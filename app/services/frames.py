"""Video decoding off the GUI thread: the viewer asks for a time, gets the latest frame.

A single decoder thread owns an ``engine.media.VideoReader``. Requests overwrite each other
(only the newest matters while scrubbing), so the GUI never waits and never builds a queue.
The timeline's filmstrip has its own reader and thread (``ThumbnailServer``: frames by index,
a new request drops what is still pending), and the motion curve (for snapping to motion
peaks) comes from an analysis thread, so neither ever delays seeking.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from app.model.snap import motion_curve
from app.model.thumbs import LatestRequest


def to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    img = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return img.copy()  # own the memory; the numpy buffer may go away


def fit_size(display: tuple[float, float], box: tuple[int, int]) -> tuple[int, int] | None:
    """Decode size that fits ``display`` (w, h, aspect kept) into ``box``; None = native size
    (never upscale in the decoder — the painter does that if the window is larger)."""
    w, h = display
    s = min(box[0] / w, box[1] / h)
    if s >= 1.0:
        return None
    return max(2, int(w * s) // 2 * 2), max(2, int(h * s) // 2 * 2)


class FrameServer(QObject):
    frame_ready = Signal(float, float, QImage)  # requested t, pts, image
    failed = Signal(str)

    def __init__(self, path: str, size: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.path = path
        # Decode straight to the size shown: swscale resizes and converts in one pass, ~3× cheaper
        # for 1080p than full-size RGB followed by a QImage rescale.
        self.size = size
        self._want_size = size
        self._cv = threading.Condition()
        self._req: float | None = None
        self._stop = False
        self.decode_ms: list[float] = []  # for the benchmark
        self._thread = threading.Thread(target=self._run, name="v2a-frames", daemon=True)
        self._thread.start()

    def set_size(self, size: tuple[int, int] | None) -> None:
        """Decode at a new size from the next request on (the viewer was resized)."""
        with self._cv:
            self._want_size = size

    def request(self, t: float) -> None:
        with self._cv:
            self._req = t
            self._cv.notify()

    def _run(self) -> None:
        from engine.api import V2AError, VideoReader

        try:
            reader = VideoReader(self.path, size=self.size, crop=False)
        except V2AError as e:
            self.failed.emit(e.message)
            return
        try:
            while True:
                with self._cv:
                    while self._req is None and not self._stop:
                        self._cv.wait()
                    if self._stop:
                        return
                    t, self._req = self._req, None
                    want = self._want_size
                t0 = time.perf_counter()
                if want != self.size:
                    try:
                        new = VideoReader(self.path, size=want, crop=False)
                    except V2AError as e:
                        self.failed.emit(e.message)
                        continue
                    reader.close()
                    reader, self.size = new, want
                try:
                    pts, rgb = reader.frame_at(t)
                except V2AError as e:
                    self.failed.emit(e.message)
                    continue
                img = to_qimage(rgb)
                self.decode_ms.append((time.perf_counter() - t0) * 1000)
                self.frame_ready.emit(t, pts, img)
        finally:
            reader.close()

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=2.0)


class ThumbnailServer(QObject):
    """Filmstrip frames by video frame index, decoded in their own thread at strip height.

    ``request`` replaces whatever is still queued (the editor zoomed or panned on: those
    frames are no longer visible), so the thread only ever works on what is on screen. Frames
    come back one by one through ``thumb_ready`` as RGB arrays; the timeline caches them.
    """

    thumb_ready = Signal(int, object)  # frame index, RGB uint8 [h, w, 3]

    def __init__(self, path: str, frame_duration: float, display: tuple[float, float], height: int = 64) -> None:
        super().__init__()
        self.path = path
        self.frame_duration = float(frame_duration)
        # Decode straight to strip size (one swscale pass), never upscale.
        self.size = fit_size(display, (8 * height, height))
        self.queue = LatestRequest()
        self.decoded: list[int] = []  # frame indices decoded so far (tests, benchmark)
        self._thread = threading.Thread(target=self._run, name="v2a-thumbs", daemon=True)
        self._thread.start()

    def request(self, indices: list[int]) -> None:
        self.queue.replace(indices)

    def _run(self) -> None:
        from engine.api import V2AError, VideoReader

        try:
            reader = VideoReader(self.path, size=self.size, crop=False)
        except V2AError:
            return  # the viewer already reports unreadable clips
        try:
            while True:
                i = self.queue.pop()
                if i is None:
                    return
                try:
                    # Mid-frame time: the frame shown there is frame i whatever the rounding.
                    _pts, rgb = reader.frame_at((i + 0.5) * self.frame_duration)
                except V2AError:
                    continue
                self.decoded.append(i)
                self.thumb_ready.emit(i, np.ascontiguousarray(rgb))
        finally:
            reader.close()

    def close(self) -> None:
        self.queue.close()
        self._thread.join(timeout=2.0)


class ClipAnalyzer(QObject):
    """The clip's motion curve (for snapping to motion peaks), computed once per clip."""

    motion_ready = Signal(object, object)  # times, curve

    def __init__(self, path: str, duration: float) -> None:
        super().__init__()
        self.path, self.duration = path, duration
        self._cancel = False
        self._thread = threading.Thread(target=self._run, name="v2a-analyze", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from engine.api import V2AError, read_frames

        try:
            times, frames = [], []
            for t, rgb in read_frames(self.path, fps=10.0, size=(64, 36), crop=False):
                if self._cancel:
                    return
                times.append(t)
                frames.append(rgb)
            if frames:
                curve = motion_curve(np.stack(frames))
                if not self._cancel:
                    self.motion_ready.emit(np.asarray(times), curve)
        except V2AError:
            return  # the viewer already reports unreadable clips

    def close(self) -> None:
        self._cancel = True
        self._thread.join(timeout=5.0)
