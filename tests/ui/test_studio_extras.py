"""Filmstrip that follows the zoom, brush outline, whole-job time estimate, and errors in
non-interactive runs (``--screenshot`` / ``--selftest``) — all on the real main window."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from studio_helpers import make_clip, open_and_wait

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    # 8 s at 25 fps: enough frames that zooming in can show many more distinct ones.
    return make_clip(tmp_path_factory.mktemp("long") / "long.mp4", seconds=8.0, fps=Fraction(25), size=(128, 72), audio=False)


def _hover(win, lane_id: str, t: float, band: float, mods=None) -> None:
    """A real pointer move with no button held over (t, band) of a lane."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    QTest.qWait(40)  # pyqtgraph drops pointer moves closer together than its rate limit
    tl = win.timeline
    vp = tl.glw.viewport()
    p = QPointF(tl.glw.mapFromScene(tl.lane_view_to_scene(lane_id, t, band)))
    ev = QMouseEvent(QEvent.Type.MouseMove, p, QPointF(vp.mapToGlobal(p.toPoint())), Qt.MouseButton.NoButton,
                     Qt.MouseButton.NoButton, mods or Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, ev)


def _hover_widget_pos(win, p) -> None:
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    QTest.qWait(40)
    vp = win.timeline.glw.viewport()
    p = QPointF(p)
    ev = QMouseEvent(QEvent.Type.MouseMove, p, QPointF(vp.mapToGlobal(p.toPoint())), Qt.MouseButton.NoButton,
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, ev)


# -- filmstrip ---------------------------------------------------------------------------------

def _strip_indices(win, t0: float, t1: float) -> set[int]:
    return {have for s, have in win.timeline.thumbs.shown if have is not None and s.t1 > t0 and s.t0 < t1}


def test_filmstrip_gets_denser_on_zoom_and_reuses_coarse_frames(qtbot, window, long_clip):
    open_and_wait(qtbot, window, long_clip)
    strip = window.timeline.thumbs
    tl = window.doc.timeline
    qtbot.waitUntil(lambda: strip.settled, timeout=30000)
    d = window.doc.duration
    coarse = {have for _s, have in strip.shown}
    first = strip.shown[0][0]
    assert first.t0 == 0 and strip.shown[-1][0].t1 >= d - 1e-6  # the whole clip is covered
    a, b = 2.0, 4.0
    before_in_range = _strip_indices(window, a, b)
    decoded_before = len(strip.server.decoded)

    tl.set_view(a, b)  # zoom in 4×
    # The GUI never waits for frames: right away every visible slot shows a stand-in…
    qtbot.waitUntil(lambda: strip.laid_out == (a, b), timeout=5000)
    assert all(have is not None for _s, have in strip.shown)
    # …and once decoded (off the GUI thread), each slot shows its own frame.
    qtbot.waitUntil(lambda: strip.settled, timeout=30000)
    slots = [s for s, _h in strip.shown]
    assert slots[0].t0 <= a and slots[-1].t1 >= b  # the visible range is covered
    fine = _strip_indices(window, a, b)
    assert len(fine) > len(before_in_range)
    assert all(a - 0.5 <= i * tl.frame_duration <= b + 0.5 for i in fine)
    assert len(strip.server.decoded) > decoded_before
    # each shown frame is the decoded picture of that very frame index
    import numpy as np

    for k, (s, have) in enumerate(strip.shown):
        item = strip.items[k]
        assert s.index == have and item.isVisible() and item.frame_index == have
        np.testing.assert_array_equal(item.image, strip.cache[have])
        r = item.mapRectToParent(item.boundingRect())
        assert r.left() == pytest.approx(s.t0) and r.width() == pytest.approx(s.t1 - s.t0)
    # neighbours show different frames (the clip's frame-counter bar makes every frame unique)
    imgs = [strip.cache[h].tobytes() for _s, h in strip.shown]
    assert len(set(imgs)) == len(imgs)

    # zoom back out: the coarse frames come from the cache, nothing is decoded again
    n_decoded = len(strip.server.decoded)
    tl.fit()
    qtbot.waitUntil(lambda: strip.settled and strip.shown[-1][0].t1 >= d - 1e-6, timeout=5000)
    assert {have for _s, have in strip.shown} == coarse
    assert len(strip.server.decoded) == n_decoded


def test_filmstrip_drops_requests_for_ranges_no_longer_visible(qtbot, window, long_clip):
    open_and_wait(qtbot, window, long_clip)
    strip = window.timeline.thumbs
    tl = window.doc.timeline
    qtbot.waitUntil(lambda: strip.settled, timeout=30000)
    # Scrub through many zoomed-in ranges faster than frames decode; only the last matters.
    for k in range(12):
        tl.set_view(k * 0.5, k * 0.5 + 0.5)
        strip.refresh()
    tl.set_view(7.0, 7.5)
    strip.refresh()
    assert all(7.0 - 0.5 <= i * tl.frame_duration <= 7.5 + 0.5 for i in strip.server.queue.pending())
    qtbot.waitUntil(lambda: strip.settled, timeout=30000)
    wanted = {s.index for s, _h in strip.shown}
    assert wanted <= set(strip.cache)


# -- brush outline ------------------------------------------------------------------------------

def test_brush_outline_follows_pointer_and_settings(qtbot, window, clip):
    open_and_wait(qtbot, window, clip)
    doc = window.doc
    lane = doc.active_lane
    box = window.timeline.lane_rows[lane.id].box
    cps = lane.layout.columns_per_second
    doc.tools.set("tool", "brush")
    doc.tools.set("brush_seconds", 0.4)
    doc.tools.set("brush_bands", 2.0)
    _hover(window, lane.id, 0.8, 2.5)
    r = box.outline_rect()
    assert r is not None and box.outline.isVisible()
    assert r.center().x() == pytest.approx(0.8, abs=0.02) and r.center().y() == pytest.approx(2.5, abs=0.05)
    brush = doc.tools.brush(cps)
    assert r.width() == pytest.approx(2 * brush.radius_cols / cps) == pytest.approx(0.4)
    assert r.height() == pytest.approx(2 * brush.radius_bands) == pytest.approx(2.0)
    assert box.outline.rect() == r  # what is drawn is the footprint (lane coordinates)

    # the tool bar's size fields change the outline at once, without moving the mouse
    window.tools.size_t.setValue(1.0)
    window.tools.size_b.setValue(3)
    r2 = box.outline.rect()
    assert r2.width() == pytest.approx(1.0) and r2.height() == pytest.approx(3.0)
    assert r2.center().x() == pytest.approx(0.8, abs=0.02)

    # the pointer moves: the outline follows
    _hover(window, lane.id, 1.4, 1.5)
    assert box.outline.rect().center().x() == pytest.approx(1.4, abs=0.02)
    assert box.outline.rect().center().y() == pytest.approx(1.5, abs=0.05)

    # the footprint matches what a click paints: the painted columns span the outline's width
    import numpy as np

    doc.tools.set("softness", 0.0)
    doc.tools.set("brush_bands", 1.0)
    from studio_helpers import Mouse

    Mouse(qtbot).click(window, lane.id, 1.4, 1.5)
    painted = np.nonzero(lane.layout.values.max(axis=1) >= doc.tools.intensity - 1e-6)[0]
    span = (painted.max() - painted.min() + 1) / cps
    assert span == pytest.approx(box.outline_rect().width(), abs=2.0 / cps)

    # eraser shows it too (another colour); non-brush tools hide it
    doc.tools.set("tool", "eraser")
    assert box.outline.isVisible()
    assert box.outline.pen().color().name() != "#ffffff"
    doc.tools.set("tool", "select")
    assert not box.outline.isVisible() and box.outline_rect() is None
    doc.tools.set("tool", "brush")
    assert box.outline.isVisible()

    # leaving the lane (onto the Mix row) hides it
    tl = window.timeline
    p = tl.glw.mapFromScene(tl.wave_row.vb.mapViewToScene(__import__("PySide6.QtCore", fromlist=["QPointF"]).QPointF(1.0, 0.0)))
    _hover_widget_pos(window, p)
    assert not box.outline.isVisible()
    # …and leaving the timeline altogether does too
    _hover(window, lane.id, 1.0, 2.0)
    assert box.outline.isVisible()
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    QApplication.sendEvent(tl.glw.viewport(), QEvent(QEvent.Type.Leave))
    assert not box.outline.isVisible()


# -- whole-job time estimate ----------------------------------------------------------------------

def test_job_strip_shows_whole_job_elapsed_and_remaining(qtbot, window, clip):
    open_and_wait(qtbot, window, clip)
    eng, gp = window.engine, window.gen_panel
    now = [1000.0]
    gp.clock = lambda: now[0]  # a hand-driven clock: no sleeping, no timing asserts
    eng.job_started.emit(99, "Generating 2 lanes")
    assert "estimating" in gp.eta.text() and "0:00 elapsed" in gp.eta.text()
    # Lane 1 of 2 sampling at a steady pace: 10 s per lane, reported every 0.5 s.
    for i in range(1, 15):
        now[0] = 1000.0 + i * 0.5
        eng.job_progress.emit(99, "Footsteps (1/2): sampling", i * 0.5 / 10.0)
    text = gp.eta.text()
    assert "0:07 elapsed" in text and "left" in text
    rem = gp.job_eta.remaining(now[0])
    # The whole job (lane 2 included) is far from done although this stage nearly is.
    assert rem > 5.0
    assert 0.2 < gp.progress.value() / 1000 < 0.5  # the bar shows the whole job too
    # Between reports the label keeps counting (the strip's 1 s timer).
    now[0] += 3.0
    gp._eta_timer.timeout.emit()
    assert "0:10 elapsed" in gp.eta.text()
    # Cancel clears it.
    eng.job_cancelled.emit(99)
    assert gp.eta.text() == "" and not gp.job_eta.running and gp.stage.text() == "Cancelled"
    # A finished job clears it too.
    eng.job_started.emit(100, "Predicting layout")
    now[0] += 2.0
    eng.job_progress.emit(100, "predicting layout", 0.5)
    assert gp.eta.text()
    eng.job_finished.emit(100, None)
    assert gp.eta.text() == "" and not gp._eta_timer.isActive()


# -- non-interactive errors ---------------------------------------------------------------------

def _run_app(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", V2A_STATE_DIR=str(home / "state"),
               V2A_CONFIG_DIR=str(home / "config"))
    return subprocess.run([sys.executable, "-m", "app.main", *args], capture_output=True, text=True,
                          timeout=180, env=env, cwd=str(REPO))


def test_screenshot_mode_reports_bad_files_on_stderr_without_a_dialog(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("these are my notes, not a video\n" * 40)
    out = tmp_path / "shot.png"
    res = _run_app([str(bad), "--screenshot", str(out)], tmp_path)
    assert res.returncode == 2, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("v2a-studio:")]
    assert len(lines) == 1 and "notes.mp4" in lines[0] and "not a media file" in lines[0]
    assert "Traceback" not in res.stderr
    assert not out.exists()

    missing = tmp_path / "gone.mov"
    res = _run_app([str(missing), "--screenshot", str(out)], tmp_path)
    assert res.returncode == 2
    assert any("gone.mov" in ln and "not found" in ln for ln in res.stderr.splitlines())
    assert not out.exists()


def test_selftest_reports_bad_clip_and_missing_pack_in_one_line(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n" * 40)
    res = _run_app(["--selftest", "--clip", str(bad)], tmp_path)
    assert res.returncode != 0
    assert "notes.mp4" in res.stderr and "not a media file" in res.stderr and "Traceback" not in res.stderr
    res = _run_app(["--selftest", "--pack", str(tmp_path / "nopack")], tmp_path)
    assert res.returncode != 0
    assert "nopack" in res.stderr and "no model pack" in res.stderr and "Traceback" not in res.stderr


def test_interactive_window_still_shows_the_dialog(qtbot, studio_home, tmp_path, dialogs):
    from app.ui.main_window import MainWindow

    win = MainWindow(autosave=False, interactive=True)
    qtbot.addWidget(win)
    try:
        assert win.error_sink is None
        assert not win.open_path(str(tmp_path / "gone.mov"))
        assert dialogs and "gone.mov" in dialogs[-1][1]
    finally:
        win.shutdown()
