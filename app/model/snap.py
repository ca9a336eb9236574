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


def contact_targets(
    times, strengths=None, min_strength: float = 0.0, frame_rate: float | None = None
) -> np.ndarray:
    """Snapping targets from the contact detector (``engine.video.contact_times``).

    ``times`` seconds (or a ``ContactResult``: its strengths are used); contacts weaker than
    ``min_strength`` are dropped; with ``frame_rate`` each time is put on its video frame
    boundary. Sorted, unique. The same detector the engine uses for the layout's attacks, so
    a snapped event lands where the predicted hit is.
    """
    if hasattr(times, "times"):
        strengths = times.strengths if strengths is None else strengths
        times = times.times
    t = np.asarray(times, np.float64).ravel()
    if strengths is not None and min_strength > 0:
        s = np.asarray(strengths, np.float64).ravel()
        t = t[s >= min_strength]
    if frame_rate:
        t = np.floor(t * float(frame_rate) + 0.5) / float(frame_rate)
    return np.unique(t)


def contact_peaks_job(video_path, cancel=None, min_strength: float = 0.0):
    """Engine-thread job (yields Progress, returns snapping targets): the contact detector
    on ``video_path``. Imports OpenCV only when run; never Qt or torch."""
    from engine.api import contact_times_job

    result = yield from contact_times_job(video_path, cancel=cancel)
    return contact_targets(result, min_strength=min_strength)
