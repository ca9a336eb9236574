"""``generator``: S + G with the true layout (augmented to look hand-drawn: blurred,
quantised, shifted a little), 10 % of semantic conditions, 30 % of prompts and 10 % of
layouts dropped (for CFG, no-prompt use and the layout-strength control). The visual
encoder is frozen here, so its features are computed once per clip. x0-MSE (x0 prediction);
on a latent run x0 is the frozen VAE's latent of the mel crop. EMA 0.995 exported."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.audio.layout import resize_layout
from engine.diffusion.schedulers import training_scheduler
from engine.train.batches import Batcher, frames_arg, handdrawn, tensor
from engine.train.run import Run
from engine.train.trainers.loop import StageTrainer, TrainConfig


def generator_loss(run: Run, b: dict[str, np.ndarray], cfg: TrainConfig, rng: np.random.Generator,
                   g: torch.Generator, sched: Any, use_pred: bool) -> tuple[torch.Tensor, dict[str, Any]]:
    """x0-MSE of G on one batch; ``use_pred``: G gets T's predicted layout (frozen T) instead
    of the (augmented) true one."""
    bsz = b["mel"].shape[0]
    norm = run.manifest["mel_norm"]
    if run.latent:  # x0 = the frozen VAE's latent of the mel crop, [B, C*M, T/f]
        with torch.no_grad():
            x0 = run.vae.encode(tensor(run, b["mel"])).float()
    else:
        x0 = (tensor(run, b["mel"]).transpose(1, 2) - float(norm["center"])) / float(norm["scale"])
    mult = int(getattr(run.nets["unet"], "length_multiple", 1))
    if x0.shape[-1] % mult:  # the U-Net needs a multiple of its length multiple (odd latent crops)
        x0 = x0[..., : x0.shape[-1] // mult * mult]
    t_len = x0.shape[-1]
    bands = run.layout_cfg.bands
    lays = []
    if use_pred:
        with torch.no_grad():
            pred, _ = run.nets["layout"](tensor(run, b["cls_f"]), tensor(run, b["patch_f"]), tensor(run, b["motion"]),
                                         frames_arg(run, b))
        src = np.clip(pred.cpu().numpy(), 0, 1)
        src = np.stack([resize_layout(s, b["layout"].shape[1], bands) for s in src])
    else:
        src = b["layout"]
    for i in range(bsz):
        lv = src[i]
        if not use_pred and rng.random() < cfg.p_augment_layout:
            lv = handdrawn(lv, rng)
        up = np.clip(resize_layout(lv, t_len, bands), 0, 1).T
        flag = np.ones((1, t_len), np.float32)
        if rng.random() < cfg.p_drop_layout:
            up, flag = np.zeros_like(up), np.zeros_like(flag)
        lays.append(np.concatenate([up, flag], 0))
    layout = tensor(run, np.stack(lays).astype(np.float32))
    drop_sem = tensor(run, rng.random(bsz) < cfg.p_drop_semantic)
    drop_text = tensor(run, (rng.random(bsz) < cfg.p_drop_text) | ~b["has_text"])
    tok, pos = run.nets["cond"].tokens(
        tensor(run, b["tok"]), tensor(run, b["tpos"]), tensor(run, b["text"]), drop_semantic=drop_sem, drop_text=drop_text,
    )
    mask = torch.cat([tensor(run, b["tmask"]), torch.ones(bsz, 1, dtype=torch.bool, device=x0.device)], 1)
    t = tensor(run, rng.integers(0, int(sched.config.num_train_timesteps), bsz)).long()
    noise = torch.randn(x0.shape, generator=g).to(x0.device)  # drawn on the CPU: same noise on any device
    xt = sched.add_noise(x0, noise, t)
    pred = run.nets["unet"](xt, t, layout, tok, pos, mask)
    loss = F.mse_loss(pred, x0)
    return loss, {"x0_mse": float(loss.detach()), "pred_layout": bool(use_pred)}


class GeneratorTrainer(StageTrainer):
    name = "generator"
    seed_index = 1
    nets = ("cond", "unet")
    ema = True

    def setup(self, run: Run, cfg: TrainConfig) -> None:
        run.enable_vae(quiet=cfg.quiet)  # before the optimizer: it may rebuild G for the latent

    def begin(self, run: Run, batcher: Batcher) -> None:
        self.sched = training_scheduler(run.manifest.get("schedule"))

    def use_predicted_layout(self, rng: np.random.Generator, cfg: TrainConfig) -> bool:
        """Whether this batch's G sees T's predicted layout (never, in this stage)."""
        return False

    def loss(self, run: Run, b: dict[str, np.ndarray], cfg: TrainConfig, rng: np.random.Generator,
             g: torch.Generator, batcher: Batcher) -> tuple[torch.Tensor, dict[str, Any]]:
        return generator_loss(run, b, cfg, rng, g, self.sched, self.use_predicted_layout(rng, cfg))

    def val_config(self, cfg: TrainConfig) -> TrainConfig:
        """Held-out crops: nothing dropped or augmented."""
        return TrainConfig(out=cfg.out, p_drop_semantic=0, p_drop_text=0, p_drop_layout=0, p_augment_layout=0,
                           p_predicted_layout=0.0)

    def val_step(self, run: Run, b: dict[str, np.ndarray], cfg: TrainConfig, rng: np.random.Generator,
                 g: torch.Generator, batcher: Batcher) -> float:
        vcfg = self.val_config(cfg)
        loss, _ = generator_loss(run, b, vcfg, rng, g, self.sched, self.use_predicted_layout(rng, vcfg))
        return float(loss)

    def val_summary(self, run: Run, vals: list[float], split: str) -> dict[str, Any]:
        return {"val_x0_mse": float(np.mean(vals)), "val_split": split}
