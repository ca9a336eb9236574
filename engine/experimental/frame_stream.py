"""EXPERIMENTAL, not shipped: options of T (the layout predictor) and its frame stream.

- ``layout.frame_color`` = 1: the frame stream sees R, G, B (+ the gray difference) instead of
  gray (an object and its background can share a brightness but rarely a colour).
- ``layout.frame_cells`` = 1: 3 temporal convs (dilations 1, 2, 1) over each cell of the frame
  stream's 8x8 grid before its spatial pool ((2+1)-D), so "moving fast, then still" is judged
  where it happens, not after a distractor elsewhere is mixed in.
- ``layout.input_dropout`` > 0: dropout on T's ViT inputs while training (never measured).

Measured (session 11, docs/DIFFUSION.md, ``layout_experiments.json`` T_color_cell_frame_stream):
T from scratch with colour + cells had better val layouts (events within +-40 ms F1 0.256 ->
0.287) but not better audio on all 60 test clips: onset accuracy 0.432 -> 0.411 (paired SE
0.035), onset AP 0.759 -> 0.688. No shipped pack sets any of these; the networks import this
module only when a pack does (same parameter names as before the move).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def build_cells() -> nn.ModuleList:
    """``frame_cells``: the per-cell temporal convs (on the CNN's 64-channel 8x8 grid)."""
    return nn.ModuleList(
        nn.Sequential(nn.Conv1d(64, 64, 3, padding=r, dilation=r), nn.GELU(), nn.Conv1d(64, 64, 1))
        for r in (1, 2, 1)
    )


def cnn_with_cells(cnn: nn.Sequential, cells: nn.ModuleList, h: torch.Tensor, b: int, f: int) -> torch.Tensor:
    """The frame stream's CNN [B*F, C, S, S] -> [B*F, dim, g, g] with the per-cell temporal
    convs between its first two and its last conv."""
    h = cnn[:4](h)  # [B*F, 64, 8, 8]
    c, gh, gw = h.shape[1:]
    z = h.view(b, f, c, gh * gw).permute(0, 3, 2, 1).reshape(b * gh * gw, c, f)
    for blk in cells:
        z = z + blk(z)
    h = z.view(b, gh * gw, c, f).permute(0, 3, 2, 1).reshape(b * f, c, gh, gw)
    return cnn[4:](h)


def input_dropout(p: float) -> nn.Module:
    """``input_dropout``: dropout on T's CLS / patch inputs (training only)."""
    return nn.Dropout(p)


def color_frames(frames: np.ndarray, size: int) -> torch.Tensor:
    """``frame_color``: RGB frames [F, H, W, 3] uint8 -> [F, 3, size, size] in [0, 1] (area)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().permute(0, 3, 1, 2) / 255.0
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="area")
    return x
