"""Neural vocoder: transformers ``SpeechT5HifiGan`` (the AudioLDM / AudioLDM2 vocoder class).

Our log-mel (engine.audio.mel: 16 kHz, n_fft 1024, hop 160, 64 Slaney mels 0-8 kHz, natural
log of the magnitude mel floored at 1e-5, AudioLDM framing) is exactly what the AudioLDM
vocoders consume, so a user's local AudioLDM/AudioLDM2 ``vocoder/`` folder and the small
vocoder ``v2a train --stage vocoder`` trains run through the same code.

Input normalisation: with ``normalize_before`` the model computes ``(mel - mean) / scale``
with its ``mean``/``scale`` buffers (stored in the weights). The AudioLDM vocoders set it to
false (they take the raw log-mel); our trained ones set it to true with per-bin statistics
of the training mels. Length: the transposed convolutions give ``prod(upsample_rates)`` samples
per frame (+ a few when ``kernel - rate`` is odd, at the end), so ``prod(upsample_rates)`` must
equal the hop and the output is cut/padded to exactly ``T * hop`` samples (the AudioLDM
pipelines cut the same way). Frame ``t`` feeds the samples around ``[t*hop, (t+1)*hop)``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.audio.mel import MelConfig
from engine.errors import PackError

#: The keys of ``SpeechT5HifiGanConfig`` that define the network (others are ignored).
CONFIG_KEYS = (
    "model_in_dim", "sampling_rate", "upsample_initial_channel", "upsample_rates", "upsample_kernel_sizes",
    "resblock_kernel_sizes", "resblock_dilation_sizes", "leaky_relu_slope", "normalize_before",
)

#: cvssp/audioldm-* and audioldm2 ``vocoder/config.json`` (for reference and tests of shapes).
AUDIOLDM_CONFIG: dict[str, Any] = {
    "model_in_dim": 64, "sampling_rate": 16000, "upsample_initial_channel": 1024,
    "upsample_rates": [5, 4, 2, 2, 2], "upsample_kernel_sizes": [16, 16, 8, 4, 4],
    "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "leaky_relu_slope": 0.1, "normalize_before": False,
}

#: What ``v2a train --stage vocoder --config starter`` trains (~0.3 M parameters; about
#: 0.1 s per second of audio on one CPU thread, the AudioLDM vocoder ~3.5 s).
STARTER_CONFIG: dict[str, Any] = {
    "model_in_dim": 64, "sampling_rate": 16000, "upsample_initial_channel": 96,
    "upsample_rates": [5, 4, 4, 2], "upsample_kernel_sizes": [11, 8, 8, 4],
    "resblock_kernel_sizes": [3, 7], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
    "leaky_relu_slope": 0.1, "normalize_before": True,
}

#: A tiny random configuration of the same class (tests).
TINY_CONFIG: dict[str, Any] = {
    "model_in_dim": 64, "sampling_rate": 16000, "upsample_initial_channel": 32,
    "upsample_rates": [10, 4, 4], "upsample_kernel_sizes": [20, 8, 8],
    "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 3]],
    "leaky_relu_slope": 0.1, "normalize_before": True,
}

#: Weight file names a local AudioLDM/diffusers/transformers vocoder folder may use.
WEIGHT_NAMES = ("model.safetensors", "diffusion_pytorch_model.safetensors", "vocoder.safetensors")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def clean_config(cfg: Any, where: str | Path) -> dict[str, Any]:
    """The network-defining keys of a SpeechT5HifiGan config (JSON types), or PackError."""
    if not isinstance(cfg, dict):
        raise PackError("vocoder config must be a JSON object", where)
    mt = cfg.get("model_type")
    if mt is not None and mt != "speecht5_hifigan":
        raise PackError(f"vocoder config has model_type {mt!r}, expected 'speecht5_hifigan'", where)
    out = {k: cfg[k] for k in CONFIG_KEYS if k in cfg}
    try:
        rates = [int(r) for r in out.get("upsample_rates", (4, 4, 4, 4))]
        kernels = [int(k) for k in out.get("upsample_kernel_sizes", (8, 8, 8, 8))]
        rk = [int(k) for k in out.get("resblock_kernel_sizes", (3, 7, 11))]
        rd = [[int(d) for d in ds] for ds in out.get("resblock_dilation_sizes", ((1, 3, 5),) * 3)]
        ch = int(out.get("upsample_initial_channel", 512))
    except (TypeError, ValueError) as exc:
        raise PackError(f"bad vocoder config ({exc})", where) from exc
    if len(rates) != len(kernels) or len(rk) != len(rd) or not rates or not rk:
        raise PackError("vocoder config: upsample_rates/kernel_sizes or resblock sizes differ in length", where)
    if ch // 2 ** len(rates) < 1:
        raise PackError(f"vocoder config: {ch} initial channels cannot halve {len(rates)} times", where)
    out.update(upsample_rates=rates, upsample_kernel_sizes=kernels, resblock_kernel_sizes=rk,
               resblock_dilation_sizes=rd, upsample_initial_channel=ch)
    return out


def check_compatible(cfg: dict[str, Any], mel: MelConfig, where: str | Path) -> None:
    """The vocoder must read our mel (bins) and give one hop of samples per frame at our rate."""
    n_in = int(cfg.get("model_in_dim", 80))
    if n_in != mel.n_mels:
        raise PackError(f"vocoder takes {n_in} mel bins, the pack's mel has {mel.n_mels}", where)
    up = math.prod(int(r) for r in cfg["upsample_rates"])
    if up != mel.hop_length:
        raise PackError(f"vocoder gives {up} samples per mel frame, the pack's hop is {mel.hop_length}", where)
    sr = int(cfg.get("sampling_rate", mel.sample_rate))
    if sr != mel.sample_rate:
        raise PackError(f"vocoder sample rate {sr} Hz, the pack's is {mel.sample_rate} Hz", where)


def build_hifigan(cfg: dict[str, Any]) -> torch.nn.Module:
    """A ``SpeechT5HifiGan`` with random weights from a (cleaned) config dict."""
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    return SpeechT5HifiGan(SpeechT5HifiGanConfig(**cfg))


def fold_weight_norm(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Checkpoints saved with weight norm still on (``weight_g``/``weight_v`` or
    ``parametrizations.weight.original0/1``) -> plain ``weight`` (what inference uses)."""
    out = dict(tensors)
    pairs = [(k[: -len("weight_g")], "weight_g", "weight_v") for k in tensors if k.endswith(".weight_g")]
    pairs += [(k[: -len("parametrizations.weight.original0")], "parametrizations.weight.original0",
               "parametrizations.weight.original1") for k in tensors if k.endswith(".parametrizations.weight.original0")]
    for pre, gk, vk in pairs:
        g, v = out.pop(pre + gk).float(), out.pop(pre + vk).float()
        dims = [d for d in range(v.ndim) if g.shape[d] == 1]
        out[pre + "weight"] = g * v / torch.linalg.vector_norm(v, dim=dims, keepdim=True).clamp_min(1e-12)
    return out


def complete_state(tensors: dict[str, torch.Tensor], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Add the identity normalisation buffers when a checkpoint leaves them out (AudioLDM
    vocoders have ``normalize_before`` false, so they are unused there)."""
    out = dict(tensors)
    state = model.state_dict()
    for k in ("mean", "scale"):
        if k not in out and k in state:
            out[k] = state[k].clone()
    return out


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file (never a pickle); PackError names the file when it is not one."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise PackError(f"{path.suffix} checkpoints are pickles and are never loaded; "
                        "convert the weights to .safetensors first", path)
    if path.suffix.lower() != ".safetensors":
        raise PackError("vocoder weights must be a .safetensors file", path)
    from engine.packs.format import read_safetensors

    return read_safetensors(path)


def model_from_tensors(cfg: dict[str, Any], tensors: dict[str, torch.Tensor], weights_path: Path) -> torch.nn.Module:
    """Build the model and load the tensors, refusing (naming the file) weights that do not fit."""
    from engine.packs import check_state_dict

    try:
        model = build_hifigan(cfg)
    except (TypeError, ValueError) as exc:
        raise PackError(f"cannot build the vocoder from its config ({exc})", weights_path) from exc
    tensors = complete_state(fold_weight_norm(tensors), model)
    check_state_dict(weights_path, tensors, model.state_dict())
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return model.eval()


def read_vocoder_folder(src: str | Path) -> tuple[dict[str, Any], Path]:
    """(cleaned config, weights file) of a local vocoder folder (AudioLDM ``vocoder/``, a
    trained run's ``OUT/vocoder``) or of a weights file with ``config.json`` beside it."""
    src = Path(src).expanduser()
    if not src.exists():
        raise PackError("vocoder folder or file does not exist", src)
    if src.is_file():
        folder, weights = src.parent, src
    else:
        folder = src
        found = [src / n for n in WEIGHT_NAMES if (src / n).is_file()]
        if not found:
            pickles = sorted(p.name for p in src.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
            if pickles:
                raise PackError(f"only pickled weights here ({', '.join(pickles)}); they are never loaded. "
                                "Use the folder's model.safetensors or convert the weights to safetensors", src)
            raise PackError(f"no vocoder weights here (looked for {', '.join(WEIGHT_NAMES)})", src)
        weights = found[0]
    if weights.suffix.lower() != ".safetensors":
        load_tensors(weights)  # raises the pickle / file type message
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        raise PackError("no config.json beside the vocoder weights", cfg_path)
    try:
        raw = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackError(f"unreadable vocoder config ({exc})", cfg_path) from exc
    return clean_config(raw, cfg_path), weights


class HifiGanVocoder:
    """log-mel -> waveform with a SpeechT5HifiGan; same call as ``GriffinLim`` (seed unused:
    the network is deterministic, so a take's sound depends only on its mel)."""

    batched = True  # all takes go through one network call

    def __init__(self, model: torch.nn.Module, mel_cfg: MelConfig, device: str | torch.device = "cpu",
                 max_batch: int = 8) -> None:
        self.model = model.eval().to(device)
        self.cfg = mel_cfg
        self.device = torch.device(device)
        self.max_batch = int(max_batch)

    def to(self, device: str | torch.device) -> HifiGanVocoder:
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def __call__(self, log_mel: torch.Tensor | np.ndarray, seed: int = 0) -> np.ndarray:
        """[T, n_mels] or [B, T, n_mels] log-mel -> float32 audio [T*hop] or [B, T*hop]."""
        lm = torch.as_tensor(np.asarray(log_mel) if isinstance(log_mel, np.ndarray) else log_mel).float()
        squeeze = lm.ndim == 2
        if squeeze:
            lm = lm[None]
        length = lm.shape[1] * self.cfg.hop_length
        outs = []
        with torch.no_grad():
            for a in range(0, lm.shape[0], self.max_batch):
                y = self.model(lm[a : a + self.max_batch].to(self.device)).float().cpu()
                y = y[:, :length]
                if y.shape[1] < length:
                    y = torch.nn.functional.pad(y, (0, length - y.shape[1]))
                outs.append(y)
        out = torch.cat(outs).numpy().astype(np.float32)
        return out[0] if squeeze else out


def load_pack_vocoder(pack_dir: str | Path, manifest: dict[str, Any], mel_cfg: MelConfig,
                      device: str | torch.device = "cpu") -> HifiGanVocoder:
    """The pack's ``"vocoder": {"kind": "hifigan", "file": ..., "config": {...}}`` (or a
    ``config.json`` listed beside the file), sha256-verified; PackError names the bad file."""
    from engine.packs import load_weights, sha256_file

    pack_dir = Path(pack_dir)
    voc = manifest.get("vocoder", {})
    rel = str(voc.get("file", "vocoder.safetensors"))
    cfg = voc.get("config")
    where: Path = pack_dir / "pack.json"
    if cfg is None:
        cfg_rel = str(voc.get("config_file") or (Path(rel).parent / "config.json").as_posix())
        where = pack_dir / cfg_rel
        entry = manifest.get("files", {}).get(cfg_rel)
        if entry is None:
            raise PackError("hifigan vocoder has no 'config' in pack.json and its config.json is not listed", where)
        if not where.is_file():
            raise PackError("listed in pack.json but missing", where)
        if sha256_file(where) != str(entry["sha256"]).lower():
            raise PackError("checksum mismatch (file corrupted or altered); reinstall the pack", where)
        try:
            cfg = json.loads(where.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PackError(f"unreadable vocoder config ({exc})", where) from exc
    cfg = clean_config(cfg, where)
    check_compatible(cfg, mel_cfg, where)
    tensors = load_weights(pack_dir, rel)  # listed, sha256, safetensors only
    model = model_from_tensors(cfg, tensors, pack_dir / rel)
    return HifiGanVocoder(model, mel_cfg, device, max_batch=int(voc.get("max_batch", 4)))
