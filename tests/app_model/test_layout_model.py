"""Layout strokes, patches, range edits and undo round trips (no Qt)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from app.model.layout import Brush, LayoutDoc
from app.model.timeline import TimelineState


def _doc(cols=50, bands=5):
    rng = np.random.default_rng(0)
    pred = (rng.random((cols, bands)) * 0.3).astype(np.float32)
    return LayoutDoc(pred.copy(), 10.0, pred)


def test_stroke_patch_covers_only_changed_box_and_undo_restores():
    d = _doc()
    orig = d.values.copy()
    d.begin_stroke()
    for c in (10.0, 11.0, 12.0):
        d.stamp(c, 2.5, Brush(radius_cols=1.0, radius_bands=0.6, intensity=1.0, softness=0.0))
    p = d.end_stroke()
    assert p is not None and not p.empty
    assert p.c0 >= 8 and p.c1 <= 15 and p.b0 >= 1 and p.b1 <= 4
    changed = np.nonzero(np.any(d.values != orig, axis=1))[0]
    assert changed.min() >= p.c0 and changed.max() < p.c1
    assert d.values[11, 2] == pytest.approx(1.0)
    d.apply(p, undo=True)
    np.testing.assert_array_equal(d.values, orig)
    d.apply(p)
    assert d.values[11, 2] == pytest.approx(1.0)


def test_soft_brush_falls_off_and_eraser_reduces():
    d = LayoutDoc(np.zeros((40, 5), np.float32))
    d.begin_stroke()
    d.stamp(20.0, 2.5, Brush(radius_cols=4, radius_bands=0.6, intensity=1.0, softness=1.0))
    d.end_stroke()
    assert d.values[20, 2] > d.values[22, 2] > d.values[23, 2]
    d.begin_stroke()
    d.stamp(20.0, 2.5, Brush(radius_cols=1, radius_bands=0.6, intensity=1.0, softness=0.0, erase=True))
    p = d.end_stroke()
    assert p is not None and d.values[20, 2] == 0.0


def test_empty_stroke_gives_no_patch():
    d = LayoutDoc(np.ones((10, 5), np.float32))
    d.begin_stroke()
    d.stamp(3, 2, Brush(intensity=0.5))  # max() with a lower value changes nothing
    assert d.end_stroke() is None


def test_event_stamp_decays():
    d = LayoutDoc(np.zeros((60, 5), np.float32))
    d.begin_stroke()
    d.stamp_event(1.0, decay=0.3, band_lo=0, band_hi=4, intensity=1.0)
    p = d.end_stroke()
    assert p.c0 == 10
    col = d.values[:, 0]
    assert col[10] == pytest.approx(1.0)
    assert col[11] < col[10] and col[13] < col[11]
    assert d.event_times() == [pytest.approx(1.0)]


def test_move_range_by_whole_and_fractional_columns():
    v = np.zeros((40, 5), np.float32)
    v[10:13] = 1.0
    d = LayoutDoc(v)
    p = d.move_range(1.0, 1.3, 0.5)  # 5 columns later
    d.apply(p)
    assert d.values[10:13].max() == 0.0
    assert d.values[15:18].min() == 1.0
    d.apply(p, undo=True)
    np.testing.assert_array_equal(d.values, v)
    # Half a column (one frame at 20 fps): energy is split between neighbours, not lost.
    p = d.move_range(1.0, 1.3, 0.05)
    d.apply(p)
    assert d.values[:, 0].sum() == pytest.approx(3.0, abs=0.01)
    assert 0 < d.values[10, 0] < 1


def test_stretch_copy_paste_delete_reset():
    v = np.zeros((40, 5), np.float32)
    v[10:14, 1] = [0.2, 0.4, 0.6, 0.8]
    d = LayoutDoc(v.copy(), predicted=v.copy())
    d.apply(d.stretch_range(1.0, 1.4, 1.8))  # 4 → 8 columns
    assert np.count_nonzero(d.values[:, 1]) >= 7
    assert d.values[10, 1] == pytest.approx(0.2) and d.values[17, 1] == pytest.approx(0.8)
    block = d.copy_range(1.0, 1.8)
    d.apply(d.paste(block, 3.0))
    np.testing.assert_allclose(d.values[30:38, 1], block[:, 1])
    d.apply(d.delete_range(1.0, 1.8))
    assert d.values[10:18].max() == 0
    d.apply(d.reset_range(0.0, 2.0))
    np.testing.assert_array_equal(d.values[:20], v[:20])


def test_paste_resamples_bands():
    d = LayoutDoc(np.zeros((20, 5), np.float32))
    block = np.ones((4, 8), np.float32)
    d.apply(d.paste(block, 0.5))
    assert d.values[5:9].min() == pytest.approx(1.0)


def test_timeline_frames_and_selection():
    tl = TimelineState(2.0, Fraction(30000, 1001))
    tl.seek_frame(30)
    assert tl.frame_of(tl.playhead) == 30
    tl.step_frames(1)
    assert tl.frame_of(tl.playhead) == 31
    tl.step_frames(-5)
    assert tl.frame_of(tl.playhead) == 26
    seen = []
    tl.selection_changed.connect(seen.append)
    tl.set_selection((1.5, 0.5))
    assert tl.selection == (0.5, 1.5) and seen == [(0.5, 1.5)]
    assert tl.timecode(1.0) == "00:00:00:29"  # NTSC: frame 29 is still showing at 1.0 s
    assert tl.timecode(1001 / 1000) == "00:00:01:00"
    tl.seek(99)
    assert tl.playhead == 2.0


def test_motion_peaks_and_snap():
    from app.model.snap import motion_curve, motion_peaks, snap_time

    frames = np.zeros((30, 8, 8), np.float32)
    frames[10:] = 1.0  # a cut at frame 10
    frames[20:, :4] = 0.0  # half the picture changes at frame 20
    times = np.arange(30) / 10
    curve = motion_curve(frames)
    peaks = motion_peaks(curve, times)
    assert list(np.round(peaks, 3)) == [1.0, 2.0]
    assert snap_time(1.12, peaks, 0.25) == 1.0
    assert snap_time(1.5, peaks, 0.25) == 1.5


def test_snap_events_moves_each_event_onto_its_target():
    d = LayoutDoc(np.zeros((100, 5), np.float32), 25.0)
    d.begin_stroke()
    for t in (0.52, 1.30, 2.9):
        d.stamp_event(t, decay=0.08, band_lo=0, band_hi=4, intensity=1.0)
    d.end_stroke()
    peaks = np.array([0.6, 1.2, 3.5])
    from app.model.snap import snap_time

    p = d.snap_events(0.0, 2.0, lambda t: snap_time(t, peaks, 0.25))
    d.apply(p)
    assert d.event_times() == [pytest.approx(0.6), pytest.approx(1.2), pytest.approx(2.88)]
    d.apply(p, undo=True)
    assert d.event_times() == [pytest.approx(0.52), pytest.approx(1.28), pytest.approx(2.88)]


def test_snap_events_moves_whole_columns_and_twice_changes_nothing():
    # 29.97 fps frames on a 25 columns/s grid: a frame start inside the event's own column
    # means it is already there; S again must not blur it by another fraction of a column.
    d = LayoutDoc(np.zeros((50, 5), np.float32), 25.0)
    d.begin_stroke()
    d.stamp_event(0.45, decay=0.08, band_lo=0, band_hi=4, intensity=1.0)
    d.end_stroke()
    frames = np.arange(60) * 1001 / 30000
    from app.model.snap import snap_time

    def snap(t):
        return snap_time(t, frames, 0.05)

    assert d.snap_moves(0, 2, snap) == [(pytest.approx(0.44), -1)]  # 0.4338 lies in column 10
    d.apply(d.snap_events(0, 2, snap))
    assert d.event_times() == [pytest.approx(0.40)]
    ref = LayoutDoc(np.zeros((50, 5), np.float32), 25.0)
    ref.begin_stroke()
    ref.stamp_event(0.40, decay=0.08, band_lo=0, band_hi=4, intensity=1.0)
    ref.end_stroke()
    np.testing.assert_array_equal(d.values, ref.values)  # moved, not blended
    assert d.snap_moves(0, 2, snap) == [] and d.snap_events(0, 2, snap) is None
