"""Llama-style decoder over delayed codec tokens with channel-wise condition fusion (V-AURA).

Input at delayed position ``s`` = concat(sum of per-codebook embeddings of the tokens at
``s-1``, visual features of token frame ``s``, layout features around frame ``s``) -> linear,
plus a projected text embedding. The visual/layout condition of a frame therefore arrives one
step before its audio tokens are fed back (V-AURA's "visual one step early"), never as a
prefix. One linear head per codebook. RMSNorm, rotary positions, SwiGLU; a KV cache for
sampling. Conditions can be replaced by learned "empty" vectors (CFG; 10 % in training).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

KVCache = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class ARConfig:
    n_codebooks: int = 4
    codebook_size: int = 256
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    ffn_hidden: int = 704
    visual_dim: int = 0  # raw per-frame visual feature size; 0 = no visual stream
    d_visual: int = 64
    layout_bands: int = 5  # 0 = no layout stream
    d_layout: int = 64
    layout_kernel: int = 5  # centred conv at token rate: the layout is known in advance
    text_dim: int = 384  # 0 = no text
    context: int = 128  # delayed positions one window attends to
    frame_rate: float = 25.0
    rope_theta: float = 10000.0

    @property
    def pad_id(self) -> int:
        return self.codebook_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ARConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x [B, H, T, hd]; rotate pairs (first half, second half)
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)


class Attention(nn.Module):
    def __init__(self, cfg: ARConfig) -> None:
        super().__init__()
        self.h = cfg.n_heads
        self.hd = cfg.d_model // cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.wo = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x, cos, sin, cache: tuple[torch.Tensor, torch.Tensor] | None):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.h, self.hd).permute(2, 0, 3, 1, 4)
        q, k = _rope(q, cos, sin), _rope(k, cos, sin)
        past = 0
        if cache is not None:
            past = cache[0].shape[2]
            k = torch.cat([cache[0], k], 2)
            v = torch.cat([cache[1], v], 2)
        if t == 1:
            o = F.scaled_dot_product_attention(q, k, v)
        elif past == 0:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            qi = torch.arange(t)[:, None] + past
            mask = torch.arange(past + t)[None, :] <= qi
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.wo(o.transpose(1, 2).reshape(b, t, d)), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: ARConfig) -> None:
        super().__init__()
        self.n1 = RMSNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.n2 = RMSNorm(cfg.d_model)
        self.w13 = nn.Linear(cfg.d_model, 2 * cfg.ffn_hidden, bias=False)
        self.w2 = nn.Linear(cfg.ffn_hidden, cfg.d_model, bias=False)

    def forward(self, x, cos, sin, cache):
        a, new = self.attn(self.n1(x), cos, sin, cache)
        x = x + a
        g, u = self.w13(self.n2(x)).chunk(2, -1)
        return x + self.w2(F.silu(g) * u), new


class ARTransformer(nn.Module):
    def __init__(self, cfg: ARConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.tok_emb = nn.ModuleList(
            [nn.Embedding(cfg.codebook_size + 1, d) for _ in range(cfg.n_codebooks)]
        )
        cond_dim = 0
        if cfg.visual_dim > 0:
            self.visual_proj = nn.Sequential(
                nn.Linear(cfg.visual_dim, cfg.d_visual), nn.GELU(), nn.Linear(cfg.d_visual, cfg.d_visual)
            )
            self.empty_visual = nn.Parameter(torch.randn(cfg.d_visual) * 0.02)
            cond_dim += cfg.d_visual
        if cfg.layout_bands > 0:
            k = cfg.layout_kernel
            self.layout_proj = nn.Sequential(
                nn.Conv1d(cfg.layout_bands, cfg.d_layout, k, padding=k // 2),
                nn.GELU(),
                nn.Conv1d(cfg.d_layout, cfg.d_layout, 1),
            )
            self.empty_layout = nn.Parameter(torch.randn(cfg.d_layout) * 0.02)
            cond_dim += cfg.d_layout
        self.cond_dim = cond_dim
        if cfg.text_dim > 0:
            self.text_proj = nn.Linear(cfg.text_dim, d)
            self.empty_text = nn.Parameter(torch.randn(d) * 0.02)
        self.fuse = nn.Linear(d + cond_dim, d)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(d)
        self.heads = nn.ModuleList(
            [nn.Linear(d, cfg.codebook_size, bias=False) for _ in range(cfg.n_codebooks)]
        )
        hd = d // cfg.n_heads
        inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, hd // 2).float() / (hd // 2)))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    def condition(
        self,
        visual: torch.Tensor | None,
        layout: torch.Tensor | None,
        text: torch.Tensor | None,
        n_pos: int,
        batch: int,
        drop_visual: torch.Tensor | None = None,
        drop_layout: torch.Tensor | None = None,
        drop_text: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-position condition stream [B, S, cond_dim] and text vector [B, d_model].

        visual [B, S, visual_dim] / layout [B, S, bands] are already at the token rate (one row
        per delayed position); a missing stream or a True in ``drop_*`` [B] uses the learned
        empty vector.
        """
        cfg = self.cfg
        parts = []
        if cfg.visual_dim > 0:
            e = self.empty_visual.expand(batch, n_pos, -1)
            if visual is None:
                parts.append(e)
            else:
                v = self.visual_proj(visual)
                if drop_visual is not None:
                    v = torch.where(drop_visual[:, None, None], e, v)
                parts.append(v)
        if cfg.layout_bands > 0:
            e = self.empty_layout.expand(batch, n_pos, -1)
            if layout is None:
                parts.append(e)
            else:
                lay = self.layout_proj(layout.transpose(1, 2)).transpose(1, 2)
                if drop_layout is not None:
                    lay = torch.where(drop_layout[:, None, None], e, lay)
                parts.append(lay)
        cond = torch.cat(parts, -1) if parts else torch.zeros(batch, n_pos, 0)
        if cfg.text_dim > 0:
            e = self.empty_text.expand(batch, -1)
            if text is None:
                tv = e
            else:
                tv = self.text_proj(text)
                if drop_text is not None:
                    tv = torch.where(drop_text[:, None], e, tv)
        else:
            tv = torch.zeros(batch, cfg.d_model)
        return cond, tv

    def forward(
        self,
        tokens_in: torch.Tensor,
        cond: torch.Tensor,
        text_vec: torch.Tensor,
        cache: KVCache | None = None,
        pos0: int = 0,
    ) -> tuple[torch.Tensor, KVCache]:
        """tokens_in [B, T, K] (delayed tokens of the previous positions), cond [B, T, C]
        -> logits [B, T, K, codebook_size], updated cache. ``pos0`` = window position of row 0."""
        x = self.tok_emb[0](tokens_in[..., 0])
        for k in range(1, self.cfg.n_codebooks):
            x = x + self.tok_emb[k](tokens_in[..., k])
        x = self.fuse(torch.cat([x, cond], -1)) + text_vec[:, None, :]
        t = x.shape[1]
        pos = torch.arange(pos0, pos0 + t, dtype=torch.float32)
        ang = pos[:, None] * self.inv_freq[None, :]
        cos, sin = ang.cos(), ang.sin()
        new_cache: KVCache = []
        for i, blk in enumerate(self.blocks):
            x, kv = blk(x, cos, sin, None if cache is None else cache[i])
            new_cache.append(kv)
        x = self.norm(x)
        logits = torch.stack([h(x) for h in self.heads], 2)
        return logits, new_cache

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
