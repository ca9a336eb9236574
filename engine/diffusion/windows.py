"""Overlapping windows for clips longer than the training window.

Each denoising step predicts x0 for every window; the predictions are blended into one
full-length x0 with linear cross-fade weights in the overlaps, and the scheduler steps the
full-length sample. Every window therefore sees the same, consistent sample at every step,
so there is no seam (docs/DIFFUSION.md).
"""

from __future__ import annotations

import math

import numpy as np


def plan_windows(total: int, window: int, overlap: int, multiple: int = 1) -> tuple[list[int], int]:
    """Start offsets of equal windows covering ``[0, total)`` and the window length used.

    A clip shorter than a window gets one window of ``total`` rounded up to ``multiple``.
    The last window is moved back so it ends at ``total`` (windows never run past the end).
    """
    if total <= 0:
        raise ValueError("nothing to cover")
    window = max(multiple, window // multiple * multiple)
    if total <= window:
        return [0], int(math.ceil(total / multiple) * multiple)
    overlap = min(max(0, overlap), window - multiple)
    hop = window - overlap
    n = int(math.ceil((total - window) / hop)) + 1
    starts = [min(i * hop, total - window) for i in range(n)]
    return sorted(set(starts)), window


def blend_weights(starts: list[int], window: int, total: int, fade: int) -> np.ndarray:
    """[n_windows, window] weights that sum (over the windows covering a frame) to 1."""
    ramp = np.ones(window, np.float64)
    if fade > 0 and len(starts) > 1:
        r = (np.arange(fade) + 0.5) / fade
        ramp[:fade] = r
        ramp[-fade:] = np.minimum(ramp[-fade:], r[::-1])
    w = np.zeros((len(starts), window))
    acc = np.zeros(max(total, window))
    for i, s in enumerate(starts):
        wi = ramp.copy()
        if i == 0:
            wi[:fade] = 1.0  # the clip's own edges are not faded
        if i == len(starts) - 1:
            wi[window - fade :] = 1.0
        w[i] = wi
        acc[s : s + window] += wi
    for i, s in enumerate(starts):
        w[i] /= acc[s : s + window]
    return w.astype(np.float32)
