"""Issue 22: the keyboard workflow (single keys from anywhere but text fields, mark hit,
nudge, in/out marks, snap feedback) and stale event markers."""

from __future__ import annotations

import numpy as np
import pytest
from studio_helpers import open_and_wait


def _markers(window, lane):
    row = window.timeline.lane_rows[lane.id]
    xs, _ys = row.events.getData()
    return [] if xs is None else list(xs)


def _mix_ticks(window):
    xs, _ys = window.timeline.layout_onsets.getData()
    return [] if xs is None else sorted(set(np.round(xs, 4)))


def test_event_markers_follow_clicks_after_delete(qtbot, window, silent_clip, mouse):
    open_and_wait(qtbot, window, silent_clip)
    doc = window.doc
    lane = doc.active_lane
    lane.layout.values[:] = 0
    lane.layout.values[int(0.3 * lane.layout.columns_per_second)] = 0.9
    window.timeline.refresh_layouts()
    assert len(_markers(window, lane)) == 1
    window.doc.timeline.set_selection((0, doc.duration))
    window.edit.delete_range()
    assert _markers(window, lane) == [] and _mix_ticks(window) == []
    doc.timeline.set_selection(None)
    doc.tools.set("tool", "event")
    doc.tools.set("snap", "frames")
    doc.tools.set("intensity", 1.0)
    mouse.click(window, lane.id, 0.8, 2.5)
    mouse.click(window, lane.id, 1.4, 2.5)
    assert lane.layout.event_times() and len(lane.layout.event_times()) == 2
    # the lane's orange triangles and the Mix row's ticks show both hits without undo/redo
    assert _markers(window, lane) == pytest.approx(lane.layout.event_times())
    assert _mix_ticks(window) == pytest.approx(lane.layout.event_times(), abs=1e-3)


def _focus(qtbot, window, w) -> None:
    window.activateWindow()
    w.setFocus()
    qtbot.waitUntil(w.hasFocus, timeout=3000)


def test_single_keys_work_after_touching_a_spin_box(qtbot, window, clip):
    from PySide6.QtCore import Qt

    open_and_wait(qtbot, window, clip)
    doc = window.doc
    spin = window.tools.decay
    _focus(qtbot, window, spin)
    doc.tools.set("tool", "brush")
    qtbot.keyClick(spin, Qt.Key.Key_N)
    assert doc.tools.tool == "event"
    qtbot.keyClick(spin, Qt.Key.Key_B)
    assert doc.tools.tool == "brush"
    qtbot.keyClick(spin, Qt.Key.Key_L)
    assert window.playback.speed > 0
    qtbot.keyClick(spin, Qt.Key.Key_K)
    assert window.playback.speed == 0
    # Space from a spin box of the Generate panel too
    _focus(qtbot, window, window.gen_panel.steps)
    qtbot.keyClick(window.gen_panel.steps, Qt.Key.Key_Space)
    assert window.playback.speed != 0
    qtbot.keyClick(window.gen_panel.steps, Qt.Key.Key_Space)
    assert window.playback.speed == 0
    # the spin box still takes a number ("." included), and Enter hands the keys back
    _focus(qtbot, window, spin)
    spin.selectAll()
    qtbot.keyClicks(spin, "0.5")
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert doc.tools.decay == pytest.approx(0.5)
    qtbot.waitUntil(window.timeline.glw.hasFocus, timeout=3000)
    # Escape leaves a spin box without clearing the selection
    doc.timeline.set_selection((0.2, 0.6))
    _focus(qtbot, window, spin)
    qtbot.keyClick(spin, Qt.Key.Key_Escape)
    qtbot.waitUntil(window.timeline.glw.hasFocus, timeout=3000)
    assert doc.timeline.selection == pytest.approx((0.2, 0.6))


def test_text_fields_keep_their_letters(qtbot, window, clip):
    from PySide6.QtCore import Qt

    open_and_wait(qtbot, window, clip)
    doc = window.doc
    doc.tools.set("tool", "brush")
    prompt = window.lanes_panel.prompt
    _focus(qtbot, window, prompt)
    qtbot.keyClicks(prompt, "knock on wood")
    qtbot.keyClick(prompt, Qt.Key.Key_Space)
    assert prompt.text() == "knock on wood "
    assert doc.tools.tool == "brush" and window.playback.speed == 0
    assert doc.undo.count() == 0  # no H (mark hit) from typing "h"...


def test_mark_hit_at_playhead_and_nudge_it(qtbot, window, clip):
    from PySide6.QtCore import Qt

    open_and_wait(qtbot, window, clip)  # 25 fps, 25 layout columns/s
    doc = window.doc
    lane = doc.active_lane
    lay = lane.layout
    lay.values[:] = 0
    doc.tools.set("decay", 0.2)
    doc.tools.set("intensity", 0.9)
    doc.tools.set("brush_bands", 3)
    doc.timeline.seek_frame(20)
    window.activateWindow()
    window.focus_timeline()
    qtbot.keyClick(window.timeline.glw, Qt.Key.Key_H)
    assert doc.undo.count() == 1 and doc.undo.undoText() == "Mark hit"
    assert lay.event_times() == pytest.approx([0.8])
    c = int(round(0.8 * lay.columns_per_second))
    col = lay.values[c]
    # the event tool's intensity and band height (3 bands around the middle of 5)
    assert col.max() == pytest.approx(0.9, abs=1e-5)
    assert np.count_nonzero(col) == 3 and col[0] == 0 and col[4] == 0
    tail = lay.values[:, 2]
    assert tail[c + 5] == pytest.approx(0.9 * np.exp(-0.2 / 0.2), rel=0.15)  # decay: 0.2 s to 1/e
    # . and , nudge the last hit by one video frame, one undo step each
    qtbot.keyClick(window.timeline.glw, Qt.Key.Key_Period)
    qtbot.keyClick(window.timeline.glw, Qt.Key.Key_Period)
    assert lay.event_times() == pytest.approx([0.88])
    qtbot.keyClick(window.timeline.glw, Qt.Key.Key_Comma)
    assert lay.event_times() == pytest.approx([0.84])
    assert doc.undo.count() == 4
    doc.undo.undo()
    assert lay.event_times() == pytest.approx([0.88])
    doc.undo.undo()
    doc.undo.undo()
    assert lay.event_times() == pytest.approx([0.8])
    doc.undo.undo()
    assert lay.event_times() == [] and not lay.values.any()


def test_nudge_events_in_the_selection(qtbot, window, clip):
    open_and_wait(qtbot, window, clip)
    doc = window.doc
    lay = doc.active_lane.layout
    cps = lay.columns_per_second
    lay.values[:] = 0
    for t in (0.4, 1.2, 1.6):
        lay.values[int(round(t * cps)) : int(round(t * cps)) + 3, 1] = [0.9, 0.5, 0.2]
    doc.timeline.set_selection((1.0, 1.7))
    window.edit.nudge_events(-1)
    assert lay.event_times() == pytest.approx([0.4, 1.16, 1.56])
    assert doc.undo.count() == 1
    assert doc.timeline.selection == pytest.approx((0.96, 1.66))  # follows, like Alt+arrows


def test_in_and_out_marks_set_the_selection(qtbot, window, clip):
    from PySide6.QtCore import Qt

    open_and_wait(qtbot, window, clip)
    tl = window.doc.timeline
    window.activateWindow()
    window.focus_timeline()
    g = window.timeline.glw
    tl.seek_frame(10)
    qtbot.keyClick(g, Qt.Key.Key_I)
    assert tl.selection == pytest.approx((0.4, tl.duration))
    tl.seek_frame(30)
    qtbot.keyClick(g, Qt.Key.Key_O)
    assert tl.selection == pytest.approx((0.4, 1.2))
    tl.seek_frame(5)
    qtbot.keyClick(g, Qt.Key.Key_I)
    assert tl.selection == pytest.approx((0.2, 1.2))
    tl.seek_frame(3)
    qtbot.keyClick(g, Qt.Key.Key_O)  # out before in: from the start
    assert tl.selection == pytest.approx((0.0, 0.12))


def test_snap_says_what_it_snapped(qtbot, window, silent_clip):
    open_and_wait(qtbot, window, silent_clip)  # 29.97 fps, 25 columns/s: onsets off-frame
    doc = window.doc
    lay = doc.active_lane.layout
    cps = lay.columns_per_second
    lay.values[:] = 0
    tl = doc.timeline
    # an event whose nearest frame start lies in the previous or next column
    c = next(c for c in range(5, 20) if lay.col_index(tl.snap_to_frame(c / cps)) != c)
    for col in (c, c + 20):
        lay.values[col : col + 3, 1] = [0.9, 0.5, 0.2]
    doc.tools.set("snap", "frames")
    doc.timeline.set_selection((0.0, (c + 10) / cps))
    window.edit.snap_events()
    msg = window.statusBar().currentMessage()
    assert f"Snapped 1 of 1 event to frame starts (largest move {1000 / cps:.0f} ms)" in msg
    assert doc.undo.count() == 1
    window.edit.snap_events()
    assert "already on frame starts" in window.statusBar().currentMessage()
    assert doc.undo.count() == 1
    doc.tools.set("snap", "off")
    window.edit.snap_events()
    assert "Snap is off" in window.statusBar().currentMessage()
    # and the tool bar shows the snap mode
    assert window.tools.snap.isVisible() and window.tools.snap.currentText() == "off"
