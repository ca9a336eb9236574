"""Griffin-Lim inversion of a log-mel: the always-available vocoder (numpy only).

Mel -> linear magnitude by the filterbank's pseudo-inverse (clipped at 0; no NNLS, which is
~100x slower), then fast Griffin-Lim (Perraudin et al. 2013, momentum 0.99 as librosa) with
vectorised float32 scipy.fft rfft/irfft and a strided overlap-add (ceil(n_fft/hop) array adds). The framing is the same as ``log_mel``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft

from engine.audio.mel import MelConfig, frame_signal, hann_window, mel_filterbank


@lru_cache(maxsize=8)
def _mel_pinv(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax).astype(np.float64)
    out = np.linalg.pinv(fb).astype(np.float32)  # [n_freq, n_mels]
    out.setflags(write=False)
    return out


def mel_to_linear(mel_linear: np.ndarray, cfg: MelConfig = MelConfig()) -> np.ndarray:
    """Linear-frequency magnitude [T, n_fft//2+1] from a (non-log) mel [T, n_mels]."""
    inv = _mel_pinv(cfg.sample_rate, cfg.n_fft, cfg.n_mels, float(cfg.fmin), float(cfg.fmax))
    mag = np.maximum(0.0, mel_linear @ inv.T)
    if cfg.power != 1.0:
        mag = mag ** (1.0 / cfg.power)
    return mag.astype(np.float32)


def _overlap_add(frames: np.ndarray, hop: int, total: int) -> np.ndarray:
    """Sum frames [T, n] placed every ``hop`` samples: ceil(n/hop) strided adds, no Python loop over T."""
    n_frames, n = frames.shape
    k = -(-n // hop)
    padded = np.zeros((n_frames, k * hop), dtype=np.float32)
    padded[:, :n] = frames
    blocks = padded.reshape(n_frames, k, hop)
    out = np.zeros((n_frames + k - 1, hop), dtype=np.float32)
    for j in range(k):
        out[j : j + n_frames] += blocks[:, j, :]
    return out.reshape(-1)[:total]


def _istft(spec: np.ndarray, cfg: MelConfig, length: int, win: np.ndarray, inv_wsum: np.ndarray) -> np.ndarray:
    frames = scipy.fft.irfft(spec, n=cfg.n_fft, axis=-1)
    frames *= win
    y = _overlap_add(frames, cfg.hop_length, inv_wsum.shape[0])
    y *= inv_wsum
    left = (cfg.n_fft - cfg.hop_length) // 2
    return y[left : left + length]


def _stft(y: np.ndarray, cfg: MelConfig, n_frames: int, win: np.ndarray) -> np.ndarray:
    left = (cfg.n_fft - cfg.hop_length) // 2
    need = (n_frames - 1) * cfg.hop_length + cfg.n_fft
    yp = np.zeros(need, dtype=np.float32)
    yp[left : left + len(y)] = y[: need - left]
    return scipy.fft.rfft(frame_signal(yp, cfg.n_fft, cfg.hop_length, n_frames) * win, axis=-1)


def griffin_lim(
    mel: np.ndarray, cfg: MelConfig = MelConfig(), n_iter: int = 32, momentum: float = 0.99, seed: int = 0, is_log: bool = True,
    init_audio: np.ndarray | None = None,
) -> np.ndarray:
    """Waveform (float32, length T*hop, peak <= 1) from a log-mel [T, n_mels] made by ``log_mel``.

    ``init_audio`` (at ``cfg.sample_rate``): start from its STFT phase instead of random phase,
    e.g. real recordings placed on the same layout, so the fine structure starts out real."""
    mel = np.asarray(mel, dtype=np.float32)
    if mel.ndim != 2 or mel.shape[1] != cfg.n_mels or mel.shape[0] == 0:
        raise ValueError(f"mel must be [T>0, {cfg.n_mels}], got shape {mel.shape}")
    lin = mel_to_linear(np.exp(mel) if is_log else mel, cfg)
    n_frames = lin.shape[0]
    length = n_frames * cfg.hop_length
    win = hann_window(cfg.win_length, cfg.n_fft)
    total = (n_frames - 1) * cfg.hop_length + cfg.n_fft
    wsum = _overlap_add(np.tile(win**2, (n_frames, 1)), cfg.hop_length, total)
    inv_wsum = (1.0 / np.maximum(wsum, 1e-8)).astype(np.float32)

    rng = np.random.default_rng(seed)
    angles = np.exp(2j * np.pi * rng.random(lin.shape)).astype(np.complex64)
    if init_audio is not None:
        spec = _stft(np.asarray(init_audio, np.float32)[:length], cfg, n_frames, win)
        mag = np.abs(spec)
        # where the exemplar is silent its phase means nothing: keep the random phase there
        angles = np.where(mag > 1e-6, spec / np.maximum(mag, 1e-12), angles).astype(np.complex64)
    rebuilt = np.zeros_like(angles)
    beta = np.float32(momentum / (1 + momentum))
    for _ in range(max(1, n_iter)):
        tprev = rebuilt
        y = _istft(lin * angles, cfg, length, win, inv_wsum)
        rebuilt = _stft(y, cfg, n_frames, win)
        angles = rebuilt - beta * tprev
        angles /= np.abs(angles) + np.float32(1e-16)
    y = _istft(lin * angles, cfg, length, win, inv_wsum)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 1.0:  # never hand back clipping audio
        y = y / peak
    return y.astype(np.float32)
