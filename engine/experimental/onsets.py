"""EXPERIMENTAL, not shipped: T's onset head and the shaping of its layout at the picked onsets.

Measured (docs/DIFFUSION.md, sessions 4-5, ``layout_experiments.json``): on the shipped T the
head picks onsets with val precision 0.50 / recall 0.40, and shaping with it (``gate``) raised
onset accuracy on 24 test clips 0.273 -> 0.297 but lowered AA-Align 0.303 -> 0.266 and layout
recall 0.58 -> 0.43 and raised FAD 251 -> 270. No shipped pack has an onset head; the path
stays, off unless a pack's T has ``layout.onset_head`` > 0 (``v2a train --stage onset``,
engine.experimental.onset_stage); engine.engines.diffusion calls the inference side.

T is trained with L2, which rewards smearing an event over the columns around it when its
exact frame is uncertain; G then renders a soft swell and the onset lands anywhere in it.
The onset head (``LayoutPredictor`` config ``onset_head``) makes a hard per-frame decision
instead. ``sharpen_layout`` keeps T's levels and bands and only moves each attack onto a
picked onset: the smear just before the onset drops to the level the columns held before the
rise, and the onset column takes the event's level. ``apply_onsets`` goes further: ``inject``
also gives a picked onset where T has no event the clip's typical event (T's own band
profile, decaying over 4 columns), and ``gate`` (the default) then keeps only the events that
start at a picked onset, lowering the rest of the layout to its floor: T's many false events
were what kept its precision low.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def pick_onsets(prob: np.ndarray, threshold: float = 0.5, min_gap: int = 3) -> np.ndarray:
    """Column indices of local maxima of ``prob`` [N] at or above ``threshold``, strongest
    first kept, none closer than ``min_gap`` columns to a stronger one; sorted."""
    p = np.asarray(prob, np.float64)
    n = p.size
    if n == 0:
        return np.zeros(0, int)
    left = np.r_[-np.inf, p[:-1]]
    right = np.r_[p[1:], -np.inf]
    cand = np.flatnonzero((p >= threshold) & (p >= left) & (p >= right))
    keep: list[int] = []
    for i in cand[np.argsort(-p[cand], kind="stable")]:
        if all(abs(int(i) - k) >= min_gap for k in keep):
            keep.append(int(i))
    return np.array(sorted(keep), int)


def sharpen_layout(values: np.ndarray, onsets: np.ndarray, pre: int = 3, post: int = 2) -> np.ndarray:
    """values [N, bands] in [0, 1]; onsets: column indices. Returns a sharpened copy.

    For each onset t: columns t-pre .. t-1 fall to their per-band minimum over that span
    (the level before the rise), and column t rises to the maximum of t .. t+post (the
    event's level, which a smeared prediction reaches a little late)."""
    src = np.asarray(values, np.float32)
    v = src.copy()
    n = v.shape[0]
    prev = -1
    for t in sorted(int(t) for t in np.asarray(onsets).ravel()):
        if not 0 <= t < n:
            continue
        lo = max(0, t - pre, prev + 1)  # never flatten the previous onset's own column
        if lo < t:
            v[lo:t] = src[lo:t].min(0)
        v[t] = np.maximum(v[t], src[t : min(n, t + post + 1)].max(0))
        prev = t
    return v


ONSET_MODES = ("sharpen", "inject", "gate")
DEFAULT_ONSET_MODE = "gate"
INJECT_DECAY = (1.0, 0.8, 0.6, 0.4)


def apply_onsets(values: np.ndarray, onsets: np.ndarray, mode: str = DEFAULT_ONSET_MODE, hold: int = 4,
                 rel_threshold: float = 0.3) -> np.ndarray:
    """T's layout [N, bands] shaped by the picked onsets (module doc). ``hold``: columns an
    event stays open after its onset before the gate follows T's own event to its end."""
    if mode not in ONSET_MODES:
        raise ValueError(f"onset mode {mode!r}: one of {ONSET_MODES}")
    n = np.asarray(values).shape[0]
    pk = [int(t) for t in np.asarray(onsets).ravel() if 0 <= int(t) < n]
    if not pk:
        # No onset picked in the whole clip (ambience, or footage unlike the training clips):
        # T's layout as it is, never a silenced one.
        return np.array(values, np.float32, copy=True)
    v = sharpen_layout(values, pk)
    if mode == "sharpen":
        return v
    e = v.mean(1)
    lo_e, hi_e = float(e.min()), float(e.max())
    events = v[e >= lo_e + 0.5 * (hi_e - lo_e)]
    profile = events.mean(0) if len(events) else v.max(0)
    for t in pk:
        for j, d in enumerate(INJECT_DECAY[: n - t]):
            v[t + j] = np.maximum(v[t + j], profile * d)
    if mode == "inject":
        return v
    e = v.mean(1)
    keep_above = float(e.min()) + rel_threshold * float(e.max() - e.min())
    gate = np.zeros(n, np.float32)
    for t in pk:
        j = min(n, t + hold)
        gate[t:j] = 1.0
        while j < n and e[j] >= keep_above:  # T's event runs on: follow it to its end
            gate[j] = 1.0
            j += 1
    floor = v.min(0)
    return floor + (v - floor) * gate[:, None]


def build_onset_head(in_dim: int, width: int) -> torch.nn.Module:
    """T's onset head over its per-frame features [B, in_dim, F] -> logits [B, 1, F]: a small
    temporal conv (an onset is a decision about a frame and its neighbours)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv1d(in_dim, width, 5, padding=2), nn.GELU(), nn.Conv1d(width, width, 3, padding=1), nn.GELU(),
        nn.Conv1d(width, 1, 1),
    )
