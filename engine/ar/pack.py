"""The AR pack: ``pack.json`` (``engines.ar`` = codec, transformer, visual, sampling configs)
+ ``ar_codec.safetensors`` + ``ar_model.safetensors``. Written and verified through
engine.packs (sha256 per file, shapes checked before loading; never a pickle)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from engine.ar.codec import CodecConfig, MelRVQCodec
from engine.ar.dac import DacCodec, is_dac_section
from engine.ar.model import ARConfig, ARTransformer
from engine.ar.pipeline import ARModels
from engine.audio import MelConfig
from engine.errors import PackError
from engine.packs import check_state_dict, load_weights, read_manifest, write_pack

CODEC_FILE = "ar_codec.safetensors"
MODEL_FILE = "ar_model.safetensors"


def ar_section(pack_dir: str | Path) -> dict[str, Any] | None:
    """The ``engines.ar`` entry of a pack, or None when the pack has no AR engine."""
    try:
        man = read_manifest(pack_dir)
    except PackError:
        return None
    sec = (man.get("engines") or {}).get("ar")
    return sec if isinstance(sec, dict) and "codec" in sec and "model" in sec else None


def save_ar_pack(
    pack_dir: str | Path,
    models: ARModels,
    visual: dict[str, Any],
    sampling: dict[str, Any],
    extra: dict[str, Any] | None = None,
    name: str = "starter-ar",
    description: str = "",
    extra_files: dict[str, str | bytes | Path] | None = None,
) -> Path:
    sec = {
        "codec": models.codec.cfg.to_dict(),
        "model": models.model.cfg.to_dict(),
        "visual": visual,
        "sampling": sampling,
        "griffin_lim_iters": models.griffin_lim_iters,
        "codec_file": CODEC_FILE,
        "model_file": MODEL_FILE,
    }
    manifest: dict[str, Any] = {
        "name": name,
        "version": "0.1.0",
        "description": description,
        "sample_rate": models.mel_cfg.sample_rate,
        "mel": asdict(models.mel_cfg),
        "text_encoder": {"kind": "minilm-l6-v2", "dim": models.model.cfg.text_dim},
        "engines": {"ar": sec},
        **(extra or {}),
    }
    weights = {CODEC_FILE: models.codec.state_dict(), MODEL_FILE: models.model.state_dict()}
    return write_pack(pack_dir, manifest, weights, extra_files)


def load_ar_pack(pack_dir: str | Path) -> tuple[ARModels, dict[str, Any]]:
    """Build the codec and transformer from the pack's configs and load verified weights."""
    pack_dir = Path(pack_dir)
    sec = ar_section(pack_dir)
    if sec is None:
        raise PackError("this pack has no autoregressive ('ar') engine", pack_dir / "pack.json")
    man = read_manifest(pack_dir)
    mel_cfg = MelConfig(**man["mel"]) if "mel" in man else MelConfig()
    model = ARTransformer(ARConfig.from_dict(sec["model"]))
    loads: list[tuple[Any, str]] = [(model, sec.get("model_file", MODEL_FILE))]
    codec: MelRVQCodec | DacCodec
    if is_dac_section(sec["codec"]):  # full pack: DAC tokens, waveform out (no Griffin-Lim)
        codec = DacCodec.from_pack(pack_dir, sec["codec"], sec.get("codec_file", CODEC_FILE))
        if mel_cfg.sample_rate != codec.sample_rate:  # the pipeline resamples to mel_cfg's rate
            mel_cfg = MelConfig(sample_rate=codec.sample_rate, fmax=codec.sample_rate / 2)
    else:
        codec = MelRVQCodec(CodecConfig.from_dict(sec["codec"]))
        loads.insert(0, (codec, sec.get("codec_file", CODEC_FILE)))
    for module, fname in loads:
        tensors = load_weights(pack_dir, fname)
        check_state_dict(pack_dir / fname, tensors, module.state_dict())
        module.load_state_dict(tensors)
        module.eval()
    models = ARModels(codec, model, mel_cfg, int(sec.get("griffin_lim_iters", 32)))
    return models, sec
