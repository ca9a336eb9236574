"""``joint``: G (and S) fine-tuned with T's predicted layout half of the time (T frozen; TiVA
also updates T, which the CPU budget did not allow). Measured on the starter pack it made G
follow layouts less (docs/DIFFUSION.md): the shipped pack has no joint-stage weights."""

from __future__ import annotations

import dataclasses

import numpy as np

from engine.train.trainers.generator import GeneratorTrainer
from engine.train.trainers.loop import TrainConfig


class JointTrainer(GeneratorTrainer):
    name = "joint"
    seed_index = 2

    def use_predicted_layout(self, rng: np.random.Generator, cfg: TrainConfig) -> bool:
        return bool(rng.random() < cfg.p_predicted_layout)

    def val_config(self, cfg: TrainConfig) -> TrainConfig:
        """Held-out crops: always T's predicted layout, nothing dropped."""
        return dataclasses.replace(super().val_config(cfg), p_predicted_layout=1.0)
