"""Onset accuracy/AP, ODF DTW/Wasserstein and energy L1 on constructed cases and vs references."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.stats
from test_audio_helpers import clicks, place, read_mono

from engine.audio import resample
from engine.metrics import (
    average_precision,
    dtw_distance,
    energy_l1,
    odf_dtw,
    odf_wasserstein,
    onset_accuracy_ap,
    rms_envelope,
    wasserstein_1d,
)

SR = 16000
REF_TIMES = [0.5, 1.3, 2.2, 3.1]


def test_average_precision_known_values():
    # sklearn.metrics.average_precision_score on these is 0.8333... and 1.0 and 0.5
    assert average_precision(np.array([1, 0, 1, 1]), np.array([0.9, 0.8, 0.7, 0.6])) == pytest.approx(
        (1 / 3) * 1 + (1 / 3) * (2 / 3) + (1 / 3) * (3 / 4)
    )
    assert average_precision(np.array([1, 1, 0]), np.array([0.9, 0.8, 0.1])) == 1.0
    assert average_precision(np.array([0, 1]), np.array([0.9, 0.1])) == 0.5
    # ties share one threshold
    assert average_precision(np.array([1, 0]), np.array([0.5, 0.5])) == 0.5
    assert np.isnan(average_precision(np.array([0, 0]), np.array([0.5, 0.1])))


def test_onset_accuracy_identical_is_perfect():
    ref = clicks(REF_TIMES)
    r = onset_accuracy_ap(ref, SR, reference=ref)
    assert r["onset_acc"] == 1.0 and r["onset_ap"] == 1.0
    assert r["n_reference_onsets"] == 4


def test_onset_accuracy_missing_shifted_and_extra():
    ref = clicks(REF_TIMES)
    assert onset_accuracy_ap(clicks([0.5, 1.3]), SR, reference=ref)["onset_acc"] == 0.5
    # shifts inside the 0.3 s tolerance still count; beyond it they do not
    assert onset_accuracy_ap(clicks([t + 0.2 for t in REF_TIMES]), SR, reference=ref)["onset_acc"] == 1.0
    assert onset_accuracy_ap(clicks([t + 0.4 for t in REF_TIMES]), SR, reference=ref)["onset_acc"] == 0.0
    # a tighter tolerance can be asked for
    r = onset_accuracy_ap(clicks([t + 0.2 for t in REF_TIMES]), SR, reference=ref, tolerance=0.1)
    assert r["onset_acc"] == 0.0
    # louder extra events outrank the hits: accuracy stays 1, AP drops below 1
    extra = clicks(REF_TIMES) + clicks([0.9, 2.6, 3.6], amp=1.0, seed=5)
    r = onset_accuracy_ap(extra, SR, reference=ref)
    assert r["onset_acc"] == 1.0 and r["onset_ap"] < 0.9


def test_onset_accuracy_with_given_times_and_silence():
    r = onset_accuracy_ap(clicks(REF_TIMES), SR, reference_onsets=np.array(REF_TIMES))
    assert r["onset_acc"] == 1.0
    r = onset_accuracy_ap(np.zeros(4 * SR, np.float32), SR, reference_onsets=np.array(REF_TIMES))
    assert r["onset_acc"] == 0.0 and r["onset_ap"] == pytest.approx(1.0)  # only misses (score 0): AP of one class
    with pytest.raises(ValueError):
        onset_accuracy_ap(clicks(REF_TIMES), SR)


def test_dtw_known_values():
    assert dtw_distance([0, 1, 2], [0, 1, 1, 2]) == 0.0  # a repeated sample warps away
    assert dtw_distance([0, 0, 0], [1, 1, 1]) == 3.0
    assert dtw_distance([0, 5], [0, 5, 5, 5, 0]) == 5.0
    # against a plain O(NM) loop on random curves
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(41)
    acc = np.full((31, 42), np.inf)
    acc[0, 0] = 0
    for i in range(1, 31):
        for j in range(1, 42):
            acc[i, j] = abs(a[i - 1] - b[j - 1]) + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    assert dtw_distance(a, b) == pytest.approx(acc[30, 41])


def test_odf_dtw_zero_for_identical_and_counts_events():
    ref = clicks(REF_TIMES)
    assert odf_dtw(ref, SR, ref) == 0.0
    # DTW forgives timing (that is what warping does) but not missing or extra events
    same_events = odf_dtw(clicks(REF_TIMES, seed=2), SR, ref)
    missing = odf_dtw(clicks([0.5]), SR, ref)
    extra = odf_dtw(clicks(REF_TIMES + [0.9, 1.8, 2.6, 3.5], seed=2), SR, ref)
    assert same_events < 5.0
    assert missing > 3 * same_events and extra > 3 * same_events


def test_wasserstein_matches_scipy_and_shift():
    rng = np.random.default_rng(1)
    ta, tb = np.arange(50) * 0.023, np.arange(60) * 0.023
    wa, wb = rng.random(50), rng.random(60)
    assert wasserstein_1d(ta, wa, tb, wb) == pytest.approx(scipy.stats.wasserstein_distance(ta, tb, wa, wb))
    ref = clicks(REF_TIMES)
    assert odf_wasserstein(ref, SR, ref) == 0.0
    shifted = odf_wasserstein(clicks([t + 0.5 for t in REF_TIMES]), SR, ref)
    assert shifted == pytest.approx(0.5, abs=0.03)
    assert np.isnan(odf_wasserstein(np.zeros(4 * SR, np.float32), SR, ref))


def test_rms_matches_librosa_on_real_recording(real_media):
    y, sr = read_mono(real_media("sfx_footstep"))
    y16 = resample(y, sr, 16000)
    ours = rms_envelope(y16, 16000)
    ref = librosa.feature.rms(y=y16, frame_length=512, hop_length=128, center=True, pad_mode="constant")[0]
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_energy_l1_known_cases(real_media):
    ref = clicks(REF_TIMES)
    assert energy_l1(ref, SR, ref) == 0.0
    assert energy_l1(np.zeros_like(ref), SR, ref) == pytest.approx(rms_envelope(ref, SR).mean())
    assert energy_l1(ref * 0.5, SR, ref) == pytest.approx(0.5 * rms_envelope(ref, SR).mean(), rel=1e-6)
    y, sr = read_mono(real_media("sfx_snow"))
    seq = place([y, y], [0.5, 2.0], 3.0, sr)
    moved = place([y, y], [0.9, 2.0], 3.0, sr)
    assert 0 < energy_l1(moved, sr, seq) < energy_l1(np.zeros_like(seq), sr, seq)
