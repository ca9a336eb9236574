"""Networks of the diffusion engine: built from config dicts, shapes, motion stream, vocoder,
text encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.audio.mel import MelConfig, log_mel
from engine.models import build_networks, consistent_configs, motion_features, param_count
from engine.models.vocoder import GriffinLim
from engine.train.packio import STARTER_NETWORKS, TINY_NETWORKS


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_networks(TINY_NETWORKS)


def test_configs_fill_shared_dimensions():
    cfg = consistent_configs(TINY_NETWORKS)
    vis = cfg["visual"]
    width = vis["width"] * len(vis["feature_layers"])
    assert cfg["layout"]["cls_dim"] == width == cfg["cond"]["cls_dim"]
    assert cfg["layout"]["patch_dim"] == width * vis["patch_grid"] ** 2
    assert cfg["unet"]["cond_channels"] == cfg["layout"]["bands"] + 1
    assert cfg["cond"]["token_dim"] == cfg["unet"]["token_dim"]


def test_starter_sizes_are_small():
    nets = build_networks(STARTER_NETWORKS)
    total = sum(param_count(m) for m in nets.values())
    assert 1e6 < total < 12e6  # < 24 MB on disk at fp16: the pack can be committed


def test_visual_encoder_shapes(tiny):
    vis = tiny["visual"]
    frames = torch.randint(0, 255, (5, 40, 40, 3), dtype=torch.uint8)  # resized inside
    cls, patch = vis(frames)
    assert cls.shape == (5, vis.cls_dim) and patch.shape == (5, vis.patch_dim)
    assert torch.isfinite(cls).all()


def test_layout_predictor_and_unet_shapes(tiny):
    cfg = consistent_configs(TINY_NETWORKS)
    lay = tiny["layout"]
    out, logits = lay(torch.randn(2, 30, cfg["layout"]["cls_dim"]), torch.randn(2, 30, cfg["layout"]["patch_dim"]),
                      torch.randn(2, 30, cfg["layout"]["motion_dim"]))
    assert out.shape == (2, 30, 5) and logits is None
    unet = tiny["unet"]
    x = torch.randn(3, 64, 40)
    tok, pos = tiny["cond"].tokens(torch.randn(3, 4, cfg["cond"]["cls_dim"]), torch.rand(3, 4), None)
    assert tok.shape == (3, 5, cfg["unet"]["token_dim"]) and torch.isnan(pos[:, -1]).all()
    y = unet(x, torch.tensor([10, 500, 999]), torch.rand(3, 6, 40), tok, pos)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_unet_depends_on_layout_and_tokens(tiny):
    unet = tiny["unet"]
    # zero-initialised output projections make a fresh net ignore attention; perturb them
    torch.manual_seed(1)
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    x = torch.randn(1, 64, 32)
    tok = torch.randn(1, 3, unet.config["token_dim"])
    pos = torch.tensor([[0.0, 0.1, float("nan")]])
    lay = torch.zeros(1, 6, 32)
    y0 = unet(x, torch.tensor([500]), lay, tok, pos)
    lay2 = lay.clone()
    lay2[:, :5, 10:20] = 1.0
    assert not torch.allclose(y0, unet(x, torch.tensor([500]), lay2, tok, pos))
    assert not torch.allclose(y0, unet(x, torch.tensor([500]), lay, tok * 2, pos))


def test_motion_features_find_the_flash():
    frames = np.zeros((10, 32, 32, 3), np.uint8)
    frames[6:, :16, :16] = 255  # top-left quadrant lights up at frame 6
    m = motion_features(frames, grid=2)
    assert m.shape == (10, 5)
    assert int(np.argmax(m[:, -1])) == 6
    assert m[6, 0] > 0 and np.allclose(m[6, 1:4], 0)


def test_griffin_lim_reconstructs_mel_and_timing():
    cfg = MelConfig()
    sr = cfg.sample_rate
    y = np.zeros(sr, np.float32)
    t = np.arange(int(0.2 * sr)) / sr
    burst = (0.5 * np.sin(2 * np.pi * 660 * t) * np.exp(-t * 20)).astype(np.float32)
    y[8000 : 8000 + len(burst)] = burst  # onset at exactly 0.5 s
    mel = log_mel(y, cfg)
    voc = GriffinLim(cfg, n_iter=32)
    out = voc(mel, seed=0)
    assert out.shape == (mel.shape[0] * cfg.hop_length,)
    mel2 = log_mel(out[: len(y)], cfg)
    loud = mel > -6
    assert np.mean(np.abs(mel2[loud] - mel[loud])) < 1.0
    env = np.abs(out)
    onset = np.argmax(env > 0.1 * env.max()) / sr
    assert abs(onset - 0.5) < 0.015
    batch = voc(np.stack([mel, mel]), seed=0)
    assert batch.shape == (2, len(out))


def test_text_encoder_offline_semantics(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from engine.text import TEXT_DIM, encode_text

    e = encode_text(["footsteps on gravel", "footsteps on snow", "a glass window shatters"])
    assert e.shape == (3, TEXT_DIM)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-4)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2


def test_visual_encoder_uses_open_clips_vit_without_its_package_import():
    # A fresh interpreter: building the encoder must not run open_clip/__init__ (transformers,
    # timm, CLIP/CoCa models: ~1.5 s of a cold start) nor import torchvision (its models and
    # torch._dynamo), yet be open_clip's VisionTransformer:
    # same state-dict keys and the same output as the class from a plain `import open_clip`.
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = r"""
import json, sys, torch
from engine.models.visual import VisualEncoder
cfg = {"image_size": 32, "patch_size": 8, "width": 32, "layers": 2, "heads": 2, "feature_layers": [0, 1]}
torch.manual_seed(0)
enc = VisualEncoder(cfg).eval()
fast = {"open_clip_imported": "open_clip" in sys.modules, "module": type(enc.vit).__module__,
        "torchvision_imported": "torchvision" in sys.modules}
# open_clip's utils.py imports torchvision only for FrozenBatchNorm2d: ours imports it on use
from _v2a_open_clip.utils import freeze_batch_norm_2d
frozen = type(freeze_batch_norm_2d(torch.nn.BatchNorm2d(4))).__name__
import open_clip.transformer as oct
ref = oct.VisionTransformer(image_size=32, patch_size=8, width=32, layers=2, heads=2, mlp_ratio=2.0, output_dim=32)
ref.load_state_dict(enc.vit.state_dict(), strict=True)
x = torch.rand(3, 3, 32, 32)
with torch.no_grad():
    same = torch.allclose(enc.vit(x), ref.eval()(x), atol=1e-6)
print(json.dumps({**fast, "frozen": frozen, "same_keys": sorted(ref.state_dict()) == sorted(enc.vit.state_dict()), "same_output": bool(same)}))
"""
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"open_clip_imported": False, "module": "_v2a_open_clip.transformer", "torchvision_imported": False,
                   "frozen": "FrozenBatchNorm2d", "same_keys": True, "same_output": True}
