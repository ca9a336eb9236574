"""Onset strength / detection against librosa on real recordings, and on known clicks.

Tolerance: onset envelope max abs diff < 1e-3 (absolute, envelopes peak at 0.7-6; measured
~1e-6); detected onset frames identical.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from test_audio_helpers import clicks, place, read_mono

from engine.audio import (
    ADHERENCE_ONSETS,
    OnsetConfig,
    detect_onsets,
    detect_onsets_from_envelope,
    onset_strength,
    peak_pick,
    resample,
)

SFX = ("sfx_explode", "sfx_footstep", "sfx_snow")


@pytest.fixture(scope="module")
def real_signals(real_media):
    out = {}
    sounds = []
    for key in SFX:
        y, sr = read_mono(real_media(key))
        y22 = resample(y, sr, 22050)
        out[key] = y22
        sounds.append(y22)
    # a longer real sequence: the three recordings, each twice, at irregular times
    out["sequence"] = place(sounds * 2, [0.3, 1.9, 2.6, 3.4, 4.45, 5.1], 6.5, 22050)
    return out


@pytest.mark.parametrize("delta", [0.07, 0.3])
def test_onsets_match_librosa_on_real_recordings(real_signals, delta):
    for name, y in real_signals.items():
        ours = onset_strength(y, 22050)
        ref = librosa.onset.onset_strength(y=y, sr=22050)
        assert ours.shape == ref.shape, name
        assert np.abs(ours - ref).max() < 1e-3, name
        got = detect_onsets_from_envelope(ours, 22050, 512, delta=delta)
        want = librosa.onset.onset_detect(onset_envelope=ref, sr=22050, delta=delta)
        np.testing.assert_array_equal(got, want, err_msg=name)
        want_t = librosa.onset.onset_detect(y=y, sr=22050, delta=delta, units="time")
        np.testing.assert_allclose(detect_onsets(y, 22050, OnsetConfig(delta=delta)), want_t, atol=1e-9)


def test_sequence_has_onsets_near_every_placed_sound(real_signals):
    on = detect_onsets(real_signals["sequence"], 22050)
    for t in [0.3, 1.9, 2.6, 3.4, 4.45, 5.1]:
        assert np.min(np.abs(on - t)) < 0.05, (t, on)


def test_onsets_match_librosa_on_real_soundtrack(real_media):
    from engine.media import read_audio

    y, sr = read_audio(real_media("bbb_51"), sample_rate=22050)
    got = detect_onsets(y, sr)
    want = librosa.onset.onset_detect(y=y, sr=sr, units="time")
    assert len(want) > 5
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_finer_detector_matches_librosa_with_same_settings(real_signals):
    y16 = resample(real_signals["sequence"], 22050, 16000)
    env = onset_strength(y16, 16000, ADHERENCE_ONSETS)
    ref = librosa.onset.onset_strength(y=y16, sr=16000, n_fft=1024, hop_length=160, n_mels=64, fmax=8000.0)
    assert np.abs(env - ref).max() < 1e-3
    want = librosa.onset.onset_detect(onset_envelope=ref, sr=16000, hop_length=160)
    np.testing.assert_array_equal(detect_onsets_from_envelope(env, 16000, 160), want)


def test_peak_pick_matches_librosa_on_random_curves():
    rng = np.random.default_rng(7)
    for trial in range(40):
        x = rng.random(int(rng.integers(5, 300)))
        kw = dict(
            pre_max=int(rng.integers(0, 5)), post_max=int(rng.integers(1, 5)), pre_avg=int(rng.integers(0, 8)),
            post_avg=int(rng.integers(1, 8)), delta=float(rng.random() * 0.3), wait=int(rng.integers(0, 5)),
        )
        np.testing.assert_array_equal(peak_pick(x, **kw), librosa.util.peak_pick(x, **kw), err_msg=str((trial, kw)))


def test_clicks_are_found_at_their_times():
    times = [0.5, 1.25, 2.0, 3.3]
    on = detect_onsets(clicks(times, sr=16000), 16000)
    assert len(on) == len(times)
    assert np.max(np.abs(on - np.array(times))) < 0.035  # one 23 ms hop plus framing


def test_silence_and_constant_have_no_onsets():
    assert detect_onsets(np.zeros(22050, np.float32), 22050).size == 0
    assert detect_onsets(np.zeros(0, np.float32), 22050).size == 0
