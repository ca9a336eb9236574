"""Generator G: a 1-D convolutional U-Net over time with mel bins as channels.

Why 1-D and not diffusers' ``UNet2DConditionModel``: on a 2-core CPU a 2-D U-Net over the
400x64 mel trained ~25x slower than a 1-D U-Net over time with the 64 mel bins as channels
(docs/DIFFUSION.md). TiVA's conditioning is kept: the layout (resized to the frame rate) is
appended as extra input channels, and semantic + text tokens enter by cross-attention in
the low-resolution levels. The network predicts the clean sample x0.

Built only from a plain config dict (stored in pack.json), so tiny random test configs and
the shipped pack run through the same code.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_UNET_CONFIG: dict[str, Any] = {
    "in_channels": 64,  # mel bins (or latent channels)
    "cond_channels": 6,  # layout bands + 1 "layout present" flag
    "out_channels": 64,
    "channels": [96, 160, 224],
    "layers_per_level": 1,
    "cross_attn_levels": [False, True, True],  # per level; the bottleneck always has it
    "token_dim": 192,
    "heads": 4,
    "time_embed_dim": 256,
    "groups": 8,
    "kernel_size": 3,
    "frame_rate": 100.0,  # input frames per second, for time positions of the queries
}


def sinusoidal(x: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """[...] -> [..., dim] sin/cos features (diffusion timestep embedding)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    args = x.float()[..., None] * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def time_position_features(seconds: torch.Tensor, dim: int) -> torch.Tensor:
    """Fourier features of a time in seconds, periods from ~40 ms to ~40 s; NaN -> zeros (no position)."""
    half = dim // 2
    periods = torch.logspace(math.log10(0.04), math.log10(40.0), half, device=seconds.device)
    nan = torch.isnan(seconds)
    s = torch.nan_to_num(seconds, nan=0.0).float()
    args = 2 * math.pi * s[..., None] / periods
    out = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return out.masked_fill(nan[..., None], 0.0)


class ResBlock1D(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int, groups: int, k: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, cin), cin)
        self.conv1 = nn.Conv1d(cin, cout, k, padding=k // 2)
        self.film = nn.Linear(temb, 2 * cout)
        self.norm2 = nn.GroupNorm(min(groups, cout), cout)
        self.conv2 = nn.Conv1d(cout, cout, k, padding=k // 2)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(temb)[:, :, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return h + self.skip(x)


class CrossAttention1D(nn.Module):
    """Queries = U-Net frames (with their time in seconds), keys/values = condition tokens.

    Both sides get Fourier features of their time, so a frame can attend to the video frames
    around it; tokens without a time (text) get none.
    """

    def __init__(self, channels: int, token_dim: int, heads: int, pos_dim: int = 32) -> None:
        super().__init__()
        self.heads = heads
        self.pos_dim = pos_dim
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.q = nn.Linear(channels + pos_dim, channels, bias=False)
        self.k = nn.Linear(token_dim + pos_dim, channels, bias=False)
        self.v = nn.Linear(token_dim, channels, bias=False)
        self.out = nn.Linear(channels, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(
        self,
        x: torch.Tensor,
        q_pos: torch.Tensor,
        tokens: torch.Tensor,
        tok_pos: torch.Tensor,
        tok_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        b, c, t = x.shape
        h = self.norm(x).transpose(1, 2)  # [B, T, C]
        qp = time_position_features(q_pos, self.pos_dim).expand(b, t, self.pos_dim)
        kp = time_position_features(tok_pos, self.pos_dim)
        q = self.q(torch.cat([h, qp], -1))
        k = self.k(torch.cat([tokens, kp], -1))
        v = self.v(tokens)

        def split(z: torch.Tensor) -> torch.Tensor:
            return z.view(b, z.shape[1], self.heads, c // self.heads).transpose(1, 2)

        mask = None if tok_mask is None else tok_mask[:, None, None, :]
        o = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask)
        o = o.transpose(1, 2).reshape(b, t, c)
        return x + self.out(o).transpose(1, 2)


class SelfAttention1D(nn.Module):
    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.out = nn.Linear(channels, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t = x.shape
        q, k, v = self.qkv(self.norm(x).transpose(1, 2)).chunk(3, dim=-1)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, c)
        return x + self.out(o).transpose(1, 2)


class UNet1DCondition(nn.Module):
    """x0-predicting 1-D U-Net. Input length must be a multiple of 2**(levels-1)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        cfg = {**DEFAULT_UNET_CONFIG, **config}
        self.config = cfg
        ch = list(cfg["channels"])
        temb = int(cfg["time_embed_dim"])
        g, k, heads, tdim = int(cfg["groups"]), int(cfg["kernel_size"]), int(cfg["heads"]), int(cfg["token_dim"])
        xattn = list(cfg["cross_attn_levels"])
        nl = int(cfg["layers_per_level"])
        self.time_mlp = nn.Sequential(nn.Linear(ch[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv1d(cfg["in_channels"] + cfg["cond_channels"], ch[0], k, padding=k // 2)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c_prev = ch[0]
        skips = [ch[0]]
        for i, c in enumerate(ch):
            blocks = nn.ModuleList()
            for _ in range(nl):
                blocks.append(ResBlock1D(c_prev, c, temb, g, k))
                c_prev = c
                blocks.append(CrossAttention1D(c, tdim, heads) if xattn[i] else nn.Identity())
                skips.append(c)
            self.down.append(blocks)
            if i < len(ch) - 1:
                self.downsample.append(nn.Conv1d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        self.mid1 = ResBlock1D(c_prev, c_prev, temb, g, k)
        self.mid_self = SelfAttention1D(c_prev, heads)
        self.mid_cross = CrossAttention1D(c_prev, tdim, heads)
        self.mid2 = ResBlock1D(c_prev, c_prev, temb, g, k)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(len(ch))):
            c = ch[i]
            blocks = nn.ModuleList()
            for _ in range(nl + 1):
                blocks.append(ResBlock1D(c_prev + skips.pop(), c, temb, g, k))
                c_prev = c
                blocks.append(CrossAttention1D(c, tdim, heads) if xattn[i] else nn.Identity())
            self.up.append(blocks)
            if i > 0:
                self.upsample.append(nn.Conv1d(c, c, 3, padding=1))
        self.norm_out = nn.GroupNorm(min(g, c_prev), c_prev)
        self.conv_out = nn.Conv1d(c_prev, cfg["out_channels"], k, padding=k // 2)
        self.levels = len(ch)

    @property
    def length_multiple(self) -> int:
        return 2 ** (self.levels - 1)

    def forward(
        self,
        x: torch.Tensor,
        timesteps: torch.Tensor,
        layout: torch.Tensor,
        tokens: torch.Tensor,
        token_pos: torch.Tensor,
        token_mask: torch.Tensor | None = None,
        start_seconds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x [B, C, T], timesteps [B], layout [B, cond_channels, T], tokens [B, N, D],
        token_pos [B, N] seconds relative to the window start (NaN = no time),
        token_mask [B, N] bool (True = attend). Returns the x0 estimate [B, out, T]."""
        b, _, t = x.shape
        fr = float(self.config["frame_rate"])
        t_idx = torch.arange(t, device=x.device, dtype=torch.float32)
        timesteps = timesteps.reshape(-1).expand(b) if timesteps.numel() == 1 else timesteps
        temb = self.time_mlp(sinusoidal(timesteps, self.config["channels"][0]))
        h = self.conv_in(torch.cat([x, layout.to(x.dtype)], dim=1))
        hs = [h]
        scale = 1
        for i, blocks in enumerate(self.down):
            qpos = ((t_idx[::scale][: h.shape[-1]] + (scale - 1) / 2) / fr)[None, :]
            for j in range(0, len(blocks), 2):
                h = blocks[j](h, temb)
                if not isinstance(blocks[j + 1], nn.Identity):
                    h = blocks[j + 1](h, qpos, tokens, token_pos, token_mask)
                hs.append(h)
            if i < self.levels - 1:
                h = self.downsample[i](h)
                scale *= 2
                hs.append(h)
        qpos = ((t_idx[::scale][: h.shape[-1]] + (scale - 1) / 2) / fr)[None, :]
        h = self.mid1(h, temb)
        h = self.mid_self(h)
        h = self.mid_cross(h, qpos, tokens, token_pos, token_mask)
        h = self.mid2(h, temb)
        for n, blocks in enumerate(self.up):
            i = self.levels - 1 - n
            qpos = ((t_idx[::scale][: h.shape[-1]] + (scale - 1) / 2) / fr)[None, :]
            for j in range(0, len(blocks), 2):
                h = blocks[j](torch.cat([h, hs.pop()], dim=1), temb)
                if not isinstance(blocks[j + 1], nn.Identity):
                    h = blocks[j + 1](h, qpos, tokens, token_pos, token_mask)
            if i > 0:
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
                h = self.upsample[n](h)
                scale //= 2
        return self.conv_out(F.silu(self.norm_out(h)))
