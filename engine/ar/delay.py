"""Delay pattern across codebooks (MusicGen / V-AURA).

Codebook ``k`` is shifted ``k`` steps later, so when the transformer predicts all codebooks of
one step, codebook ``k`` of frame ``f`` is predicted after codebook ``k-1`` of the same frame
was already fed back. Positions with no token (the start of late codebooks, the end of early
ones) hold the special ``pad`` id.
"""

from __future__ import annotations

import torch


def delayed_length(n_frames: int, n_codebooks: int) -> int:
    return n_frames + n_codebooks - 1


def apply_delay(codes: torch.Tensor, pad: int) -> torch.Tensor:
    """[..., T, K] codes -> [..., T + K - 1, K] delayed codes (pad where empty)."""
    *lead, t, k = codes.shape
    out = torch.full((*lead, t + k - 1, k), pad, dtype=codes.dtype, device=codes.device)
    for i in range(k):
        out[..., i : i + t, i] = codes[..., i]
    return out


def revert_delay(delayed: torch.Tensor, n_codebooks: int) -> torch.Tensor:
    """Inverse of :func:`apply_delay`: [..., T + K - 1, K] -> [..., T, K]."""
    s = delayed.shape[-2]
    t = s - n_codebooks + 1
    cols = [delayed[..., i : i + t, i] for i in range(n_codebooks)]
    return torch.stack(cols, dim=-1)


def pad_mask(n_frames: int, n_codebooks: int, device: torch.device | None = None) -> torch.Tensor:
    """[T + K - 1, K] bool: True where the delayed sequence holds a pad, not a real code."""
    s = delayed_length(n_frames, n_codebooks)
    pos = torch.arange(s, device=device)[:, None]
    k = torch.arange(n_codebooks, device=device)[None, :]
    frame = pos - k
    return (frame < 0) | (frame >= n_frames)
