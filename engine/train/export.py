"""Export a run folder as a pack (engine.train.packio.export_pack): its networks, the run's
trained vocoder when there is one, and a latent run's frozen VAE."""

from __future__ import annotations

from pathlib import Path

from engine.train.run import Run


def export_run(run: Run, pack_dir: Path, half: bool = True, name: str | None = None, training: dict | None = None) -> Path:
    from engine.train.packio import export_pack

    man = dict(run.manifest)
    if name:
        man["name"] = name
    if training:
        man["training"] = training
    extra_weights = {}
    voc_dir = run.out / "vocoder"
    if (voc_dir / "model.safetensors").is_file() and (voc_dir / "config.json").is_file():
        # the run trained a vocoder (v2a train --stage vocoder): the pack uses it (fp32 on disk)
        from engine.models.hifigan import load_tensors, model_from_tensors, read_vocoder_folder

        cfg, wpath = read_vocoder_folder(voc_dir)
        voc = model_from_tensors(cfg, load_tensors(wpath), wpath)
        man["vocoder"] = {"kind": "hifigan", "file": "vocoder.safetensors", "config": cfg}
        extra_weights["vocoder.safetensors"] = voc.state_dict()
    if run.latent:  # G runs on the run's frozen VAE: the pack carries it (fp32, "vae" entry)
        from safetensors.torch import load_file

        entry = dict(man["vae"])
        extra_weights[entry["file"]] = load_file(str(run.out / "nets" / entry["file"]))
        man["vae"] = entry
    return export_pack(pack_dir, man, run.nets, half=half, extra_weights=extra_weights)
