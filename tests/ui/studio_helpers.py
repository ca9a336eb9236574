"""Fixtures for driving the real main window offscreen: small generated clips, a window."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_clip(path: Path, seconds: float = 2.0, fps: Fraction = Fraction(25), size=(96, 64), audio: bool = True,
              rotation: int = 0) -> Path:
    """An H.264 clip with a moving square and (optionally) AAC tone bursts at 0.4 s and 1.2 s."""
    import av

    with av.open(str(path), "w") as oc:
        vs = oc.add_stream("libx264", rate=fps)
        vs.width, vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.options = {"preset": "ultrafast", "g": "12"}
        if rotation:
            vs.metadata["rotate"] = str(rotation)
        aus = None
        if audio:
            aus = oc.add_stream("aac", rate=48000)
            aus.layout = "mono"
        n = int(round(seconds * float(fps)))
        for i in range(n):
            img = np.full((size[1], size[0], 3), 30, np.uint8)
            x = int((i / max(1, n - 1)) * (size[0] - 16))
            img[20:36, x : x + 16] = (230, 180, 40)
            img[:4, : (i % size[0])] = 255  # a frame counter bar
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            for p in vs.encode(f):
                oc.mux(p)
        for p in vs.encode():
            oc.mux(p)
        if aus is not None:
            sr = 48000
            t = np.arange(int(seconds * sr)) / sr
            y = np.zeros_like(t)
            for on in (0.4, 1.2):
                m = (t >= on) & (t < on + 0.25)
                y[m] = 0.5 * np.sin(2 * np.pi * 440 * t[m]) * np.exp(-(t[m] - on) * 12)
            y = y.astype(np.float32)
            for k in range(0, len(y), 1024):
                fr = av.AudioFrame.from_ndarray(y[None, k : k + 1024], format="flt", layout="mono")
                fr.sample_rate = sr
                fr.pts = k
                for p in aus.encode(fr):
                    oc.mux(p)
            for p in aus.encode():
                oc.mux(p)
    return path


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def clip(clip_dir) -> Path:
    return make_clip(clip_dir / "tones.mp4")


@pytest.fixture(scope="session")
def silent_clip(clip_dir) -> Path:
    return make_clip(clip_dir / "silent.mp4", audio=False, fps=Fraction(30000, 1001))


@pytest.fixture(scope="session")
def tiny_pack(tmp_path_factory) -> Path:
    """A tiny random diffusion pack of the real classes (generation plumbing, not quality)."""
    pytest.importorskip("engine.generation")
    from engine.train.packio import random_pack

    return random_pack(tmp_path_factory.mktemp("packs") / "tiny", name="tiny")


@pytest.fixture
def studio_home(tmp_path, monkeypatch) -> Path:
    """Autosave and recent files in a temporary folder (packs are still found as usual)."""
    home = tmp_path / "home"
    monkeypatch.setenv("V2A_STATE_DIR", str(home / "state"))
    monkeypatch.setenv("V2A_CONFIG_DIR", str(home / "config"))
    return home


@pytest.fixture
def window(qtbot, studio_home):
    from app.ui.main_window import MainWindow

    win = MainWindow(autosave=False, interactive=False)
    qtbot.addWidget(win)
    win.resize(1600, 900)
    win.show()
    yield win
    win.shutdown()


@pytest.fixture
def dialogs(monkeypatch):
    """Capture QMessageBox.critical calls instead of blocking on them."""
    from PySide6.QtWidgets import QMessageBox

    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda _p, title, text, *a, **k: seen.append((title, text))))
    return seen


def open_and_wait(qtbot, win, path, timeout=60000) -> None:
    assert win.open_path(str(path))
    qtbot.waitUntil(lambda: win.viewer.has_frame and win.doc.layout_ready and not win.engine.busy, timeout=timeout)


class Mouse:
    """Real press/move/release events on the timeline's graphics view (pyqtgraph needs the
    held-button state on move events, which QTest.mouseMove does not send)."""

    def __init__(self, qtbot) -> None:
        self.qtbot = qtbot

    @staticmethod
    def _send(view, kind, pos, button, buttons, mods):
        from PySide6.QtCore import QPointF
        from PySide6.QtGui import QMouseEvent
        from PySide6.QtWidgets import QApplication

        vp = view.viewport()
        local = QPointF(pos)
        glob = QPointF(vp.mapToGlobal(local.toPoint()))
        ev = QMouseEvent(kind, local, glob, button, buttons, mods)
        QApplication.sendEvent(vp, ev)

    def drag(self, win, lane_id: str, points: list[tuple[float, float]], mods=None) -> None:
        """Drag through (time, band) points in a lane, in data coordinates."""
        from PySide6.QtCore import QEvent, Qt

        mods = mods or Qt.KeyboardModifier.NoModifier
        tl = win.timeline
        view = tl.glw
        px = [view.mapFromScene(tl.lane_view_to_scene(lane_id, t, b)) for t, b in points]
        L, N = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
        self._send(view, QEvent.Type.MouseButtonPress, px[0], L, L, mods)
        # pyqtgraph starts a drag once the pointer moved a few pixels: step there gradually.
        for p in px[1:]:
            self._send(view, QEvent.Type.MouseMove, p, N, L, mods)
            self.qtbot.wait(15)
        self._send(view, QEvent.Type.MouseButtonRelease, px[-1], L, N, mods)
        self.qtbot.wait(10)

    def click(self, win, lane_id: str, t: float, band: float, mods=None) -> None:
        from PySide6.QtCore import QEvent, Qt

        mods = mods or Qt.KeyboardModifier.NoModifier
        tl = win.timeline
        p = tl.glw.mapFromScene(tl.lane_view_to_scene(lane_id, t, band))
        L, N = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
        self._send(tl.glw, QEvent.Type.MouseButtonPress, p, L, L, mods)
        self._send(tl.glw, QEvent.Type.MouseButtonRelease, p, L, N, mods)
        self.qtbot.wait(10)


@pytest.fixture
def mouse(qtbot) -> Mouse:
    return Mouse(qtbot)
