"""EXPERIMENTAL, not shipped: S reads the colour of what moves (``cond.motion_color_levels``).

One motion-colour histogram per ViT frame, added to S's CLS tokens through a zero-initialised
branch (an S extended from a pack without it starts out giving that pack's tokens exactly).
Measured (session 12, docs/DIFFUSION.md, ``layout_experiments.json`` S_motion_colour): the
feature predicts a val clip's class with top-1 0.50 (linear probe) against 0.10-0.17 for the
ViT's features, but S + G trained with it (8,000 steps like the session-10 control) changed
nothing that matters on 24 test clips: class accuracy 0.099 with the predicted layout (control
0.115), 0.216 with the true one (0.185); val x0-MSE 0.00421 (0.00420). No shipped pack sets it;
the networks, the feature extractor and the training batches import this module only when a
pack does. ``engine.models.visual`` re-exports the histogram functions.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import nn


def build_colour_branch(bins: int, token_dim: int) -> nn.Module:
    """S's branch from a histogram [.., bins] to token space, zero at first."""
    from torch import nn

    branch = nn.Sequential(nn.LayerNorm(bins), nn.Linear(bins, token_dim))
    nn.init.zeros_(branch[1].weight)
    nn.init.zeros_(branch[1].bias)
    return branch


def run_motion_colors(run: Any, split: str, cs: Any, levels: int) -> np.ndarray:
    """Motion-colour histograms [sum Ns, levels**3] of every clip of a training run's split at
    the semantic rate, in the row order of ``Run.semantic_features`` (cached in the run's
    ``prep/``; they depend on the frames only)."""
    path = run.out / "prep" / f"mcolor{levels}_{split}.npz"
    stride = int(run.manifest["features"]["semantic_stride"])
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            if int(z["n_clips"]) == len(cs) and int(z["stride"]) == stride:
                return z["color"]
    color = np.concatenate([motion_color_histogram(cs.clip(i)[0], levels, stride) for i in range(len(cs))])
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, color=color, n_clips=np.int64(len(cs)), stride=np.int64(stride))
    tmp.replace(path)
    return color


def motion_color_histogram(
    frames: np.ndarray, levels: int = 4, stride: int = 1, top: float = 0.03, floor: float = 20.0
) -> np.ndarray:
    """uint8 [F, H, W, 3] -> float32 [ceil(F / stride), levels**3]: the colour of what moves.

    Per frame, a histogram of the colours (``levels`` per channel) of the pixels whose change
    from the previous frame is among the frame's strongest ``top`` share and above ``floor``
    (sum of |RGB difference|), weighted by that change and normalised. The rendered sound events
    are small and carry their class in colour and motion, which the ViT's features do not keep:
    on 60 val clips this feature predicts a clip's class with top-1 0.50 (linear probe) against
    0.10-0.17 for the ViT's CLS / patch features (docs/DIFFUSION.md). A frame that repeats the
    previous one (decoded above the clip's own rate) carries the last real histogram forward;
    frame 0 copies frame 1. Rows are the mean over each ``stride`` frames, at the ViT's rate."""
    return motion_color_histogram_carry(frames, levels, stride, top, floor)[0]


def motion_color_histogram_carry(
    frames: np.ndarray, levels: int = 4, stride: int = 1, top: float = 0.03, floor: float = 20.0,
    carry: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``motion_color_histogram`` in pieces, as ``motion_frames_carry``: with ``carry`` (the
    previous piece's last per-frame histogram) ``frames[0]`` is that piece's last frame and only
    the following frames get rows; a piece must start on a multiple of ``stride``."""
    f = np.asarray(frames)
    bins = levels**3
    n = f.shape[0]
    first = carry is None
    n_out = -(-(n if first else n - 1) // max(1, stride))
    if n < 2:
        return np.zeros((n_out, bins), np.float32), carry
    x = f.astype(np.int16)
    d = np.abs(np.diff(x, axis=0)).sum(-1).astype(np.float32).reshape(n - 1, -1)  # [F-1, H*W]
    thr = np.maximum(np.quantile(d, 1.0 - top, axis=1), floor)[:, None]
    w = np.where(d >= thr, d, 0.0)
    q = (f[1:].astype(np.int32) * levels) // 256
    idx = ((q[..., 0] * levels + q[..., 1]) * levels + q[..., 2]).reshape(n - 1, -1)
    idx = idx + (np.arange(n - 1) * bins)[:, None]
    h = np.bincount(idx.ravel(), weights=w.ravel(), minlength=(n - 1) * bins).reshape(n - 1, bins)
    tot = h.sum(1)
    for t in range(n - 1):
        if tot[t] > 0:
            h[t] /= tot[t]
        elif t > 0:
            h[t] = h[t - 1]
        elif not first:
            h[t] = carry
    if first:
        h = np.concatenate([h[:1], h])
    last = h[-1].copy()
    h = h.astype(np.float32)
    s = max(1, stride)
    pad = n_out * s - h.shape[0]
    if pad:
        h = np.concatenate([h, np.repeat(h[-1:], pad, 0)])
    # a short last group is padded with its last frame
    return (h.reshape(n_out, s, bins).mean(1) if s > 1 else h), last
