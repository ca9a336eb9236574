"""Layout predictor T (TiVA §3.2.1) and the semantic/text condition encoder S.

T: per-frame pooled patch features (+ the motion stream) -> windowed and global
self-attention encoder; a decoder of learnable queries (plus the frame's CLS features) with
self-, cross- and windowed self-attention; a linear head -> layout values per frame
(one layout column per frame at the pack's frame rate). Trained with an L2 loss.

Optional learned frame stream (``frame_stream`` > 0): a small CNN over each frame's grayscale
copy and its differences to the neighbouring frames (:func:`engine.models.visual.motion_frames`),
then a dilated temporal conv stack, added to the encoder input. The hand-made per-region motion
stream alone could not tell a contact from camera pan or a distractor; the learned one can.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.models.unet1d import time_position_features
from engine.models.visual import motion_frames

DEFAULT_LAYOUT_CONFIG: dict[str, Any] = {
    "patch_dim": 1024,
    "cls_dim": 256,
    "motion_dim": 17,
    "dim": 128,
    "heads": 4,
    "encoder_layers": 2,  # each: windowed self-attn, then global self-attn
    "decoder_layers": 2,  # each: self-attn, cross-attn, windowed self-attn
    "window": 5,  # frames each side in windowed attention
    "max_frames": 512,  # learnable queries (one per frame of a window)
    "bands": 5,
    "n_classes": 0,  # >0: a clip-level event-class head (multi-label)
    "frame_rate": 25.0,
    "frame_stream": 0,  # >0: width of the learned frame stream (0 = off, older packs)
    "frame_size": 64,  # its frames are frame_size x frame_size
    # EXPERIMENTAL, off in every shipped pack (engine.experimental.frame_stream):
    "frame_color": 0,  # 1: the frame stream sees R, G, B (+ the gray difference) instead of gray
    "frame_cells": 0,  # 1: temporal convs per cell of the frame stream's 8x8 grid before the pool
    "input_dropout": 0.0,  # training only: dropout on the ViT features
    "onset_head": 0,  # EXPERIMENTAL (engine.experimental.onsets): >0 = width of a per-frame onset head
}


class FrameStream(nn.Module):
    """Per-frame CNN over (frame, diff to previous, the previous and next frames' diffs) ->
    dilated temporal convs. Input uint8 [B, F, C, S, S] from ``motion_frames``: C = 2 (gray,
    diff) or 4 (``color``: R, G, B, diff; EXPERIMENTAL).

    ``cells`` (EXPERIMENTAL, engine.experimental.frame_stream): temporal convs over each cell of the 8x8 feature grid before the spatial pool
    ((2+1)-D). Pooling first leaves the temporal stack one vector per frame, in which an object
    stopping in one place and a distractor moving in another are mixed; per cell, "moving fast,
    then still" is seen where it happens."""

    def __init__(self, dim: int, color: bool = False, cells: bool = False) -> None:
        super().__init__()
        ch = 4 if color else 2
        # Patchify first: on 2 CPU cores the early full-resolution layers cost the most.
        self.cnn = nn.Sequential(
            nn.Conv2d(ch + 2, 32, 4, 4), nn.GELU(),
            nn.Conv2d(32, 64, 3, 2, 1), nn.GELU(),
            nn.Conv2d(64, dim, 3, 2, 1), nn.GELU(),
        )
        self.cells = None
        if cells:  # not shipped: engine.experimental.frame_stream
            from engine.experimental.frame_stream import build_cells

            self.cells = build_cells()
        self.proj = nn.Linear(2 * dim, dim)
        self.tcn = nn.ModuleList(
            nn.Sequential(nn.Conv1d(dim, dim, 3, padding=r, dilation=r), nn.GELU(), nn.Conv1d(dim, dim, 1))
            for r in (1, 2, 4, 8, 1)
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.float() / 255.0 if frames.dtype == torch.uint8 else frames
        b, f = x.shape[:2]
        diff = x[:, :, -1:]
        prv = torch.cat([diff[:, :1], diff[:, :-1]], 1)
        nxt = torch.cat([diff[:, 1:], diff[:, -1:]], 1)  # a contact often shows in the next frame
        h = torch.cat([x, prv, nxt], 2).reshape(b * f, -1, *x.shape[-2:])
        if self.cells is None:
            h = self.cnn(h)
        else:
            from engine.experimental.frame_stream import cnn_with_cells

            h = cnn_with_cells(self.cnn, self.cells, h, b, f)
        h = self.proj(torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1)).view(b, f, -1).transpose(1, 2)
        for blk in self.tcn:
            h = h + blk(h)
        return h.transpose(1, 2)


def _band_mask(n: int, w: int, device: torch.device) -> torch.Tensor:
    i = torch.arange(n, device=device)
    return (i[:, None] - i[None, :]).abs() <= w


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x: torch.Tensor, kv: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm(x)
        src = h if kv is None else kv
        # nn.MultiheadAttention masks where True; we pass "allowed" masks, so invert.
        o, _ = self.attn(h, src, src, attn_mask=None if mask is None else ~mask, need_weights=False)
        return x + o


class _MLP(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(F.gelu(self.fc1(self.norm(x))))


class LayoutPredictor(nn.Module):
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        cfg = {**DEFAULT_LAYOUT_CONFIG, **config}
        self.config = cfg
        d, h = int(cfg["dim"]), int(cfg["heads"])
        self.enc_in = nn.Linear(int(cfg["patch_dim"]) + int(cfg["motion_dim"]), d)
        self.motion_conv = nn.Conv1d(int(cfg["motion_dim"]), d, 5, padding=2)
        self.pos = nn.Linear(32, d)
        self.in_drop = None
        if float(cfg["input_dropout"]) > 0:  # not shipped: engine.experimental.frame_stream
            from engine.experimental.frame_stream import input_dropout

            self.in_drop = input_dropout(float(cfg["input_dropout"]))
        fs = int(cfg["frame_stream"])
        self.frame_stream = None
        if fs > 0:
            self.frame_stream = FrameStream(fs, bool(cfg["frame_color"]), bool(cfg["frame_cells"]))
            self.frame_in = nn.Linear(fs, d)
        self.enc = nn.ModuleList()
        for _ in range(int(cfg["encoder_layers"])):
            self.enc.extend([_Block(d, h), _MLP(d), _Block(d, h), _MLP(d)])
        self.query_in = nn.Linear(int(cfg["cls_dim"]), d)
        self.queries = nn.Parameter(torch.randn(int(cfg["max_frames"]), d) * 0.02)
        self.dec = nn.ModuleList()
        for _ in range(int(cfg["decoder_layers"])):
            self.dec.extend([_Block(d, h), _Block(d, h), _Block(d, h), _MLP(d)])
        self.norm_out = nn.LayerNorm(d)
        self.head = nn.Linear(2 * d, int(cfg["bands"]))
        n_cls = int(cfg["n_classes"])
        self.class_head = nn.Linear(d, n_cls) if n_cls > 0 else None
        if int(cfg.get("onset_stream", 0)):
            raise ValueError("layout.onset_stream was removed: measured worse (it overfit; docs/DIFFUSION.md)")
        self.onset_head = None
        if int(cfg["onset_head"]) > 0:  # not shipped: engine.experimental.onsets
            from engine.experimental.onsets import build_onset_head

            self.onset_head = build_onset_head(2 * d, int(cfg["onset_head"]))

    @property
    def uses_frames(self) -> bool:
        return self.frame_stream is not None

    @property
    def frame_color(self) -> bool:
        return bool(self.config["frame_color"])

    def frame_inputs(self, frames: np.ndarray) -> np.ndarray:
        """The frame stream's input for decoded RGB frames [F, H, W, 3] (``motion_frames`` at
        this T's size, in colour when it was trained so)."""
        return motion_frames(frames, int(self.config["frame_size"]), self.frame_color)

    @property
    def has_onset_head(self) -> bool:
        return self.onset_head is not None

    def forward(
        self, cls: torch.Tensor, patch: torch.Tensor, motion: torch.Tensor, frames: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """cls [B, F, cls_dim], patch [B, F, patch_dim], motion [B, F, motion_dim], all at the
        frame rate; frames [B, F, 2|4, S, S] (``motion_frames``) when the frame stream is on.
        Returns (layout [B, F, bands], class logits [B, n_classes] or None)."""
        out, logits, _ = self.forward_all(cls, patch, motion, frames)
        return out, logits

    def forward_all(
        self, cls: torch.Tensor, patch: torch.Tensor, motion: torch.Tensor, frames: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """As :meth:`forward`, plus per-frame onset logits [B, F] (None without an onset head)."""
        b, f, _ = patch.shape
        if f > int(self.config["max_frames"]):
            raise ValueError(f"layout predictor window of {f} frames exceeds max_frames")
        secs = torch.arange(f, device=patch.device, dtype=torch.float32) / float(self.config["frame_rate"])
        pos = self.pos(time_position_features(secs, 32))[None]
        if self.in_drop is not None:
            cls, patch = self.in_drop(cls), self.in_drop(patch)
        x = self.enc_in(torch.cat([patch, motion], -1)) + self.motion_conv(motion.transpose(1, 2)).transpose(1, 2) + pos
        if self.frame_stream is not None:
            if frames is None:
                raise ValueError("this layout predictor needs the clip's motion frames")
            x = x + self.frame_in(self.frame_stream(frames))
        wmask = _band_mask(f, int(self.config["window"]), patch.device)
        for i in range(0, len(self.enc), 4):
            x = self.enc[i + 1](self.enc[i](x, mask=wmask))
            x = self.enc[i + 3](self.enc[i + 2](x))
        q = self.query_in(cls) + self.queries[:f][None] + pos
        for i in range(0, len(self.dec), 4):
            q = self.dec[i](q)
            q = self.dec[i + 1](q, kv=x)
            q = self.dec[i + 2](q, mask=wmask)
            q = self.dec[i + 3](q)
        feat = torch.cat([self.norm_out(q), x], -1)
        out = self.head(feat)
        logits = None if self.class_head is None else self.class_head(self.norm_out(q).mean(1))
        onsets = None
        if self.onset_head is not None:
            onsets = self.onset_head(feat.transpose(1, 2))[:, 0]
        return out, logits, onsets


DEFAULT_COND_CONFIG: dict[str, Any] = {
    "cls_dim": 256,
    "text_dim": 384,
    "token_dim": 192,
    "motion_color_levels": 0,  # EXPERIMENTAL (engine.experimental.motion_colour): > 0 = S reads motion colour
}


class ConditionEncoder(nn.Module):
    """S: per-frame linear map of CLS features to semantic tokens; text embeddings to one token.

    Learned null embeddings stand in for a dropped condition (classifier-free guidance)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        cfg = {**DEFAULT_COND_CONFIG, **config}
        self.config = cfg
        td = int(cfg["token_dim"])
        self.semantic = nn.Sequential(nn.LayerNorm(int(cfg["cls_dim"])), nn.Linear(int(cfg["cls_dim"]), td))
        self.color_levels = max(0, int(cfg["motion_color_levels"]))
        self.color_bins = self.color_levels**3 if self.color_levels else 0
        if self.color_bins:
            # not shipped: added to the CLS map's tokens, zero at first
            from engine.experimental.motion_colour import build_colour_branch

            self.semantic_color = build_colour_branch(self.color_bins, td)
        self.text = nn.Sequential(nn.LayerNorm(int(cfg["text_dim"])), nn.Linear(int(cfg["text_dim"]), td))
        self.null_semantic = nn.Parameter(torch.zeros(td))
        self.null_text = nn.Parameter(torch.zeros(int(cfg["text_dim"])))

    def tokens(
        self,
        cls: torch.Tensor,
        cls_times: torch.Tensor,
        text: torch.Tensor | None,
        drop_semantic: torch.Tensor | None = None,
        drop_text: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """cls [B, N, cls_dim (+ colour bins)] at times cls_times [B, N] (s, window-relative);
        text [B, text_dim] or None (= null). drop_* [B] bool. Returns tokens [B, N+1, D] and
        positions [B, N+1]. With ``motion_color_levels`` each row is the ViT's CLS features
        followed by that frame's motion-colour histogram (``ClipFeatures.semantic``)."""
        b = cls.shape[0]
        if self.color_bins:
            c = int(self.config["cls_dim"])
            sem = self.semantic(cls[..., :c]) + self.semantic_color(cls[..., c:])
        else:
            sem = self.semantic(cls)
        if drop_semantic is not None:
            sem = torch.where(drop_semantic[:, None, None], self.null_semantic.expand_as(sem), sem)
        if text is None:
            text = self.null_text.expand(b, -1)
        if drop_text is not None:
            text = torch.where(drop_text[:, None], self.null_text.expand_as(text), text)
        tt = self.text(text)[:, None]
        nan = torch.full((b, 1), float("nan"), device=cls.device)
        return torch.cat([sem, tt], 1), torch.cat([cls_times, nan], 1)
