"""Signals shared by the audio/metrics tests (numpy only; holds no tests itself)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def clicks(times: list[float], dur: float = 4.0, sr: int = 16000, seed: int = 0, amp: float = 0.5) -> np.ndarray:
    """Decaying noise bursts (80 ms, 15 ms decay) starting at ``times`` seconds."""
    y = np.zeros(int(round(dur * sr)), np.float32)
    rng = np.random.default_rng(seed)
    n = int(0.08 * sr)
    env = np.exp(-np.arange(n) / (0.015 * sr))
    for t in times:
        i = int(round(t * sr))
        m = min(n, len(y) - i)
        y[i : i + m] += (rng.standard_normal(m) * env[:m] * amp).astype(np.float32)
    return y


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return y.mean(axis=1), sr


def place(sounds: list[np.ndarray], times: list[float], dur: float, sr: int, noise: float = 1e-3) -> np.ndarray:
    """Mix real recordings (trimmed to their first sample above 2 % of peak) at ``times``."""
    rng = np.random.default_rng(1)
    y = (rng.standard_normal(int(dur * sr)) * noise).astype(np.float32)
    for s, t in zip(sounds, times, strict=True):
        k = int(np.argmax(np.abs(s) > 0.02 * np.abs(s).max()))
        s = s[k:] / np.abs(s).max() * 0.5
        i = int(round(t * sr))
        m = min(len(s), len(y) - i)
        y[i : i + m] += s[:m]
    return y
