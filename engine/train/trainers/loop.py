"""The loop every diffusion-pack stage shares: optimizer, warm-up, gradient clipping, EMA,
checkpoints, the loss log, the progress bar, held-out validation and the summary.

A stage is a :class:`StageTrainer`: which networks it trains, its loss, its held-out score.
The loop knows nothing about any stage. Fixed seeds: the batch of step ``k`` depends only on
(seed, the stage's ``seed_index``, k, process), so a resumed run continues identically.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.train.batches import Batcher
from engine.train.checkpoint import load_ckpt, save_ckpt
from engine.train.run import Run, move_run

WARMUP_STEPS = 100


@dataclass
class TrainConfig:
    out: Path
    steps: int = 1000
    batch: int = 16
    lr: float = 3e-4
    seed: int = 0
    ckpt_every: int = 200
    log_every: int = 10
    resume: bool = True
    p_drop_semantic: float = 0.1
    p_drop_text: float = 0.3
    p_drop_layout: float = 0.1
    p_augment_layout: float = 0.5
    p_predicted_layout: float = 0.5  # joint stage
    onset_head: int = 64  # onset stage: width of the head it adds to T
    augment_frames: bool = False  # layout stages: mirror / relight T's motion frames
    ema: float = 0.995
    threads: int = 0  # 0 = leave torch's default
    quiet: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class StageTrainer:
    """One training stage. Subclasses set the class attributes and implement :meth:`loss`
    and :meth:`val_step`; the rest has defaults the stages share."""

    name: str = ""
    seed_index: int = 0  #: the stage's place in the batch seeds (fixed: resumed runs stay identical)
    nets: tuple[str, ...] = ()  #: the networks it trains (checkpointed and saved)
    with_sem: bool = True  #: batches carry the frozen visual encoder's cached features
    ema: bool = False  #: keep an EMA of G and export it
    val_batches: int = 4  #: fixed held-out crops scored after training

    # ---- before the stage (the run is still on the CPU) ----------------------------------
    def setup(self, run: Run, cfg: TrainConfig) -> None:
        """Change the run before the optimizer exists (e.g. rebuild a network)."""

    def parameters(self, run: Run) -> list[torch.nn.Parameter]:
        """Put the trained networks in train mode (the rest frozen, in eval) and return the
        parameters the optimizer updates."""
        for n, m in run.nets.items():
            m.requires_grad_(n in self.nets)
            m.train(n in self.nets)
        return [p for n in self.nets for p in run.nets[n].parameters()]

    # ---- per step ----------------------------------------------------------------------------
    def begin(self, run: Run, batcher: Batcher) -> None:
        """Once, after the batcher exists (before the first step and before validation)."""

    def loss(self, run: Run, b: dict[str, np.ndarray], cfg: TrainConfig, rng: np.random.Generator,
             g: torch.Generator, batcher: Batcher) -> tuple[torch.Tensor, dict[str, Any]]:
        raise NotImplementedError

    # ---- validation --------------------------------------------------------------------------
    def val_step(self, run: Run, b: dict[str, np.ndarray], cfg: TrainConfig, rng: np.random.Generator,
                 g: torch.Generator, batcher: Batcher) -> float:
        raise NotImplementedError

    def val_summary(self, run: Run, vals: list[float], split: str) -> dict[str, Any]:
        raise NotImplementedError


def run_stage(trainer: StageTrainer, run: Run, cfg: TrainConfig) -> dict[str, Any]:
    """Train ``trainer``'s stage for ``cfg.steps`` steps through accelerate (continuing a
    checkpoint when there is one), validate, write the summary."""
    from accelerate import Accelerator

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    trainer.setup(run, cfg)
    acc = Accelerator(cpu=not torch.cuda.is_available())
    # Every network of the run (and a latent run's VAE) goes to accelerate's device for the
    # stage: the frozen ones feed the trained ones. Batches follow them (batches.tensor); the
    # run is back on the CPU when the stage returns, as it was before.
    move_run(run, acc.device)
    try:
        return _loop(trainer, run, cfg, acc)
    finally:
        move_run(run, torch.device("cpu"))


def _loop(trainer: StageTrainer, run: Run, cfg: TrainConfig, acc: Any) -> dict[str, Any]:
    from tqdm import tqdm

    stage, names = trainer.name, trainer.nets
    params = trainer.parameters(run)
    modules = {n: run.nets[n] for n in names}
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01, betas=(0.9, 0.99))
    wrapped = torch.nn.ModuleDict(modules)
    wrapped, opt = acc.prepare(wrapped, opt)
    ema = None
    if trainer.ema and cfg.ema > 0:
        ema = {k: v.detach().clone() for k, v in run.nets["unet"].state_dict().items()}
    ck = run.out / stage / "ckpt"
    start = load_ckpt(ck, modules, opt, ema) if cfg.resume else 0
    batcher = Batcher(run, "train", with_sem=trainer.with_sem, augment=cfg.augment_frames)
    trainer.begin(run, batcher)
    log_path = run.out / stage / "log.jsonl"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    logf = open(log_path, "a", encoding="utf-8")
    bar = tqdm(total=cfg.steps, initial=start, desc=stage, disable=cfg.quiet or not acc.is_local_main_process)
    losses: list[float] = []
    t0 = time.time()
    for step in range(start, cfg.steps):
        rng = np.random.default_rng([cfg.seed, trainer.seed_index, step, acc.process_index])
        g = torch.Generator().manual_seed(int(rng.integers(1 << 62)))
        b = batcher.crop(rng, cfg.batch)
        lr = cfg.lr * min(1.0, (step + 1) / WARMUP_STEPS)
        for pg in opt.param_groups:
            pg["lr"] = lr
        loss, extra = trainer.loss(run, b, cfg, rng, g, batcher)
        opt.zero_grad(set_to_none=True)
        acc.backward(loss)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if ema is not None:
            with torch.no_grad():
                for k, v in run.nets["unet"].state_dict().items():
                    if v.is_floating_point():
                        ema[k].mul_(cfg.ema).add_(v.detach(), alpha=1 - cfg.ema)
                    else:
                        ema[k].copy_(v)
        losses.append(float(loss.detach()))
        bar.update(1)
        if (step + 1) % cfg.log_every == 0:
            rec = {"step": step + 1, "loss": float(np.mean(losses[-cfg.log_every:])), "lr": lr,
                   "elapsed_s": round(time.time() - t0, 1), **extra}
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            bar.set_postfix(loss=f"{rec['loss']:.4f}")
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:
            save_ckpt(ck, step + 1, modules, opt, ema)
            # the nets/ folder always holds exportable weights (EMA for the generator)
            run.save_nets(names, overrides={"unet": ema} if ema is not None else None)
    bar.close()
    logf.close()
    if ema is not None and cfg.steps > start:
        # export the EMA generator (smoother samples); the raw one stays in the checkpoint
        run.nets["unet"].load_state_dict(ema)
    for m in run.nets.values():
        m.eval()
        m.requires_grad_(False)
    run.save_nets(names)
    val = validate_with(trainer, run, cfg)
    summary = {"stage": stage, "steps": cfg.steps, "start": start, "train_loss_last": float(np.mean(losses[-50:])) if losses else None,
               "seconds": round(time.time() - t0, 1), **val}
    (run.out / stage / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


@torch.no_grad()
def validate_with(trainer: StageTrainer, run: Run, cfg: TrainConfig, batches: int | None = None) -> dict[str, Any]:
    """Held-out score on fixed crops of the val split (the train split when there is none)."""
    split = "val" if (run.out / "prep" / "val.npz").is_file() else "train"
    try:
        batcher = Batcher(run, split, with_sem=trainer.with_sem)
    except FileNotFoundError:
        return {}
    for m in run.nets.values():
        m.eval()
    trainer.begin(run, batcher)
    vals = []
    for k in range(trainer.val_batches if batches is None else batches):
        rng = np.random.default_rng([12345, k])
        g = torch.Generator().manual_seed(k)
        b = batcher.crop(rng, min(cfg.batch, 16))
        vals.append(trainer.val_step(run, b, cfg, rng, g, batcher))
    return trainer.val_summary(run, vals, split)
