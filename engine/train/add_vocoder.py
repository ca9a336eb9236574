"""``add_vocoder``: a copy of a pack that uses a neural (HiFi-GAN) vocoder from local files.

The source is a local vocoder folder: an AudioLDM / AudioLDM2 ``vocoder/`` folder
(``config.json`` + ``model.safetensors`` or ``diffusion_pytorch_model.safetensors``) or the
``OUT/vocoder`` folder of ``v2a train --stage vocoder``. Pickled weights (.bin/.pt/.ckpt) are
refused, never loaded. The weights are checked against their config and the pack's mel before
anything is written, and the new pack is written atomically (``write_pack``). torch is
imported only inside the call (``engine.packs`` stays torch-free at import).
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import OutputError
from engine.packs.format import read_manifest, verify_pack, write_pack

VOCODER_FILE = "vocoder.safetensors"


def add_vocoder(
    pack: str | Path,
    vocoder_src: str | Path,
    out_dir: str | Path | None = None,
    in_place: bool = False,
    name: str | None = None,
    force: bool = False,
) -> Path:
    """Write ``out_dir`` (default: ``<pack>-hifigan`` beside the pack) = the pack with
    ``"vocoder": {"kind": "hifigan", ...}``. The input pack is replaced only with ``in_place``."""
    from engine.audio.mel import MelConfig
    from engine.models.hifigan import (
        check_compatible,
        load_tensors,
        model_from_tensors,
        read_vocoder_folder,
    )
    from engine.packs.locations import find_pack

    pack_dir = find_pack(pack)
    verify_pack(pack_dir)
    manifest = read_manifest(pack_dir)
    if in_place:
        if out_dir is not None and Path(out_dir).resolve() != pack_dir.resolve():
            raise OutputError("give either -o NEW_PACK or --in-place, not both")
        target = pack_dir
    else:
        target = Path(out_dir) if out_dir is not None else pack_dir.with_name(f"{pack_dir.name}-hifigan")
        if target.resolve() == pack_dir.resolve():
            raise OutputError("the output is the input pack; pass --in-place to modify it", target)
        if target.exists() and not force:
            raise OutputError("already exists (pass --force to replace it)", target)
        if target.exists() and not (target / "pack.json").is_file():
            raise OutputError("exists and is not a pack; refusing to replace it", target)

    cfg, weights_path = read_vocoder_folder(vocoder_src)
    a = manifest.get("audio", {})
    mel = MelConfig(**{k: a[k] for k in MelConfig.__dataclass_fields__ if k in a})
    check_compatible(cfg, mel, weights_path.parent / "config.json")
    tensors = load_tensors(weights_path)
    model = model_from_tensors(cfg, tensors, weights_path)  # refuses weights that do not fit

    man = dict(manifest)
    old = man.get("vocoder", {})
    drop = {VOCODER_FILE}
    if old.get("kind") == "hifigan":  # replacing a neural vocoder: its files go
        drop.add(str(old.get("file", VOCODER_FILE)))
        if old.get("config_file"):
            drop.add(str(old["config_file"]))
    man["vocoder"] = {"kind": "hifigan", "file": VOCODER_FILE, "config": cfg, "source": weights_path.parent.name}
    if not in_place:
        man["name"] = name or target.name
    elif name:
        man["name"] = name
    params = sum(p.numel() for p in model.parameters())
    man["param_counts"] = {**man.get("param_counts", {}), "vocoder": params}
    keep = {rel: pack_dir / rel for rel in manifest["files"] if rel not in drop}
    state = {k: v.detach().float() for k, v in model.state_dict().items()}
    return write_pack(target, man, {VOCODER_FILE: state}, extra_files=keep)

