"""``layout``: the visual encoder + layout predictor T (L2 to the true layout) + a clip-level
event-class head (BCE) that teaches the small ViT the sound classes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.train.batches import Batcher, frames_arg, tensor
from engine.train.run import Run
from engine.train.trainers.loop import StageTrainer, TrainConfig

CLASS_WEIGHT = 0.1  #: weight of the event-class BCE next to the layout's L2


def layout_forward(run: Run, b: dict[str, np.ndarray], stride: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """T's layout [B, F, bands] and class logits for a batch: on the cached features of the
    frozen visual encoder when the batch has them, else through the visual encoder."""
    if "cls_f" in b:
        return run.nets["layout"](tensor(run, b["cls_f"]), tensor(run, b["patch_f"]), tensor(run, b["motion"]), frames_arg(run, b))
    frames = tensor(run, b["frames"])  # [B, F, S, S, 3]
    bsz, nf = frames.shape[:2]
    sem = frames[:, ::stride]
    ns = sem.shape[1]
    cls, patch = run.nets["visual"](sem.reshape(bsz * ns, *sem.shape[2:]))
    cls = cls.view(bsz, ns, -1).repeat_interleave(stride, 1)[:, :nf]
    patch = patch.view(bsz, ns, -1).repeat_interleave(stride, 1)[:, :nf]
    return run.nets["layout"](cls, patch, tensor(run, b["motion"]), frames_arg(run, b))


class LayoutTrainer(StageTrainer):
    name = "layout"
    seed_index = 0
    nets = ("visual", "layout")
    with_sem = False  # the visual encoder trains: frames go through it

    def loss(self, run: Run, b: dict[str, np.ndarray], cfg: TrainConfig, rng: np.random.Generator,
             g: torch.Generator, batcher: Batcher) -> tuple[torch.Tensor, dict[str, Any]]:
        pred, logits = layout_forward(run, b, batcher.stride)
        target = tensor(run, b["layout"])
        pred = pred[:, : target.shape[1]]
        loss_l2 = F.mse_loss(pred, target)
        loss = loss_l2
        extra = {"l2": float(loss_l2.detach())}
        if logits is not None and logits.shape[1] > 0:
            lc = F.binary_cross_entropy_with_logits(logits, tensor(run, b["classes"]))
            loss = loss + CLASS_WEIGHT * lc
            extra["cls"] = float(lc.detach())
        return loss, extra

    def val_step(self, run: Run, b: dict[str, np.ndarray], cfg: TrainConfig, rng: np.random.Generator,
                 g: torch.Generator, batcher: Batcher) -> float:
        pred, _ = layout_forward(run, b, batcher.stride)
        return float(F.mse_loss(pred, tensor(run, b["layout"])))

    def val_summary(self, run: Run, vals: list[float], split: str) -> dict[str, Any]:
        return {"val_l2": float(np.mean(vals)), "val_split": split}
