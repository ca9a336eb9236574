"""The mel VAE (diffusers AutoencoderKL): latent layout for G, and `v2a train --stage vae`
on real recordings (loss decreases, resume). Tiny configs, CPU, no network."""

from __future__ import annotations

import json
import shutil

import numpy as np
import torch

from engine.models.mel_vae import (
    AUDIOLDM_VAE_CONFIG,
    STARTER_VAE_CONFIG,
    TINY_VAE_CONFIG,
    MelVAE,
    build_vae,
    clean_vae_config,
    latent_dims,
)


def test_latent_layout_for_the_generator():
    assert latent_dims(AUDIOLDM_VAE_CONFIG, 64) == (128, 4)  # 8 channels x 16 bins at 25 Hz
    assert latent_dims(STARTER_VAE_CONFIG, 64) == (64, 4)
    assert latent_dims(TINY_VAE_CONFIG, 64) == (128, 2)
    torch.manual_seed(0)
    vae = MelVAE(build_vae(clean_vae_config(TINY_VAE_CONFIG, "c")).eval(), {"center": -4.5, "scale": 7.0})
    mel = torch.randn(2, 37, 64) - 4
    with torch.no_grad():
        z = vae.encode(mel)
        assert z.shape == (2, 128, 19)  # ceil(37 / 2) latent frames
        out = vae.decode(z, 37)
    assert out.shape == (2, 37, 64) and torch.isfinite(out).all()


def test_train_vae_stage_loss_decreases_and_resumes(real_media, tmp_path):
    from engine.train.vae import VaeTrainConfig, train_vae

    files = [real_media("sfx_explode"), real_media("sfx_footstep"), real_media("sfx_snow")]
    cfg = dict(batch=4, frames=32, lr=2e-3, log_every=1, ckpt_every=10, quiet=True, threads=1)
    s = train_vae(VaeTrainConfig(out=tmp_path, steps=30, **cfg), TINY_VAE_CONFIG, files[:2], files[2:])
    d = tmp_path / "vae"
    logs = [json.loads(x) for x in (d / "log.jsonl").read_text().splitlines()]
    loss = [r["loss"] for r in logs]
    assert [r["step"] for r in logs] == list(range(1, 31)) and np.all(np.isfinite(loss))
    assert np.mean(loss[-6:]) < 0.7 * np.mean(loss[:3])
    assert np.isfinite(s["val_log_mel_l1"]) and s["config"]["scaling_factor"] > 0
    saved = json.loads((d / "config.json").read_text())
    assert saved["scaling_factor"] == s["config"]["scaling_factor"]
    s2 = train_vae(VaeTrainConfig(out=tmp_path, steps=32, **cfg), TINY_VAE_CONFIG, files[:2], files[2:])
    assert s2["start"] == 30
    logs = [json.loads(x) for x in (d / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs][-2:] == [31, 32]
    assert logs[-1]["loss"] < np.mean(loss[:3])  # continued, not restarted


def test_cli_train_vae_stage(real_media, tmp_path):
    from engine.cli.main import main

    data = tmp_path / "data"
    rows = []
    for i, key in enumerate(["sfx_explode", "sfx_footstep"]):
        p = data / "sfx" / "x" / f"{i}.ogg"
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real_media(key), p)
        rows.append({"path": f"x/{i}.ogg", "split": "train", "class": "x"})
    (data / "sfx" / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    rc = main(["train", "--stage", "vae", "--data", str(data), "--out", str(out), "--config", "tiny",
               "--steps", "2", "--batch", "2", "--vae-frames", "16", "--quiet"])
    assert rc == 0
    summary = json.loads((out / "vae" / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["train_files"] == 2
    assert (out / "vae" / "model.safetensors").is_file()
