"""librosa-style onset strength, peak picking and onset detection (numpy/scipy only).

Reproduces ``librosa.onset.onset_strength`` / ``onset_detect`` defaults: a 128-band power mel
spectrogram (n_fft 2048, centred with zero padding), converted to dB (ref 1, amin 1e-10,
top_db 80), spectral flux (positive first difference, lag 1) averaged over bands, shifted by
``lag + n_fft // (2 * hop)`` frames; detection min-max normalises the envelope and runs the
greedy peak picker with pre_max 30 ms, post_max 0 ms+1, pre_avg 100 ms, post_avg 100 ms+1,
wait 30 ms and ``delta`` (0.07 by default). Tests compare against librosa on real recordings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.audio.dsp import resample
from engine.audio.mel import _mono_float, mel_filterbank, stft_mag


@dataclass(frozen=True)
class OnsetConfig:
    """Detector settings. The defaults are librosa's (and TempoTokens' AV-Align)."""

    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmax: float | None = None  # None = sr / 2
    delta: float = 0.07

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length


#: Finer detector used by layout adherence (10 ms frames at 16 kHz; same algorithm).
ADHERENCE_ONSETS = OnsetConfig(sample_rate=16000, n_fft=1024, hop_length=160, n_mels=64, fmax=8000.0)


def power_to_db(s: np.ndarray, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    log_spec = 10.0 * np.log10(np.maximum(amin, s))
    if top_db is not None and log_spec.size:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


def onset_strength(audio: np.ndarray, sr: int, cfg: OnsetConfig = OnsetConfig()) -> np.ndarray:
    """Onset strength envelope (one value per hop), as ``librosa.onset.onset_strength``.

    ``audio`` is resampled from ``sr`` to ``cfg.sample_rate`` first.
    """
    y = resample(_mono_float(audio), sr, cfg.sample_rate)
    if len(y) == 0:
        return np.zeros(0, dtype=np.float32)
    mag = stft_mag(y, cfg.n_fft, cfg.hop_length, center="librosa")
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, 0.0, cfg.fmax)
    s_db = power_to_db((mag.astype(np.float32) ** 2) @ fb.T)  # [T, n_mels]
    n = s_db.shape[0]
    flux = np.maximum(0.0, s_db[1:] - s_db[:-1]).mean(axis=1) if n > 1 else np.zeros(0)
    pad = 1 + cfg.n_fft // (2 * cfg.hop_length)
    env = np.concatenate([np.zeros(pad), flux])[:n]
    return env.astype(np.float32)


def normalize_envelope(env: np.ndarray) -> np.ndarray:
    """Shift to min 0 and scale to max 1 (librosa ``onset_detect(normalize=True)``)."""
    env = np.asarray(env, dtype=np.float64)
    if env.size == 0:
        return env
    env = env - env.min()
    return env / (env.max() + np.finfo(np.float64).tiny)


def peak_pick(
    x: np.ndarray, pre_max: int, post_max: int, pre_avg: int, post_avg: int, delta: float, wait: int
) -> np.ndarray:
    """Greedy peak picker with librosa's exact semantics; returns frame indices."""
    x = np.asarray(x, dtype=np.float64)
    n_total = x.shape[0]
    if n_total == 0:
        return np.zeros(0, dtype=int)
    # Sliding max over [n - pre_max, n + post_max) and mean over [n - pre_avg, n + post_avg),
    # computed once; the greedy walk only reads them.
    xp = np.concatenate([np.full(pre_max, -np.inf), x, np.full(post_max, -np.inf)])
    mov_max = np.lib.stride_tricks.sliding_window_view(xp, pre_max + post_max).max(axis=1)[:n_total]
    csum = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(n_total)
    lo = np.maximum(0, idx - pre_avg)
    hi = np.minimum(n_total, idx + post_avg)
    mov_avg = (csum[hi] - csum[lo]) / np.maximum(1, hi - lo)

    peaks: list[int] = []
    # Frame 0 uses librosa's special case: compare with x[:post_max] and x[:post_avg].
    first = x[0] >= x[: min(post_max, n_total)].max() and x[0] >= x[: min(post_avg, n_total)].mean() + delta
    n = 1
    if first:
        peaks.append(0)
        n = wait + 1
    while n < n_total:
        if x[n] == mov_max[n] and x[n] >= mov_avg[n] + delta:
            peaks.append(n)
            n += wait + 1
        else:
            n += 1
    return np.asarray(peaks, dtype=int)


def detect_onsets_from_envelope(
    env: np.ndarray, sr: int, hop_length: int, delta: float = 0.07, normalize: bool = True
) -> np.ndarray:
    """Onset frame indices from an envelope with librosa's default peak-picking windows."""
    env = normalize_envelope(env) if normalize else np.asarray(env, dtype=np.float64)
    if env.size == 0 or not env.any() or not np.all(np.isfinite(env)):
        return np.zeros(0, dtype=int)

    def w(sec: float, plus: int = 0) -> int:
        return int(math.ceil(sec * sr // hop_length + plus))  # librosa's arithmetic, verbatim

    return peak_pick(env, pre_max=w(0.03), post_max=w(0.0, 1), pre_avg=w(0.10), post_avg=w(0.10, 1), delta=delta, wait=w(0.03))


def detect_onsets(audio: np.ndarray, sr: int, cfg: OnsetConfig = OnsetConfig(), delta: float | None = None) -> np.ndarray:
    """Onset times in seconds (frame index × hop / sr), as ``librosa.onset.onset_detect(units='time')``."""
    env = onset_strength(audio, sr, cfg)
    frames = detect_onsets_from_envelope(env, cfg.sample_rate, cfg.hop_length, cfg.delta if delta is None else delta)
    return frames.astype(np.float64) * cfg.hop_length / cfg.sample_rate


def onset_detection_function(audio: np.ndarray, sr: int, cfg: OnsetConfig = OnsetConfig()) -> tuple[np.ndarray, np.ndarray]:
    """ODF curve (onset strength) and the time of each value in seconds."""
    env = onset_strength(audio, sr, cfg)
    times = np.arange(len(env)) * cfg.hop_length / cfg.sample_rate
    return env, times
