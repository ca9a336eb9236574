"""Training stages of the diffusion pack (TiVA §3.3), one trainer per stage over one shared
loop (``loop.run_stage``: optimizer, EMA, checkpoints, log, progress, validation), through
Hugging Face accelerate: one CPU, one GPU or ``accelerate launch`` on many.

- ``layout``: visual encoder + T + class head (trainers/layout.py)
- ``generator``: S + G on the true layout (trainers/generator.py)
- ``joint``: S + G with T's predicted layout half of the time (trainers/joint.py)
- ``layout_head``: T alone on cached features (trainers/layout_head.py)
- ``onset``: T's onset head alone (EXPERIMENTAL, not shipped: engine/experimental/onset_stage.py)

``train_stage(run, stage, cfg)`` is the entry point (``v2a train --stage ...``).
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.train.run import Run
from engine.train.trainers.generator import GeneratorTrainer
from engine.train.trainers.joint import JointTrainer
from engine.train.trainers.layout import LayoutTrainer
from engine.train.trainers.layout_head import LayoutHeadTrainer
from engine.train.trainers.loop import StageTrainer, TrainConfig, run_stage, validate_with

#: stage name -> its trainer class, or "module:Class" for one outside this package (loaded on
#: first use: the experimental stage imports this package's loop). Order = the stages' seed index.
TRAINERS: dict[str, type[StageTrainer] | str] = {
    "layout": LayoutTrainer,
    "generator": GeneratorTrainer,
    "joint": JointTrainer,
    "layout_head": LayoutHeadTrainer,
    "onset": "engine.experimental.onset_stage:OnsetTrainer",
}
STAGES = tuple(TRAINERS)


def trainer_for(stage: str) -> StageTrainer:
    if stage not in TRAINERS:
        raise ValueError(f"unknown stage {stage!r}; one of {STAGES}")
    cls = TRAINERS[stage]
    if isinstance(cls, str):
        mod, name = cls.split(":")
        cls = getattr(importlib.import_module(mod), name)
    trainer = cls()
    assert trainer.name == stage and trainer.seed_index == STAGES.index(stage)
    return trainer


def train_stage(run: Run, stage: str, cfg: TrainConfig) -> dict[str, Any]:
    """Train one stage for ``cfg.steps`` steps (continuing a checkpoint when there is one)."""
    return run_stage(trainer_for(stage), run, cfg)


def validate(run: Run, stage: str, cfg: TrainConfig, batches: int | None = None) -> dict[str, Any]:
    """Held-out score of ``stage`` on fixed crops of the val split (the train split when there is none)."""
    return validate_with(trainer_for(stage), run, cfg, batches)


__all__ = ["STAGES", "TRAINERS", "StageTrainer", "TrainConfig", "train_stage", "trainer_for", "validate"]
