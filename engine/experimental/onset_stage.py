"""EXPERIMENTAL, not shipped: ``v2a train --stage onset``, T's per-frame onset head alone.

BCE against the onsets of the true layout's events; the rest of T is frozen, so its layouts
stay as they were and inference shapes their attacks at the picked onsets
(engine.experimental.onsets, which has the measurements: no shipped pack has the head).
Afterwards the held-out crops pick the run's ``layout.onset_threshold``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.train.batches import Batcher, frames_arg, tensor
from engine.train.run import Run
from engine.train.trainers.loop import StageTrainer, TrainConfig

ONSET_POS_WEIGHT = 4.0  # onsets are ~1 column in 15: weigh the positives up
ONSET_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def ensure_onset_head(run: Run, width: int) -> None:
    """Give the run's T an onset head (fresh, the rest of T's weights kept) and record it in
    the manifest; nothing changes when T already has one."""
    if run.nets["layout"].has_onset_head:
        return
    from engine.models.layout_predictor import LayoutPredictor

    old = run.nets["layout"]
    run.manifest["networks"]["layout"].update(onset_head=int(width))
    new = LayoutPredictor({**old.config, "onset_head": int(width)})
    missing, unexpected = new.load_state_dict(old.state_dict(), strict=False)
    if unexpected or any(not k.startswith("onset_head.") for k in missing):
        raise RuntimeError(f"onset head: unexpected weights {unexpected} / missing {missing}")
    run.nets["layout"] = new
    run.save_manifest()


def _event_columns(layout: np.ndarray, columns_per_second: float) -> np.ndarray:
    """Column index of each event onset of a [N, bands] layout (``events_from_layout``, the
    same events layout adherence scores)."""
    from engine.metrics.adherence import events_from_layout
    from engine.types import AudioLayout

    n = layout.shape[0]
    return np.array([min(int(t * columns_per_second), n - 1)
                     for t in events_from_layout(AudioLayout(layout, columns_per_second))], int)


def onset_targets(layouts: np.ndarray, columns_per_second: float) -> np.ndarray:
    """[B, N, bands] true layouts -> [B, N] 0/1: the column of each event's onset."""
    out = np.zeros(layouts.shape[:2], np.float32)
    for i, lay in enumerate(layouts):
        out[i, _event_columns(lay, columns_per_second)] = 1.0
    return out


def _onset_forward(run: Run, b: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    T = run.nets["layout"]
    pred, _, logits = T.forward_all(tensor(run, b["cls_f"]), tensor(run, b["patch_f"]), tensor(run, b["motion"]), frames_arg(run, b))
    return pred, logits


def _onset_bce(run: Run, logits: torch.Tensor, layouts: np.ndarray) -> torch.Tensor:
    target = tensor(run, onset_targets(layouts, float(run.manifest["layout"]["columns_per_second"])))
    logits = logits[:, : target.shape[1]]
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor(ONSET_POS_WEIGHT, device=target.device))


def _event_f1(pred: list[np.ndarray], true: list[np.ndarray], tol: int = 1) -> dict[str, float]:
    """Precision / recall / F1 of event columns within ±tol columns (one-to-one matches)."""
    from engine.metrics.align import match_count

    tp = sum(match_count(p, t, tol, strict=False) for p, t in zip(pred, true, strict=True))
    n_pred, n_true = sum(len(p) for p in pred), sum(len(t) for t in true)
    prec = tp / n_pred if n_pred else 0.0
    rec = tp / n_true if n_true else 0.0
    return {"precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}


def _onset_event_scores(run: Run, batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Events of T's layout before / after shaping at the picked onsets (the run's
    ``layout.onset_mode``, as inference does), and the picked onsets themselves, against the
    true layout's events (±1 column). The threshold with the best shaped F1 on these
    held-out crops becomes the run's ``layout.onset_threshold``."""
    from engine.experimental.onsets import DEFAULT_ONSET_MODE, apply_onsets, pick_onsets

    cps = float(run.manifest["layout"]["columns_per_second"])
    mode = str(run.manifest["layout"].get("onset_mode", DEFAULT_ONSET_MODE))

    preds = [p for pr, _, _ in batches for p in pr]
    probs = [p for _, pb, _ in batches for p in pb]
    true = [_event_columns(lay, cps) for _, _, lays in batches for lay in lays]
    out: dict[str, float] = {f"val_layout_{k}": round(v, 4) for k, v in _event_f1([_event_columns(p, cps) for p in preds], true).items()}
    shaped, picked = {}, {}
    for t in ONSET_THRESHOLDS:
        picked[t] = [pick_onsets(pr, t) for pr in probs]
        shaped[t] = _event_f1([_event_columns(apply_onsets(p, pk, mode), cps) for p, pk in zip(preds, picked[t], strict=True)], true)
        out[f"val_shaped_f1@{t}"] = round(shaped[t]["f1"], 4)
    thr = max(ONSET_THRESHOLDS, key=lambda t: shaped[t]["f1"])  # the lowest one on a tie
    out["onset_threshold"] = thr
    out.update({f"val_shaped_{k}": round(v, 4) for k, v in shaped[thr].items()})
    out.update({f"val_onsets_{k}": round(v, 4) for k, v in _event_f1(picked[thr], true).items()})
    run.manifest["layout"]["onset_threshold"] = thr
    run.manifest["layout"]["onset_mode"] = mode
    run.save_manifest()
    return out



class OnsetTrainer(StageTrainer):
    name = "onset"
    seed_index = 4
    nets = ("layout",)
    val_batches = 16  # the onset threshold is chosen on these crops: more of them than a loss needs

    def setup(self, run: Run, cfg: TrainConfig) -> None:
        ensure_onset_head(run, cfg.onset_head)

    def parameters(self, run: Run) -> list[torch.nn.Parameter]:
        super().parameters(run)
        # T stays as it is (and in eval mode); only its onset head learns
        T = run.nets["layout"]
        T.requires_grad_(False)
        T.eval()
        T.onset_head.requires_grad_(True)
        T.onset_head.train()
        return list(T.onset_head.parameters())

    def begin(self, run: Run, batcher: Batcher) -> None:
        self._eval: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (T's layouts, onset probs, true layouts)

    def loss(self, run: Run, b: dict[str, np.ndarray], cfg: TrainConfig, rng: np.random.Generator,
             g: torch.Generator, batcher: Batcher) -> tuple[torch.Tensor, dict[str, Any]]:
        loss = _onset_bce(run, _onset_forward(run, b)[1], b["layout"])
        return loss, {"bce": float(loss.detach())}

    def val_step(self, run: Run, b: dict[str, np.ndarray], cfg: TrainConfig, rng: np.random.Generator,
                 g: torch.Generator, batcher: Batcher) -> float:
        pred, logits = _onset_forward(run, b)
        self._eval.append((np.clip(pred.cpu().numpy(), 0, 1), torch.sigmoid(logits).cpu().numpy(), b["layout"]))
        return float(_onset_bce(run, logits, b["layout"]))

    def val_summary(self, run: Run, vals: list[float], split: str) -> dict[str, Any]:
        return {"val_bce": float(np.mean(vals)), "val_split": split, **_onset_event_scores(run, self._eval)}
