"""``v2a train --stage vae``: a diffusers ``AutoencoderKL`` on windows of the library's mels.

Data: the recordings of the Foley library (train split; val for the held-out loss), their
log-mel (``engine.audio.log_mel``) computed once, random windows of ``frames`` mel frames,
normalised with the pack's ``mel_norm``. Loss: L1 reconstruction + ``kl_weight`` x KL
(AudioLDM trains its VAE with a GAN and LPIPS-like terms; the plain objective is what fits a
CPU). After training, ``scaling_factor`` = 1 / std of the latents (diffusers convention).
Outputs ``OUT/vae/{config.json, model.safetensors}``, checkpoints, ``log.jsonl``,
``summary.json`` — the conventions of the other stages.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.audio.layout import mel_norm as default_mel_norm
from engine.audio.mel import MelConfig, log_mel


@dataclass
class VaeTrainConfig:
    out: Path
    steps: int = 2000
    batch: int = 8
    lr: float = 4e-4
    seed: int = 0
    frames: int = 256  # mel frames per window (a multiple of the VAE's downsampling)
    kl_weight: float = 1e-4
    ckpt_every: int = 200
    log_every: int = 10
    resume: bool = True
    threads: int = 0
    quiet: bool = False


def _windows(mels: list[np.ndarray], rng: np.random.Generator, batch: int, frames: int, floor: float) -> np.ndarray:
    out = np.full((batch, frames, mels[0].shape[1]), floor, np.float32)
    for b in range(batch):
        m = mels[int(rng.integers(0, len(mels)))]
        s = int(rng.integers(0, m.shape[0] - frames + 1)) if m.shape[0] > frames else 0
        c = m[s : s + frames]
        out[b, : c.shape[0]] = c
    return out


def train_vae(cfg: VaeTrainConfig, vae_config: dict[str, Any], train_files: list[Path],
              val_files: list[Path] | None = None, mel_cfg: MelConfig = MelConfig(),
              mel_norm: dict[str, float] | None = None, train_mels: list[np.ndarray] | None = None,
              val_mels: list[np.ndarray] | None = None) -> dict[str, Any]:
    """Train (or continue) the run's mel VAE for ``cfg.steps`` steps; returns the summary.

    ``train_mels`` / ``val_mels`` ([T, n_mels] log-mels, e.g. a run's prepared clips) replace
    the recordings when given (tests train on in-memory data this way)."""
    from accelerate import Accelerator
    from tqdm import tqdm

    from engine.errors import V2AError
    from engine.models.mel_vae import MelVAE, build_vae, clean_vae_config, downsample_factor
    from engine.train.checkpoint import load_ckpt, save_ckpt
    from engine.train.packio import write_model_folder
    from engine.train.vocoder import load_recordings

    if not train_files and not train_mels:
        raise V2AError("no training recordings for the VAE (run `v2a data sfx` first)")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    norm = dict(mel_norm or default_mel_norm())
    d = Path(cfg.out) / "vae"
    ck = d / "ckpt"
    if cfg.resume and (ck / "state.json").is_file() and (d / "config.json").is_file():
        vae_config = json.loads((d / "config.json").read_text())
    vae_config = clean_vae_config(vae_config, d / "config.json")
    f = downsample_factor(vae_config)
    frames = max(f, cfg.frames // f * f)
    floor = math.log(1e-5)
    if train_mels:
        mels = [np.asarray(m, np.float32) for m in train_mels]
        val_mels = [np.asarray(m, np.float32) for m in val_mels] if val_mels else mels
    else:
        mels = [log_mel(a, mel_cfg) for a in load_recordings(train_files, mel_cfg.sample_rate)]
        val_mels = [log_mel(a, mel_cfg) for a in load_recordings(val_files, mel_cfg.sample_rate)] if val_files else mels
    torch.manual_seed(cfg.seed)
    model = build_vae(vae_config)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=0.0)
    start = load_ckpt(ck, {"vae": model}, opt, None) if cfg.resume else 0
    acc = Accelerator(cpu=not torch.cuda.is_available())
    model, opt = acc.prepare(model, opt)
    raw = acc.unwrap_model(model)
    d.mkdir(parents=True, exist_ok=True)
    logf = open(d / "log.jsonl", "a", encoding="utf-8")
    bar = tqdm(total=cfg.steps, initial=start, desc="vae", disable=cfg.quiet or not acc.is_local_main_process)
    losses: list[float] = []
    t0 = time.time()
    for step in range(start, cfg.steps):
        rng = np.random.default_rng([cfg.seed, 23, step, acc.process_index])
        g = torch.Generator().manual_seed(int(rng.integers(1 << 62)))
        m = torch.from_numpy(_windows(mels, rng, cfg.batch, frames, floor))
        x = ((m - norm["center"]) / norm["scale"])[:, None].to(acc.device)
        # encode/decode are not forward(), so this stage runs in one process (DDP syncs on forward)
        post = raw.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=g).to(acc.device)
        rec = raw.decode(z).sample
        l_rec = F.l1_loss(rec, x)
        l_kl = post.kl().mean() / x[0].numel()  # per element, so kl_weight does not depend on the window size
        loss = l_rec + cfg.kl_weight * l_kl
        opt.zero_grad(set_to_none=True)
        acc.backward(loss)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        bar.update(1)
        if (step + 1) % cfg.log_every == 0:
            r = {"step": step + 1, "loss": float(np.mean(losses[-cfg.log_every:])), "l1": float(l_rec.detach()),
                 "kl": float(l_kl.detach()), "lr": cfg.lr, "elapsed_s": round(time.time() - t0, 1)}
            logf.write(json.dumps(r) + "\n")
            logf.flush()
            bar.set_postfix(loss=f"{r['loss']:.4f}")
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:
            save_ckpt(ck, step + 1, {"vae": raw}, opt, None)
            write_model_folder(d, {"_class_name": "AutoencoderKL", **vae_config}, raw)
    bar.close()
    logf.close()
    raw.eval()
    # diffusers convention: latents * scaling_factor have about unit variance
    with torch.no_grad():
        m = torch.from_numpy(_windows(mels, np.random.default_rng([cfg.seed, 7]), 16, frames, floor))
        z = raw.encode(((m - norm["center"]) / norm["scale"])[:, None].to(acc.device)).latent_dist.mode()
        vae_config["scaling_factor"] = float(1.0 / z.std().clamp_min(1e-6))
        raw.register_to_config(scaling_factor=vae_config["scaling_factor"])
    write_model_folder(d, {"_class_name": "AutoencoderKL", **vae_config}, raw)
    vae = MelVAE(raw, norm)
    with torch.no_grad():
        vals = []
        for k in range(2):
            vm = torch.from_numpy(_windows(val_mels, np.random.default_rng([12345, k]), 4, frames, floor)).to(acc.device)
            vals.append(float(F.l1_loss(vae.decode(vae.encode(vm), vm.shape[1]), vm)))
    summary = {"stage": "vae", "steps": cfg.steps, "start": start,
               "train_loss_last": float(np.mean(losses[-50:])) if losses else None,
               "seconds": round(time.time() - t0, 1), "params": sum(p.numel() for p in raw.parameters()),
               "config": vae_config, "mel_norm": norm, "train_files": len(train_files or train_mels or []),
               "val_log_mel_l1": float(np.mean(vals))}
    (d / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
