"""Token sampling: CFG on log-probabilities, top-k, temperature, KV cache, sliding window,
continuation from given tokens.

Windows: a window holds at most ``cfg.context`` delayed positions; when full it slides by
``stride`` positions (V-AURA: 0.64 s) and the kept positions are re-encoded from their tokens
with window positions starting at 0 again — exactly what training saw (random crops) — so the
token stream is continuous and the codec decodes the whole clip in one piece: no seam.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import torch

from engine.ar.delay import apply_delay, delayed_length, pad_mask, revert_delay
from engine.ar.model import ARTransformer
from engine.progress import run_to_completion


@dataclass(frozen=True)
class SampleSettings:
    guidance: float | None = 6.0  # None = plain conditional sampling (no uncond pass)
    top_k: int = 128
    temperature: float = 1.0
    stride: int = 16  # window slide in token steps (0.64 s at 25 Hz)
    use_cache: bool = True


def window_start(s: int, context: int, stride: int) -> int:
    """First position of the window that predicts position ``s`` (same rule with or without cache)."""
    over = s + 1 - context
    if over <= 0:
        return 0
    return stride * (-(-over // stride))


Gen = torch.Generator | list[torch.Generator]


def _pick(logp: torch.Tensor, settings: SampleSettings, gen: Gen) -> torch.Tensor:
    """logp [B, K, V] -> tokens [B, K]; Gumbel-max over the top-k (one noise draw per step).

    With one generator per batch row, row ``i`` depends only on its own seed, so take ``i``
    of a batch equals the same seed sampled alone."""
    if isinstance(gen, list):
        noise = torch.stack([torch.rand(logp.shape[1:], generator=g) for g in gen])
    else:
        noise = torch.rand(logp.shape, generator=gen)
    noise = noise.clamp_(1e-10, 1.0)
    gumbel = -torch.log(-torch.log(noise))
    x = logp / max(settings.temperature, 1e-5)
    k = min(settings.top_k, x.shape[-1])
    if k < x.shape[-1]:
        kth = torch.topk(x, k, dim=-1).values[..., -1:]
        x = x.masked_fill(x < kth, float("-inf"))
    return (x + gumbel).argmax(-1)


def sample_tokens(
    model: ARTransformer,
    cond: torch.Tensor,
    text_vec: torch.Tensor,
    n_frames: int,
    settings: SampleSettings,
    generator: Gen,
    uncond: torch.Tensor | None = None,
    uncond_text: torch.Tensor | None = None,
    prefix: torch.Tensor | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Sample codes [B, n_frames, K] (see :func:`iter_sample_tokens`)."""
    job = iter_sample_tokens(model, cond, text_vec, n_frames, settings, generator, uncond, uncond_text, prefix)
    return run_to_completion(job, None if on_step is None else lambda st: on_step(*st))


def iter_sample_tokens(
    model: ARTransformer,
    cond: torch.Tensor,
    text_vec: torch.Tensor,
    n_frames: int,
    settings: SampleSettings,
    generator: Gen,
    uncond: torch.Tensor | None = None,
    uncond_text: torch.Tensor | None = None,
    prefix: torch.Tensor | None = None,
) -> Generator[tuple[int, int], None, torch.Tensor]:
    """Sample codes [B, n_frames, K]; yields (position, total) after each delayed position.

    cond [B, S, C] / text_vec [B, d] is the conditional stream for all S = n_frames + K - 1
    delayed positions; uncond / uncond_text the unconditional one (required when
    ``settings.guidance`` is not None). ``prefix`` [B, P, K] are known codes of the first P
    frames (continuation): they are fed, never resampled.
    """
    cfg = model.cfg
    kq, pad = cfg.n_codebooks, cfg.pad_id
    b = cond.shape[0]
    s_len = delayed_length(n_frames, kq)
    known = pad_mask(n_frames, kq)[None].expand(b, -1, -1).clone()
    delayed = torch.full((b, s_len, kq), pad, dtype=torch.long)
    if prefix is not None and prefix.shape[1] > 0:
        p = min(prefix.shape[1], n_frames)
        full = torch.full((b, n_frames, kq), pad, dtype=torch.long)
        full[:, :p] = prefix[:, :p]
        d_pre = apply_delay(full, pad)
        f = torch.arange(s_len)[:, None] - torch.arange(kq)[None, :]
        pk = ((f >= 0) & (f < p))[None].expand(b, -1, -1)
        delayed = torch.where(pk, d_pre, delayed)
        known |= pk
    # inputs: position s sees the delayed tokens of s-1 (pad at s=0)
    inp = torch.full((b, s_len, kq), pad, dtype=torch.long)
    guided = settings.guidance is not None
    if guided:
        assert uncond is not None and uncond_text is not None
        cond_all = torch.cat([cond, uncond], 0)
        text_all = torch.cat([text_vec, uncond_text], 0)
    else:
        cond_all, text_all = cond, text_vec
    reps = 2 if guided else 1

    todo = (~known).any(-1).any(0)  # positions with something to sample
    first = int(todo.nonzero()[0]) if bool(todo.any()) else s_len
    for s in range(1, min(first, s_len) + 1):
        if s < s_len:
            inp[:, s] = delayed[:, s - 1]

    state: dict = {"cache": None, "w0": -1, "upto": 0}
    for s in range(first, s_len):
        with torch.no_grad():
            _step(model, s, b, reps, guided, settings, generator, cfg.context, inp, delayed, known, todo,
                  cond_all, text_all, state)
        yield s + 1, s_len
    return revert_delay(delayed, kq)


def _step(
    model: ARTransformer,
    s: int,
    b: int,
    reps: int,
    guided: bool,
    settings: SampleSettings,
    generator: Gen,
    context: int,
    inp: torch.Tensor,
    delayed: torch.Tensor,
    known: torch.Tensor,
    todo: torch.Tensor,
    cond_all: torch.Tensor,
    text_all: torch.Tensor,
    state: dict,
) -> None:
    """Predict delayed position ``s`` (window + cache bookkeeping in ``state``)."""
    s_len = delayed.shape[1]
    w0 = window_start(s, context, settings.stride)
    if settings.use_cache:
        if w0 != state["w0"]:
            state.update(cache=None, w0=w0, upto=w0)
        upto = state["upto"]
        sl = slice(upto, s + 1)
        logits, state["cache"] = model(
            inp[:, sl].repeat(reps, 1, 1), cond_all[:, sl], text_all, state["cache"], pos0=upto - w0
        )
        state["upto"] = s + 1
    else:
        sl = slice(w0, s + 1)
        logits, _ = model(inp[:, sl].repeat(reps, 1, 1), cond_all[:, sl], text_all, None, pos0=0)
    last = logits[:, -1].float()  # [reps*B, K, V]
    if bool(todo[s]):
        if guided:
            lc = torch.log_softmax(last[:b], -1)
            lu = torch.log_softmax(last[b:], -1)
            g = float(settings.guidance)
            logp = g * lc + (1.0 - g) * lu
        else:
            logp = torch.log_softmax(last, -1)
        tok = _pick(logp, settings, generator)
        delayed[:, s] = torch.where(known[:, s], delayed[:, s], tok)
    if s + 1 < s_len:
        inp[:, s + 1] = delayed[:, s]
