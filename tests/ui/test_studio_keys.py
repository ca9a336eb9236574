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
    window.delete_range()
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
