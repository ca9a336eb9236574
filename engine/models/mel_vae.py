"""Mel VAE: diffusers ``AutoencoderKL`` over the log-mel as a one-channel image [T, n_mels].

AudioLDM's layout: the mel window is an image of height T (time) and width n_mels; the
latent is ``[latent_channels, T/f, n_mels/f]`` with ``f = 2**(len(block_out_channels)-1)``.
For our 1-D generator the latent is flattened to ``latent_channels * n_mels/f`` channels over
``T/f`` frames (``G.in_channels`` = that number; its frame rate = mel rate / f). Latents are
multiplied by ``scaling_factor`` (diffusers convention; set after training to 1 / latent
std) so the diffusion sees roughly unit variance.

A pack whose ``pack.json`` has a ``"vae"`` entry runs G on these latents
(``load_pack_vae``; docs/PACKS.md, "Latent packs"); a pack without one runs G on the mel.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from engine.audio.layout import mel_norm as default_mel_norm
from engine.errors import PackError

#: AudioLDM's VAE (cvssp/audioldm-s-full-v2 ``vae/config.json``), for reference: latent 8 x T/4 x 16.
AUDIOLDM_VAE_CONFIG: dict[str, Any] = {
    "in_channels": 1, "out_channels": 1, "latent_channels": 8, "block_out_channels": [128, 256, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 3, "up_block_types": ["UpDecoderBlock2D"] * 3,
    "layers_per_block": 2, "norm_num_groups": 32, "sample_size": 256, "scaling_factor": 0.9227,
}

#: What ``v2a train --stage vae --config starter`` trains: latent 4 x T/4 x 16 (G in_channels 64 at 25 Hz).
STARTER_VAE_CONFIG: dict[str, Any] = {
    "in_channels": 1, "out_channels": 1, "latent_channels": 4, "block_out_channels": [32, 64, 64],
    "down_block_types": ["DownEncoderBlock2D"] * 3, "up_block_types": ["UpDecoderBlock2D"] * 3,
    "layers_per_block": 1, "norm_num_groups": 16, "sample_size": 256, "scaling_factor": 1.0,
    "mid_block_add_attention": False,
}

#: A tiny random configuration of the same class (tests): latent 4 x T/2 x 32.
TINY_VAE_CONFIG: dict[str, Any] = {
    "in_channels": 1, "out_channels": 1, "latent_channels": 4, "block_out_channels": [16, 32],
    "down_block_types": ["DownEncoderBlock2D"] * 2, "up_block_types": ["UpDecoderBlock2D"] * 2,
    "layers_per_block": 1, "norm_num_groups": 8, "sample_size": 64, "scaling_factor": 1.0,
    "mid_block_add_attention": False,
}

CONFIG_KEYS = (
    "in_channels", "out_channels", "latent_channels", "block_out_channels", "down_block_types", "up_block_types",
    "layers_per_block", "norm_num_groups", "sample_size", "scaling_factor", "act_fn", "mid_block_add_attention",
    "use_quant_conv", "use_post_quant_conv",
)


def clean_vae_config(cfg: Any, where: Any) -> dict[str, Any]:
    if not isinstance(cfg, dict):
        raise PackError("VAE config must be a JSON object", where)
    out = {k: cfg[k] for k in CONFIG_KEYS if k in cfg}
    if int(out.get("in_channels", 3)) != 1 or int(out.get("out_channels", 3)) != 1:
        raise PackError("a mel VAE has one input and one output channel", where)
    return out


def downsample_factor(cfg: dict[str, Any]) -> int:
    return 2 ** (len(cfg.get("block_out_channels", [64])) - 1)


def latent_dims(cfg: dict[str, Any], n_mels: int) -> tuple[int, int]:
    """(G channels = latent_channels * n_mels/f, f = frames per latent frame)."""
    f = downsample_factor(cfg)
    if n_mels % f:
        raise PackError(f"{n_mels} mel bins are not divisible by the VAE's downsampling {f}")
    return int(cfg.get("latent_channels", 4)) * (n_mels // f), f


def build_vae(cfg: dict[str, Any]) -> torch.nn.Module:
    from engine.diffusers_import import import_diffusers

    return import_diffusers().AutoencoderKL(**cfg)


class MelVAE:
    """Encode/decode normalised log-mels ``x = (log_mel - center) / scale`` [B, T, n_mels]
    to/from G's latent layout [B, latent_channels * n_mels/f, ceil(T/f)]."""

    def __init__(self, model: torch.nn.Module, mel_norm: dict[str, float]) -> None:
        self.model = model
        self.center = float(mel_norm["center"])
        self.scale = float(mel_norm["scale"])
        self.f = 2 ** (len(model.config.block_out_channels) - 1)
        self.sf = float(model.config.scaling_factor)

    @property
    def latent_channels(self) -> int:
        return int(self.model.config.latent_channels)

    def to(self, device: str | torch.device) -> MelVAE:
        self.model.to(device)
        return self

    def to_image(self, log_mel: torch.Tensor) -> torch.Tensor:
        """[B, T, n_mels] log-mel -> [B, 1, T', n_mels] normalised, T padded to a multiple of f."""
        x = (log_mel - self.center) / self.scale
        pad = (-x.shape[1]) % self.f
        if pad:
            x = torch.cat([x, x.new_full((x.shape[0], pad, x.shape[2]), (math.log(1e-5) - self.center) / self.scale)], 1)
        return x[:, None]

    def encode(self, log_mel: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
        dist = self.model.encode(self.to_image(log_mel)).latent_dist
        z = dist.sample(generator) if sample else dist.mode()  # [B, C, T/f, n_mels/f]
        b, c, t, m = z.shape
        return (z * self.sf).permute(0, 1, 3, 2).reshape(b, c * m, t)

    def decode(self, latent: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        """[B, C*M, T/f] -> log-mel [B, T, n_mels] (cut to ``n_frames``)."""
        c = int(self.model.config.latent_channels)
        b, cm, t = latent.shape
        z = latent.reshape(b, c, cm // c, t).permute(0, 1, 3, 2) / self.sf
        x = self.model.decode(z).sample[:, 0]
        log_mel = x * self.scale + self.center
        return log_mel[:, :n_frames] if n_frames is not None else log_mel


def latent_unet_config(unet: dict[str, Any], vae_cfg: dict[str, Any], n_mels: int, mel_rate: float,
                       window_frames: int | None = None) -> dict[str, Any]:
    """G's config for the VAE's latent: ``in/out_channels`` = latent_channels * n_mels/f, frame
    rate = mel rate / f. When ``window_frames`` (the training window in mel frames) is given,
    leading (highest-resolution) levels are dropped until the latent window is a multiple of
    the U-Net's length multiple: the latent is already f times coarser, so G needs fewer levels."""
    chans, f = latent_dims(vae_cfg, n_mels)
    out = {**unet, "in_channels": chans, "out_channels": chans, "frame_rate": float(mel_rate) / f}
    if window_frames is not None and "channels" in out:
        ch, xa = list(out["channels"]), list(out.get("cross_attn_levels", [True] * len(out["channels"])))
        win = int(math.ceil(window_frames / f))
        while len(ch) > 2 and win % (2 ** (len(ch) - 1)):
            ch, xa = ch[1:], xa[1:]
        out["channels"], out["cross_attn_levels"] = ch, xa
    return out


def pack_vae_entry(cfg: dict[str, Any], n_mels: int, file: str = "vae.safetensors",
                   x0_clip: tuple[float, float] | list[float] | None = None) -> dict[str, Any]:
    """The ``"vae"`` entry of pack.json for a trained VAE config (docs/PACKS.md)."""
    chans, f = latent_dims(cfg, n_mels)
    entry: dict[str, Any] = {
        "kind": "autoencoderkl", "file": file, "config": dict(cfg),
        "scaling_factor": float(cfg.get("scaling_factor", 1.0)), "downsample": f,
        "latent_channels": int(cfg.get("latent_channels", 4)), "g_channels": chans,
    }
    if x0_clip is not None:
        entry["x0_clip"] = [float(x0_clip[0]), float(x0_clip[1])]
    return entry


#: Guided x0 is clipped to this range on latents when the pack does not say (latents have
#: about unit variance after ``scaling_factor``; the mel path keeps its own [-1, 1.3]).
DEFAULT_LATENT_X0_CLIP = (-6.0, 6.0)


def load_pack_vae(pack_dir: str | Path, manifest: dict[str, Any], n_mels: int, mel_rate: float,
                  unet_cfg: dict[str, Any], device: str | Any = "cpu") -> MelVAE:
    """The pack's ``"vae"`` entry -> a ``MelVAE`` (weights sha256-verified, safetensors only).

    Refused with a PackError naming the file when the weights are missing, altered or do not
    fit the config, and naming pack.json when the entry does not fit the mel or G."""
    from engine.packs import check_state_dict, load_weights

    pack_dir = Path(pack_dir)
    where = pack_dir / "pack.json"
    entry = manifest.get("vae")
    if not isinstance(entry, dict):
        raise PackError("'vae' must be a JSON object", where)
    if str(entry.get("kind", "autoencoderkl")).lower() != "autoencoderkl":
        raise PackError(f"vae kind {entry.get('kind')!r} is not supported (autoencoderkl)", where)
    rel = str(entry.get("file", "vae.safetensors"))
    cfg = entry.get("config")
    if cfg is None:  # a diffusers folder layout: config.json beside the weights, listed too
        from engine.packs import sha256_file

        cfg_rel = (Path(rel).parent / "config.json").as_posix()
        cpath = pack_dir / cfg_rel
        listed = manifest.get("files", {}).get(cfg_rel)
        if listed is None or not cpath.is_file():
            raise PackError("the vae entry has no 'config' and its config.json is not in the pack", cpath)
        if sha256_file(cpath) != str(listed["sha256"]).lower():
            raise PackError("checksum mismatch (file corrupted or altered); reinstall the pack", cpath)
        try:
            cfg = json.loads(cpath.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PackError(f"unreadable VAE config ({exc})", cpath) from exc
    cfg = clean_vae_config(cfg, where)
    if "scaling_factor" in entry:
        cfg["scaling_factor"] = float(entry["scaling_factor"])
    chans, f = latent_dims(cfg, n_mels)
    for key, want in (("downsample", f), ("latent_channels", int(cfg.get("latent_channels", 4)))):
        if key in entry and int(entry[key]) != want:
            raise PackError(f"vae {key} {entry[key]} does not match its config ({want})", where)
    g_in, g_out = int(unet_cfg.get("in_channels", 0)), int(unet_cfg.get("out_channels", 0))
    if g_in != chans or g_out != chans:
        raise PackError(f"the generator has {g_in}/{g_out} channels; the VAE's latent needs {chans}", where)
    if abs(float(unet_cfg.get("frame_rate", 0.0)) - mel_rate / f) > 1e-6:
        raise PackError(f"the generator's frame_rate must be {mel_rate / f:g} (mel rate / {f}) on this VAE", where)
    tensors = load_weights(pack_dir, rel)  # listed, sha256, safetensors only
    try:
        model = build_vae(cfg)
    except (TypeError, ValueError) as exc:
        raise PackError(f"cannot build the VAE from its config ({exc})", where) from exc
    check_state_dict(pack_dir / rel, tensors, model.state_dict())
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return MelVAE(model.eval().to(device), manifest.get("mel_norm") or default_mel_norm())
