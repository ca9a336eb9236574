"""Log-mel and filterbank: shape rules, known tones, and agreement with librosa.

Tolerance vs librosa (stated in docs/METRICS.md): filterbank max abs diff < 1e-6; log-mel
(same AudioLDM padding, librosa center=False) max abs diff < 1e-3 nats on real recordings
(measured ~1e-6: float32 rounding only).
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
from test_audio_helpers import read_mono

from engine.audio import MelConfig, log_mel, mel_filterbank, resample
from engine.audio.mel import audioldm_pad, hz_to_mel, mel_to_hz


def test_filterbank_matches_librosa():
    for sr, n_fft, n_mels, fmax in [(16000, 1024, 64, 8000.0), (22050, 2048, 128, 11025.0), (44100, 2048, 80, 16000.0)]:
        ours = mel_filterbank(sr, n_fft, n_mels, 0.0, fmax)
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=fmax)
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_mel_scale_round_trip():
    f = np.array([0.0, 100.0, 999.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(hz_to_mel(f), librosa.hz_to_mel(f), rtol=1e-9)


@pytest.mark.parametrize("n", [1, 159, 160, 161, 16000, 163840])
def test_frame_count_is_ceil_len_over_hop(n):
    y = np.random.default_rng(0).standard_normal(n).astype(np.float32) * 0.1
    m = log_mel(y)
    assert m.shape == (math.ceil(n / 160), 64)
    assert m.dtype == np.float32


def test_1024_frames_for_10_24_s():
    assert log_mel(np.zeros(163840, np.float32)).shape == (1024, 64)


def test_silence_is_log_floor():
    m = log_mel(np.zeros(16000, np.float32))
    np.testing.assert_allclose(m, math.log(1e-5), atol=1e-6)


def test_tone_lands_in_its_band_and_time():
    sr = 16000
    t = np.arange(2 * sr) / sr
    y = np.where((t >= 0.5) & (t < 1.5), np.sin(2 * np.pi * 2000 * t), 0.0).astype(np.float32)
    m = log_mel(y)
    fb = mel_filterbank(16000, 1024, 64, 0, 8000)
    band = int(np.argmax(fb[:, int(round(2000 / (sr / 1024)))]))
    assert abs(int(np.argmax(m[100])) - band) <= 1  # frame 100 = 1.0 s
    assert m[20, band] < -10 and m[180, band] < -10  # 0.2 s and 1.8 s: silent
    # frame t covers [t*hop, (t+1)*hop) at its centre: the tone starts in frame 50
    assert m[52, band] > m[44, band] + 5


def test_log_mel_matches_librosa_on_real_recordings(real_media):
    cfg = MelConfig()
    worst = 0.0
    for key in ("sfx_explode", "sfx_footstep", "sfx_snow"):
        y, sr = read_mono(real_media(key))
        y16 = resample(y, sr, 16000)
        ours = log_mel(y16, cfg)
        padded, n_frames = audioldm_pad(y16, cfg.n_fft, cfg.hop_length)
        ref = librosa.feature.melspectrogram(
            y=padded, sr=16000, n_fft=1024, hop_length=160, win_length=1024, center=False,
            power=1.0, n_mels=64, fmin=0.0, fmax=8000.0,
        )
        ref = np.log(np.maximum(ref, 1e-5)).T
        assert ours.shape == ref.shape == (n_frames, 64)
        worst = max(worst, float(np.abs(ours - ref).max()))
    assert worst < 1e-3, worst


def test_stft_matches_librosa_centred():
    y = np.random.default_rng(3).standard_normal(8000).astype(np.float32) * 0.3
    from engine.audio import stft_mag

    s = stft_mag(y, 1024, 160)
    ref_librosa = np.abs(librosa.stft(y, n_fft=1024, hop_length=160, center=True, pad_mode="constant")).T
    ours_librosa = stft_mag(y, 1024, 160, center="librosa")
    np.testing.assert_allclose(ours_librosa, ref_librosa, atol=2e-4)
    assert s.shape[0] == 50
