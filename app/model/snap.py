"""Snapping targets: video frame boundaries and motion peaks (no Qt)."""

from __future__ import annotations

import numpy as np


def motion_curve(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference between consecutive small grey frames ([N,H,W] or [N,H,W,3])."""
    f = np.asarray(frames, np.float32)
    if f.ndim == 4:
        f = f.mean(axis=3)
    if len(f) < 2:
        return np.zeros(len(f), np.float32)
    d = np.abs(np.diff(f, axis=0)).mean(axis=(1, 2))
    return np.concatenate([[0.0], d]).astype(np.float32)


def motion_peaks(curve: np.ndarray, times: np.ndarray, rel: float = 0.35) -> np.ndarray:
    """Times of local maxima of the motion curve above ``rel`` × its max."""
    c = np.asarray(curve, np.float64)
    if len(c) < 3 or c.max() <= 0:
        return np.zeros(0)
    thr = rel * c.max()
    mid = (c[1:-1] > c[:-2]) & (c[1:-1] >= c[2:]) & (c[1:-1] >= thr)
    return np.asarray(times)[1:-1][mid]


def snap_time(t: float, targets: np.ndarray, max_dist: float) -> float:
    """Nearest target within ``max_dist`` seconds, else ``t``."""
    if len(targets) == 0:
        return t
    i = int(np.argmin(np.abs(targets - t)))
    return float(targets[i]) if abs(float(targets[i]) - t) <= max_dist else t
