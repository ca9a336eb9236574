"""Condition streams at the token rate: visual features resampled by timestamp, the layout
interpolated to token frames, and the per-position rows for the delayed sequence.

Visual features (any per-frame features with their presentation times, e.g. the diffusion
engine's 25 fps features) are *duplicated* to token frames by timestamp, causally: token frame
``f`` (covering ``[f/r, (f+1)/r)``) gets the latest video frame shown at or before its start —
V-AURA conditions on past and present frames only. The layout is known in advance for the
whole clip, so it is interpolated at the token frame centres (the model's layout conv also
looks a couple of frames ahead).
"""

from __future__ import annotations

import numpy as np

from engine.types import AudioLayout


def n_token_frames(duration: float, frame_rate: float) -> int:
    """Token frames covering ``duration`` seconds exactly (the last one may overhang)."""
    return max(1, int(np.ceil(duration * frame_rate - 1e-6)))


def visual_to_tokens(features: np.ndarray, times: np.ndarray, n_frames: int, frame_rate: float) -> np.ndarray:
    """[N, D] features at ``times`` (s) -> [n_frames, D]: latest frame at or before each token start."""
    feats = np.asarray(features, dtype=np.float32)
    t = np.asarray(times, dtype=np.float64)
    if feats.ndim != 2 or len(feats) == 0 or len(t) != len(feats):
        raise ValueError(f"need [N>0, D] features with N times, got {feats.shape} and {t.shape}")
    starts = np.arange(n_frames) / frame_rate
    idx = np.searchsorted(t, starts + 1e-6, side="right") - 1
    return feats[np.clip(idx, 0, len(feats) - 1)]


def layout_to_tokens(layout: AudioLayout, n_frames: int, frame_rate: float) -> np.ndarray:
    """[n_frames, bands]: layout values linearly interpolated at token frame centres."""
    v = np.asarray(layout.values, dtype=np.float32)
    centres = (np.arange(n_frames) + 0.5) / frame_rate
    col = centres * layout.columns_per_second - 0.5
    col = np.clip(col, 0, v.shape[0] - 1)
    i0 = np.floor(col).astype(int)
    i1 = np.minimum(i0 + 1, v.shape[0] - 1)
    w = (col - i0)[:, None].astype(np.float32)
    return v[i0] * (1 - w) + v[i1] * w


def to_positions(frames: np.ndarray, n_positions: int) -> np.ndarray:
    """Per-frame rows -> per-delayed-position rows (position s carries frame s; the K-1 tail
    positions, which only finish late codebooks, repeat the last frame)."""
    idx = np.minimum(np.arange(n_positions), len(frames) - 1)
    return frames[idx]
