"""Whole-job time estimate and thumbnail-strip slots (no Qt)."""

from __future__ import annotations

import threading

import pytest

from app.model.eta import JobEta, format_duration, split_stage
from app.model.thumbs import LatestRequest, grid_step, nearest, visible_slots


def test_split_stage_reads_lane_prefix():
    assert split_stage("Wind (2/3): sampling") == (1, 3, "sampling")
    assert split_stage("Footsteps: vocoder") == (0, 1, "vocoder")
    assert split_stage("Exporting") == (0, 1, "exporting")


def _simulated_job(lanes: int = 2, lane_s: float = 10.0):
    """(stage, fraction, t) reports of a generation whose stages take their nominal share."""
    from app.model.eta import STAGE_WEIGHTS

    t, out = 0.0, []
    for k in range(lanes):
        for stage in ("decoding", "features", "layout", "sampling", "vocoder"):
            dur = STAGE_WEIGHTS[stage] * lane_s
            n = max(1, int(dur / 0.1))
            for i in range(n + 1):
                out.append((f"L ({k + 1}/{lanes}): {stage}", i / n, t + dur * i / n))
            t += dur
    return out, t


def test_estimating_until_enough_data_then_whole_job_remaining():
    eta = JobEta(min_fraction=0.05, min_elapsed=1.5)
    eta.start(0.0)
    eta.update("L (1/2): decoding", 0.0, 0.0)
    eta.update("L (1/2): decoding", 0.5, 0.4)
    assert eta.remaining(0.4) is None
    assert "estimating" in eta.text(0.4)
    reports, total = _simulated_job()
    for stage, frac, t in reports:
        eta.update(stage, frac, t)
        if "(1/2)" in stage:
            assert eta.fraction <= 0.5 + 1e-9  # lane 1 of 2 is at most half the job
        if t > 3.0:
            # the whole job's remaining time, not the current stage's
            assert eta.remaining(t) == pytest.approx(total - t, abs=0.15 * total)
    mid = total / 2
    eta2 = JobEta()
    eta2.start(0.0)
    for stage, frac, t in reports:
        if t <= mid:
            eta2.update(stage, frac, t)
    rem = eta2.remaining(mid)
    assert rem == pytest.approx(mid, rel=0.15)
    assert eta2.remaining(mid + 2.0) == pytest.approx(rem - 2.0)  # counts down between reports
    assert "elapsed" in eta2.text(mid) and "left" in eta2.text(mid)


def test_fraction_never_runs_backwards_and_stages_accumulate():
    eta = JobEta()
    eta.start(0.0)
    eta.update("loading pack", 0.0, 0.1)
    eta.update("Lane: decoding", 0.0, 1.0)
    eta.update("Lane: features", 1.0, 2.0)
    f_feat = eta.fraction
    eta.update("Lane: sampling", 0.0, 2.1)
    assert eta.fraction >= f_feat
    eta.update("Lane: sampling", 1.0, 8.0)
    f_samp = eta.fraction
    assert f_samp > 0.8
    eta.update("Lane: features", 0.0, 8.1)  # a late or odd report must not move the bar back
    assert eta.fraction >= f_samp
    eta.update("analysing takes", 1.0, 9.0)
    assert eta.fraction == pytest.approx(1.0)
    assert eta.remaining(9.0) == pytest.approx(0.0, abs=1e-6)


def test_smoothing_damps_a_sudden_jump():
    eta = JobEta(min_fraction=0.0, min_elapsed=0.0, smoothing=0.3)
    eta.start(0.0)
    for i in range(1, 11):
        eta.update("x: sampling", i * 0.02, i * 1.0)  # 2 %/s → about 40 s left at 20 %
    before = eta.remaining(10.0)
    eta.update("x: sampling", 0.6, 10.5)  # one wild report
    raw = 10.5 * 0.4 / 0.6
    after = eta.remaining(10.5)
    assert raw < after < before  # moved towards the new evidence, not all the way


def test_reset_clears():
    eta = JobEta(min_fraction=0.0, min_elapsed=0.0)
    eta.start(0.0)
    eta.update("a: sampling", 0.5, 1.0)
    assert eta.running and eta.remaining(1.0) is not None
    eta.reset()
    assert not eta.running and eta.text(2.0) == "" and eta.remaining(2.0) is None


def test_format_duration():
    assert format_duration(5.4) == "0:05"
    assert format_duration(75) == "1:15"
    assert format_duration(3725) == "1:02:05"


def test_slots_get_denser_when_zooming_in_and_coarse_frames_are_reused():
    fd, n = 1 / 25, 250  # 10 s at 25 fps
    full = visible_slots(0, 10, fd, n, thumb_s=1.0)  # a thumbnail is 1 s wide at this zoom
    assert grid_step(1.0, fd) == 16 and len(full) == 10
    assert full[0].t0 == 0 and full[-1].t1 == pytest.approx(10)
    assert [s.index for s in full[:3]] == [0, 32, 64]  # first grid frame inside each span
    assert all(s.t0 <= s.index * fd < s.t1 + 1e-9 or s.index == n - 1 for s in full)
    zoom = visible_slots(2.5, 5.0, fd, n, thumb_s=0.25)  # 4× in: same strip width
    assert zoom[0].t0 <= 2.5 and zoom[-1].t1 >= 5.0  # the visible range is covered
    in_range_before = {s.index for s in full if s.t1 > 2.5 and s.t0 < 5.0}
    assert len({s.index for s in zoom}) > len(in_range_before)
    assert len({s.index for s in zoom}) == len(zoom)  # no neighbour shows the same frame
    # the coarse frames are on the fine grid too: zooming out again needs no new decode
    assert all(s.index % grid_step(0.25, fd) == 0 for s in full)
    # panning by a whole thumbnail keeps the frames that stay visible
    panned = visible_slots(3.0, 5.5, fd, n, thumb_s=0.25)
    assert {s.index for s in zoom} & {s.index for s in panned} == {s.index for s in zoom if s.t0 >= 3.0}
    # far in: thumbnails narrower than a frame repeat it, never past the last frame
    close = visible_slots(9.9, 10.5, fd, n, thumb_s=0.02)
    assert {s.index for s in close} == {248, 249} and close[-1].t1 == pytest.approx(10)


def test_nearest_cached_frame():
    assert nearest(10, []) is None
    assert nearest(10, [0, 8, 16]) == 8
    assert nearest(13, [0, 8, 16]) == 16
    assert nearest(99, [0, 8, 16]) == 16


def test_latest_request_drops_stale_indices():
    q = LatestRequest()
    q.replace([1, 2, 3])
    assert q.pop() == 1
    q.replace([7, 8])  # the editor scrolled on: 2 and 3 are no longer wanted
    assert q.dropped == 2
    assert q.pop() == 7 and q.pending() == [8]
    assert q.pop() == 8
    got = []
    th = threading.Thread(target=lambda: got.append(q.pop()))
    th.start()
    q.replace([])  # nothing new wanted: the waiting consumer must keep waiting
    th.join(0.2)
    assert th.is_alive() and got == []
    q.replace([5])
    th.join(2)
    assert got == [5]
    th = threading.Thread(target=lambda: got.append(q.pop()))
    th.start()
    q.close()
    th.join(2)
    assert got == [5, None]
    assert q.pop() is None
    assert q.pop(timeout=0.01) is None
