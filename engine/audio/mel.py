"""STFT and log-mel spectrogram (AudioLDM2-family defaults), numpy only.

The mel filterbank is librosa's default (Slaney mel scale, Slaney area normalisation), so
features match librosa/AudioLDM checkpoints. Framing follows AudioLDM: the signal is padded
(reflect) by ``(n_fft - hop) / 2`` on the left so that frame ``t`` is centred on the middle of
samples ``[t*hop, (t+1)*hop)``; ``T = ceil(len / hop)`` frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

LOG_FLOOR = 1e-5  # AudioLDM's dynamic-range compression: log(max(x, 1e-5))


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 160
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float = 8000.0
    power: float = 1.0  # 1 = magnitude mel (AudioLDM), 2 = power mel

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length


# ---------------------------------------------------------------- mel scale (Slaney) ----
def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above (librosa ``htk=False``)."""
    f = np.asanyarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, mels)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    m = np.asanyarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


@lru_cache(maxsize=32)
def _mel_filterbank_cached(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])  # Slaney: constant energy per band
    weights *= enorm[:, None]
    out = weights.astype(np.float32)
    out.setflags(write=False)
    return out


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """[n_mels, n_fft//2+1] float32 triangular filters, as ``librosa.filters.mel`` defaults."""
    return _mel_filterbank_cached(int(sr), int(n_fft), int(n_mels), float(fmin), float(fmax if fmax is not None else sr / 2))


# ------------------------------------------------------------------------- STFT ----
@lru_cache(maxsize=16)
def hann_window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window (scipy ``get_window('hann', N, fftbins=True)``), zero-padded to n_fft."""
    n = np.arange(win_length)
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        w = np.pad(w, (left, n_fft - win_length - left))
    w = w.astype(np.float32)
    w.setflags(write=False)
    return w


def frame_signal(y: np.ndarray, n_fft: int, hop: int, n_frames: int) -> np.ndarray:
    """[n_frames, n_fft] strided view; ``y`` must hold ``(n_frames-1)*hop + n_fft`` samples."""
    return np.lib.stride_tricks.as_strided(
        y, shape=(n_frames, n_fft), strides=(y.strides[0] * hop, y.strides[0]), writeable=False
    )


def audioldm_pad(y: np.ndarray, n_fft: int, hop: int) -> tuple[np.ndarray, int]:
    """Pad as AudioLDM does (reflect, (n_fft-hop)/2 left) plus enough on the right for ceil(len/hop) frames."""
    n = len(y)
    n_frames = max(1, math.ceil(n / hop))
    left = (n_fft - hop) // 2
    need = (n_frames - 1) * hop + n_fft
    right = need - n - left
    mode = "reflect" if n > max(left, right) else "constant"
    yp = np.pad(y, (left, max(0, right)), mode=mode)
    return yp[:need], n_frames


def stft_mag(y: np.ndarray, n_fft: int, hop: int, win_length: int | None = None, center: str = "audioldm") -> np.ndarray:
    """|STFT| as [frames, n_fft//2+1] float32.

    ``center``: "audioldm" (see module doc), "librosa" (librosa ``center=True``,
    zero padding n_fft//2 each side, 1 + len//hop frames) or "none".
    """
    y = np.ascontiguousarray(y, dtype=np.float32)
    win = hann_window(win_length or n_fft, n_fft)
    if center == "audioldm":
        yp, n_frames = audioldm_pad(y, n_fft, hop)
    elif center == "librosa":
        yp = np.pad(y, (n_fft // 2, n_fft // 2))
        n_frames = 1 + (len(yp) - n_fft) // hop
    elif center == "none":
        yp = y if len(y) >= n_fft else np.pad(y, (0, n_fft - len(y)))
        n_frames = 1 + (len(yp) - n_fft) // hop
    else:
        raise ValueError(f"unknown centering {center!r}")
    yp = np.ascontiguousarray(yp, dtype=np.float32)
    frames = frame_signal(yp, n_fft, hop, n_frames)
    out = np.empty((n_frames, n_fft // 2 + 1), dtype=np.float32)
    # Chunked so a long file never holds a huge complex array.
    for s in range(0, n_frames, 4096):
        out[s : s + 4096] = np.abs(np.fft.rfft(frames[s : s + 4096] * win, axis=-1))
    return out


def mel_spectrogram(audio: np.ndarray, cfg: MelConfig = MelConfig()) -> np.ndarray:
    """Linear mel spectrogram [T, n_mels] (magnitude**cfg.power through the filterbank)."""
    audio = _mono_float(audio)
    mag = stft_mag(audio, cfg.n_fft, cfg.hop_length, cfg.win_length, center="audioldm")
    if cfg.power != 1.0:
        mag = mag**cfg.power
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
    return mag @ fb.T


def log_mel(audio: np.ndarray, cfg: MelConfig = MelConfig()) -> np.ndarray:
    """Natural-log mel spectrogram [T, n_mels] float32, floor 1e-5, T = ceil(len / hop).

    ``audio`` must already be at ``cfg.sample_rate``. Equals
    ``log(max(librosa.feature.melspectrogram(y=pad(audio), sr, n_fft, hop, win, center=False,
    power=cfg.power, n_mels, fmin, fmax), 1e-5))`` with the AudioLDM padding (tested to 1e-3).
    """
    return np.log(np.maximum(mel_spectrogram(audio, cfg), LOG_FLOOR)).astype(np.float32)


def _mono_float(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 2:
        a = a.mean(axis=1)
    if a.ndim != 1:
        raise ValueError(f"audio must be 1-D (or [n, channels]), got shape {a.shape}")
    return a
