"""Training for the AR engine: (1) the mel RVQ codec, (2) the token transformer.

Works on plain per-clip records (log-mel, layout, visual features + times, text), so the
same code runs on the project's data cache (``engine.ar.data``) or on anything else.
Fixed seeds, bounded by steps and wall-clock minutes, a loss log per stage.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.ar.codec import CodecConfig, MelRVQCodec
from engine.ar.conditions import layout_to_tokens, to_positions, visual_to_tokens
from engine.ar.delay import apply_delay, pad_mask
from engine.ar.model import ARConfig, ARTransformer
from engine.types import AudioLayout

Log = Callable[[str], None]


@dataclass
class ClipRecord:
    mel: np.ndarray  # [T, n_mels] natural-log mel at mel_fps
    layout: AudioLayout
    visual: tuple[np.ndarray, np.ndarray] | None = None  # (features [N, D], times [N] s)
    text: np.ndarray | None = None  # sentence embedding
    name: str = ""


def _crop_mels(mels: list[np.ndarray], n: int, length: int, floor: float, rng: np.random.Generator) -> torch.Tensor:
    out = np.full((n, length, mels[0].shape[1]), floor, np.float32)
    for i in range(n):
        m = mels[int(rng.integers(len(mels)))]
        if len(m) > length:
            a = int(rng.integers(0, len(m) - length + 1))
            out[i] = m[a : a + length]
        else:
            out[i, : len(m)] = m
    return torch.from_numpy(out)


def train_codec(
    mels: list[np.ndarray],
    cfg: CodecConfig,
    steps: int = 1500,
    batch: int = 16,
    crop_frames: int = 256,
    lr: float = 2e-3,
    max_minutes: float = 6.0,
    seed: int = 0,
    log: Log = print,
) -> tuple[MelRVQCodec, list[dict]]:
    """Fit the codec on mel crops: MSE + L1 in normalised units, commitment 0.25."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    allv = np.concatenate([m.reshape(-1) for m in mels])
    cfg.mel_mean, cfg.mel_std = float(allv.mean()), float(allv.std() + 1e-3)
    crop_frames -= crop_frames % cfg.downsample
    codec = MelRVQCodec(cfg).train()
    opt = torch.optim.AdamW(codec.parameters(), lr=lr, weight_decay=0.0)
    hist: list[dict] = []
    t0 = time.time()
    for step in range(steps):
        for g in opt.param_groups:  # cosine decay
            g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        mel = _crop_mels(mels, batch, crop_frames, cfg.floor, rng)
        rec, codes, commit = codec(mel)
        d = (rec - mel) / cfg.mel_std
        rec_loss = d.pow(2).mean() + d.abs().mean()
        loss = rec_loss + 0.25 * commit
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(codec.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            used = [int(torch.unique(codes[..., k]).numel()) for k in range(cfg.n_codebooks)]
            row = {"step": step, "rec": float(rec_loss.detach()), "commit": float(commit.detach()),
                   "codes_used": used, "s": round(time.time() - t0, 1)}
            hist.append(row)
            log(f"codec {row}")
        if time.time() - t0 > max_minutes * 60:
            log(f"codec: time budget reached at step {step}")
            break
    return codec.eval(), hist


@dataclass
class TokenClip:
    delayed: torch.Tensor  # [S, K] long (pad where empty)
    valid: torch.Tensor  # [S, K] bool: real targets
    visual: torch.Tensor | None  # [S, Dv]
    layout: torch.Tensor  # [S, bands]
    text: torch.Tensor | None  # [Dt]


def tokenize_clips(records: list[ClipRecord], codec: MelRVQCodec, ar_cfg: ARConfig) -> list[TokenClip]:
    out = []
    fr = codec.cfg.frame_rate
    for r in records:
        codes = codec.encode(torch.from_numpy(r.mel).float()[None])[0]
        n = codes.shape[0]
        d = apply_delay(codes, ar_cfg.pad_id)
        s = d.shape[0]
        lay = to_positions(layout_to_tokens(r.layout, n, fr), s)
        vis = None
        if r.visual is not None and ar_cfg.visual_dim > 0:
            vis = torch.from_numpy(to_positions(visual_to_tokens(r.visual[0], r.visual[1], n, fr), s)).float()
        out.append(TokenClip(d, ~pad_mask(n, ar_cfg.n_codebooks), vis, torch.from_numpy(np.ascontiguousarray(lay)).float(),
                             None if r.text is None else torch.from_numpy(np.asarray(r.text, np.float32))))
    return out


def _augment_layout(lay: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Make the true layout look a little hand-painted now and then (quantised levels, blur)."""
    u = rng.random()
    if u < 0.2:
        lay = torch.round(lay * 4) / 4
    elif u < 0.35:
        lay = F.avg_pool1d(lay.t()[None], 3, 1, 1, count_include_pad=False)[0].t()
    return lay


def make_batch(clips: list[TokenClip], ar_cfg: ARConfig, batch: int, rng: np.random.Generator, visual_dim: int):
    L = ar_cfg.context
    k = ar_cfg.n_codebooks
    m = ar_cfg.layout_kernel // 2  # margin so the layout conv sees real neighbours at crop edges
    tok_in = torch.full((batch, L, k), ar_cfg.pad_id, dtype=torch.long)
    tgt = torch.full((batch, L, k), 0, dtype=torch.long)
    valid = torch.zeros(batch, L, k, dtype=torch.bool)
    lay = torch.zeros(batch, L + 2 * m, ar_cfg.layout_bands)
    vis = torch.zeros(batch, L, max(visual_dim, 1))
    txt = torch.zeros(batch, max(ar_cfg.text_dim, 1))
    has_text = torch.zeros(batch, dtype=torch.bool)
    for i in range(batch):
        c = clips[int(rng.integers(len(clips)))]
        s = c.delayed.shape[0]
        inp = torch.cat([torch.full((1, k), ar_cfg.pad_id, dtype=torch.long), c.delayed[:-1]], 0)
        a = int(rng.integers(0, max(1, s - L + 1)))
        n = min(L, s - a)
        tok_in[i, :n] = inp[a : a + n]
        tgt[i, :n] = c.delayed[a : a + n].clamp_max(ar_cfg.codebook_size - 1)
        valid[i, :n] = c.valid[a : a + n]
        lo, hi = max(0, a - m), min(s, a + n + m)
        lay[i, lo - (a - m) : lo - (a - m) + (hi - lo)] = _augment_layout(c.layout, rng)[lo:hi]
        if c.visual is not None and visual_dim > 0:
            vis[i, :n] = c.visual[a : a + n]
        if c.text is not None and ar_cfg.text_dim > 0:
            txt[i] = c.text
            has_text[i] = True
    return tok_in, tgt, valid, lay, vis, txt, has_text


def train_transformer(
    clips: list[TokenClip],
    ar_cfg: ARConfig,
    steps: int = 1000,
    batch: int = 16,
    lr: float = 1e-3,
    warmup: int = 50,
    p_drop_all: float = 0.1,
    max_minutes: float = 15.0,
    seed: int = 0,
    log: Log = print,
    val_clips: list[TokenClip] | None = None,
    init_state: dict | None = None,
) -> tuple[ARTransformer, list[dict]]:
    """Next-token CE over all codebooks; 10 % of rows get the learned empty condition (all
    streams), and text / visual / layout are also dropped on their own so any subset works."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = ARTransformer(ar_cfg).train()
    if init_state is not None:  # continue / fine-tune from a checkpoint of the same config
        model.load_state_dict(init_state)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "emb" not in n]
    other = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "emb" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": other, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95))
    m = ar_cfg.layout_kernel // 2
    hist: list[dict] = []
    t0 = time.time()
    for step in range(steps):
        f = min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for g in opt.param_groups:
            g["lr"] = lr * max(f, 0.02)
        tok_in, tgt, valid, lay, vis, txt, has_text = make_batch(clips, ar_cfg, batch, rng, ar_cfg.visual_dim)
        drop_all = torch.from_numpy(rng.random(batch) < p_drop_all)
        drop_v = drop_all | torch.from_numpy(rng.random(batch) < 0.1)
        drop_l = drop_all | torch.from_numpy(rng.random(batch) < 0.1)
        drop_t = drop_all | ~has_text | torch.from_numpy(rng.random(batch) < 0.3)
        L = tok_in.shape[1]
        cond, tv = model.condition(None, lay, txt if ar_cfg.text_dim > 0 else None, L + 2 * m, batch,
                                   None, drop_l, drop_t)
        # visual rows are per-position (no conv): recompute on the un-margined window
        if ar_cfg.visual_dim > 0:
            cv, _ = model.condition(vis, None, None, L, batch, drop_v, None, None)
            cond = torch.cat([cv[..., : ar_cfg.d_visual], cond[:, m : m + L, ar_cfg.d_visual :]], -1)
        else:
            cond = cond[:, m : m + L]
        logits, _ = model(tok_in, cond, tv)
        ce = F.cross_entropy(logits.reshape(-1, ar_cfg.codebook_size), tgt.reshape(-1), reduction="none")
        w = valid.reshape(-1).float()
        loss = (ce * w).sum() / w.sum().clamp_min(1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 25 == 0 or step == steps - 1:
            with torch.no_grad():
                per_k = ((ce.view(batch, L, -1) * valid).sum((0, 1)) / valid.sum((0, 1)).clamp_min(1)).tolist()
            row = {"step": step, "loss": round(float(loss.detach()), 4), "per_codebook": [round(x, 3) for x in per_k],
                   "s": round(time.time() - t0, 1)}
            if val_clips and (step % 100 == 0 or step == steps - 1):
                row["val"] = round(evaluate_loss(model, val_clips, ar_cfg), 4)
                model.train()
            hist.append(row)
            log(f"ar {row}")
        if time.time() - t0 > max_minutes * 60:
            log(f"ar: time budget reached at step {step}")
            break
    return model.eval(), hist


@torch.no_grad()
def evaluate_loss(model: ARTransformer, clips: list[TokenClip], ar_cfg: ARConfig, n_batches: int = 4) -> float:
    model.eval()
    rng = np.random.default_rng(123)
    m = ar_cfg.layout_kernel // 2
    tot, cnt = 0.0, 0.0
    for _ in range(n_batches):
        tok_in, tgt, valid, lay, vis, txt, has_text = make_batch(clips, ar_cfg, 8, rng, ar_cfg.visual_dim)
        L = tok_in.shape[1]
        cond, tv = model.condition(None, lay, txt if ar_cfg.text_dim > 0 else None, L + 2 * m, 8, None, None, ~has_text)
        if ar_cfg.visual_dim > 0:
            cv, _ = model.condition(vis, None, None, L, 8)
            cond = torch.cat([cv[..., : ar_cfg.d_visual], cond[:, m : m + L, ar_cfg.d_visual :]], -1)
        else:
            cond = cond[:, m : m + L]
        logits, _ = model(tok_in, cond, tv)
        ce = F.cross_entropy(logits.reshape(-1, ar_cfg.codebook_size), tgt.reshape(-1), reduction="none")
        w = valid.reshape(-1).float()
        tot += float((ce * w).sum())
        cnt += float(w.sum())
    return tot / max(cnt, 1.0)
