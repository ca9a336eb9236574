"""``layout_head``: T alone on the frozen visual encoder's cached features (cheap: no ViT
backward), so T can keep training on a CPU while the generator trains in another process.
Same loss and held-out score as ``layout``."""

from __future__ import annotations

from engine.train.trainers.layout import LayoutTrainer


class LayoutHeadTrainer(LayoutTrainer):
    name = "layout_head"
    seed_index = 3
    nets = ("layout",)
    with_sem = True
