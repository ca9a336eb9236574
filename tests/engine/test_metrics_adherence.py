"""Layout adherence: events of painted layouts, scores for generated audio, evaluate()."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_audio_helpers import clicks, place, read_mono

from engine.audio import layout_from_audio, resample
from engine.metrics import evaluate, event_spans_from_layout, events_from_layout, layout_adherence
from engine.types import AudioLayout

SR = 16000


def painted(columns: list[tuple[int, int]], n: int = 40, cps: float = 10.0, level: float = 0.8) -> AudioLayout:
    """Layout with blocks of ``level`` over [start, end) columns on a 0.05 background."""
    v = np.full((n, 5), 0.05, np.float32)
    for a, b in columns:
        v[a:b] = level
    return AudioLayout(v, cps)


def test_events_of_painted_steps():
    lay = painted([(5, 8), (20, 22), (31, 35)])
    ev = events_from_layout(lay)
    # a 0 -> 1 step at column k reads as k + 0.2 columns (the 70 % rise point)
    np.testing.assert_allclose(ev, [0.52, 2.02, 3.12], atol=1e-6)
    spans = event_spans_from_layout(lay)
    assert [round(e, 6) for _, e in spans] == [0.8, 2.2, 3.5]


def test_events_respect_rate_gap_and_flat_layouts():
    assert events_from_layout(painted([(10, 20)], n=100, cps=25.0)) == pytest.approx([0.408])
    # a one-column dip inside an event is closer than 0.1 s: merged into one event
    assert len(events_from_layout(painted([(5, 10), (11, 15)], cps=25.0))) == 1
    assert len(events_from_layout(painted([(5, 10), (11, 15)], cps=10.0))) == 2
    assert events_from_layout(painted([])) == []
    assert events_from_layout(AudioLayout(np.full((20, 5), 0.7, np.float32))) == []
    assert events_from_layout(painted([(0, 3)])) == [0.0]


def test_an_edge_in_the_first_column_rises_like_any_other():
    # A soft-brushed event at 40 ms: its ramp reaches column 0. It must read where the same
    # ramp reads anywhere else in the clip, not at 0.0 s.
    ramp = [0.25, 0.6, 0.8, 0.8, 0.8, 0.3]
    first = np.full((60, 5), 0.05, np.float32)
    first[: len(ramp)] = np.array(ramp)[:, None]
    later = np.full((60, 5), 0.05, np.float32)
    later[20 : 20 + len(ramp)] = np.array(ramp)[:, None]
    (t_first,), (t_later,) = events_from_layout(AudioLayout(first, 25.0)), events_from_layout(AudioLayout(later, 25.0))
    assert t_first > 0.02
    assert t_first == pytest.approx(t_later - 20 / 25.0, abs=1e-6)
    # a clip that opens on a sound already at full level still has its event at 0.0
    loud = first.copy()
    loud[0] = 0.8
    assert events_from_layout(AudioLayout(loud, 25.0)) == [0.0]
    # a quiet swell from column 0 that crosses the event threshold at column 3 (a big event
    # elsewhere sets the range): column 0 is already past the rise point measured from the
    # floor, so the swell's own rise counts, as it did before the floor rule
    swell = np.zeros((60, 5), np.float32)
    swell[:8] = np.array([0.25, 0.27, 0.29, 0.31, 0.33, 0.35, 0.35, 0.0])[:, None]
    swell[30:35] = 1.0
    assert events_from_layout(AudioLayout(swell, 25.0))[0] == pytest.approx(0.16, abs=1e-6)


def test_clicks_on_the_events_score_well():
    lay = painted([(5, 7), (13, 15), (22, 24), (31, 33)])
    ev = events_from_layout(lay)
    r = layout_adherence(lay, clicks(ev), SR)
    assert r["recall_40ms"] == 1.0
    assert r["median_error_s"] < 0.02
    assert r["outside_rate"] == 0.0
    assert r["envelope_corr"] > 0.6  # 80 ms clicks vs 200 ms painted blocks
    assert r["n_target_events"] == 4


def test_missing_extra_shifted_and_silent():
    lay = painted([(5, 7), (13, 15), (22, 24), (31, 33)])
    ev = events_from_layout(lay)
    missing = layout_adherence(lay, clicks(ev[:2]), SR)
    assert missing["recall_40ms"] == 0.5 and missing["outside_rate"] == 0.0
    extra = layout_adherence(lay, clicks(ev + [1.0, 2.8]), SR)
    assert extra["recall_40ms"] == 1.0
    assert extra["outside_rate"] == pytest.approx(2 / 6) and extra["n_outside"] == 2
    shifted = layout_adherence(lay, clicks([t + 0.25 for t in ev]), SR)
    assert shifted["recall_40ms"] == 0.0 and math.isnan(shifted["median_error_s"])
    silent = layout_adherence(lay, np.zeros(4 * SR, np.float32), SR)
    assert silent["recall_40ms"] == 0.0 and silent["n_detected_onsets"] == 0
    assert silent["outside_rate"] == 0.0 and math.isnan(silent["envelope_corr"])
    # the correlation ranks: on-time audio > shifted audio
    good = layout_adherence(lay, clicks(ev), SR)["envelope_corr"]
    assert good > shifted["envelope_corr"] + 0.3


def test_real_recordings_against_their_own_layout(real_media):
    sr = 44100
    rs = [resample(*read_mono(real_media(k)), sr) for k in ("sfx_footstep", "sfx_snow", "sfx_explode")]
    times = [0.4, 1.6, 2.5, 3.9, 5.2]
    y = place([rs[0], rs[1], rs[2], rs[0], rs[1]], times, 7.0, sr)
    lay = layout_from_audio(y, sr)
    ev = events_from_layout(lay)
    assert len(ev) == len(times)
    assert np.max(np.abs(np.array(ev) - times)) < 0.05  # events found where the sounds start
    r = layout_adherence(lay, y, sr)
    assert r["recall_40ms"] >= 0.8 and r["envelope_corr"] > 0.95
    # the same sounds half a second late: the layout no longer fits
    late = place([rs[0], rs[1], rs[2], rs[0], rs[1]], [t + 0.5 for t in times], 7.5, sr)
    r_late = layout_adherence(lay, late, sr)
    assert r_late["recall_40ms"] <= 0.2 and r_late["envelope_corr"] < r["envelope_corr"] - 0.3


def test_evaluate_reports_what_applies(tmp_path):
    ref = clicks([0.5, 1.3, 2.2, 3.1])
    only_ref = evaluate(None, ref, SR, reference=ref)
    for k in ("aa_align", "onset_acc", "onset_ap", "odf_dtw", "odf_wasserstein_s", "energy_l1"):
        assert k in only_ref
    assert only_ref["aa_align"] == 1.0 and "av_align" not in only_ref
    lay = layout_from_audio(ref, SR)
    with_layout = evaluate(None, ref, SR, reference=(ref, SR), layout=lay)
    assert with_layout["layout_recall_40ms"] == 1.0
    bare = evaluate(None, ref, SR)
    assert set(bare) == {"duration_s", "sample_rate"}
