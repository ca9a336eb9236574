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

from typing import Any

from engine.experimental.onset_stage import OnsetTrainer, onset_targets
from engine.train.run import Run
from engine.train.trainers.generator import GeneratorTrainer
from engine.train.trainers.joint import JointTrainer
from engine.train.trainers.layout import LayoutTrainer
from engine.train.trainers.layout_head import LayoutHeadTrainer
from engine.train.trainers.loop import StageTrainer, TrainConfig, run_stage, validate_with

#: stage name -> its trainer class (order = the stages' seed index, fixed)
TRAINERS: dict[str, type[StageTrainer]] = {
    t.name: t for t in sorted((LayoutTrainer, GeneratorTrainer, JointTrainer, LayoutHeadTrainer, OnsetTrainer),
                              key=lambda t: t.seed_index)
}
STAGES = tuple(TRAINERS)


def trainer_for(stage: str) -> StageTrainer:
    if stage not in TRAINERS:
        raise ValueError(f"unknown stage {stage!r}; one of {STAGES}")
    return TRAINERS[stage]()


def train_stage(run: Run, stage: str, cfg: TrainConfig) -> dict[str, Any]:
    """Train one stage for ``cfg.steps`` steps (continuing a checkpoint when there is one)."""
    return run_stage(trainer_for(stage), run, cfg)


def validate(run: Run, stage: str, cfg: TrainConfig, batches: int | None = None) -> dict[str, Any]:
    """Held-out score of ``stage`` on fixed crops of the val split (the train split when there is none)."""
    return validate_with(trainer_for(stage), run, cfg, batches)


__all__ = ["STAGES", "TRAINERS", "StageTrainer", "TrainConfig", "onset_targets", "train_stage", "trainer_for", "validate"]
