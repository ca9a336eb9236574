"""Train the starter AR pack: ``python -m engine.ar.build_pack --stage codec|ar|pack``.

Stages keep their results in ``<data>/ar_work/`` (safetensors + json) so each can be rerun:

- codec: the mel RVQ on the sound library's training split (``data/sfx``);
- ar:    the transformer on synthetic library scenes + the rendered paired clips (if any),
         optionally continuing from the previous ``ar`` checkpoint (``--resume``);
- pack:  writes ``resources/packs/starter-ar`` (pack.json + safetensors, sha256 per file).

Run it under ``nice -n 10``; every stage is bounded by ``--minutes``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from engine.ar.codec import CodecConfig, MelRVQCodec
from engine.ar.model import ARConfig, ARTransformer
from engine.ar.visual import DEFAULT_VISUAL, feature_dim
from engine.audio import MelConfig, log_mel

STARTER_AR = dict(d_model=160, n_layers=4, n_heads=4, ffn_hidden=432, context=64, d_visual=48, d_layout=48)
SAMPLING = {"guidance": 6.0, "top_k": 128, "temperature": 1.0, "stride": 16}


def _save(module: torch.nn.Module, cfg: dict, work: Path, name: str, extra: dict | None = None) -> None:
    from safetensors.torch import save_file

    work.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(work / f"{name}.safetensors"))
    (work / f"{name}.json").write_text(json.dumps({"config": cfg, **(extra or {})}, indent=1))


def _load_codec(work: Path) -> MelRVQCodec:
    from safetensors.torch import load_file

    meta = json.loads((work / "codec.json").read_text())
    codec = MelRVQCodec(CodecConfig.from_dict(meta["config"]))
    codec.load_state_dict(load_file(str(work / "codec.safetensors")))
    return codec.eval()


def stage_codec(root: Path, work: Path, minutes: float, steps: int) -> None:
    from engine.ar.data import load_sfx
    from engine.ar.train import train_codec

    sfx = load_sfx(root, "train")
    print(f"codec: {len(sfx)} library sounds")
    mels = [log_mel(y, MelConfig()) for y, _ in sfx]
    cfg = CodecConfig()
    t0 = time.time()
    codec, hist = train_codec(mels, cfg, steps=steps, max_minutes=minutes)
    val = load_sfx(root, "val")
    vm = [log_mel(y, MelConfig()) for y, _ in val]
    err = []
    with torch.no_grad():
        for m in vm[:100]:
            t = torch.from_numpy(m)[None]
            rec = codec.decode(codec.encode(t))[:, : m.shape[0]]
            err.append(float((rec - t).abs().mean()))
    val_l1 = float(np.mean(err)) if err else float("nan")
    print(f"codec: val mel L1 (nats) {val_l1:.3f}")
    _save(codec, cfg.to_dict(), work, "codec", {"history": hist, "val_mel_l1": val_l1, "train_s": time.time() - t0})


def stage_ar(root: Path, work: Path, minutes: float, steps: int, n_scenes: int, resume: bool, lr: float,
             batch: int) -> None:
    from engine.ar.data import clip_records, load_sfx, sfx_scenes
    from engine.ar.train import tokenize_clips, train_transformer
    from engine.text import encode_text

    rng = np.random.default_rng(0)
    t0 = time.time()
    vis_dim = feature_dim(DEFAULT_VISUAL)
    ccfg = CodecConfig()
    cfg = ARConfig(n_codebooks=ccfg.n_codebooks, codebook_size=ccfg.codebook_size,
                   visual_dim=vis_dim, frame_rate=ccfg.frame_rate, **STARTER_AR)
    recs = []
    if n_scenes > 0:
        sfx = load_sfx(root, "train")
        recs += sfx_scenes(sfx, n_scenes, cfg.context / cfg.frame_rate + 0.5, rng, text_encoder=encode_text)
    clips = clip_records(root, "train", DEFAULT_VISUAL, text_encoder=encode_text)
    val_clips = clip_records(root, "val", DEFAULT_VISUAL, text_encoder=encode_text, limit=40)
    # clips carry the visual stream: weight them up against the scenes
    recs += clips * 3
    print(f"ar: {n_scenes} scenes + {len(clips)} clips (x3), {len(val_clips)} val clips; prep {time.time() - t0:.0f}s")
    while not (work / "codec.json").is_file() or (work / "codec.json").stat().st_mtime < t0 - 3600:
        time.sleep(10)  # the codec stage may still be running
    codec = _load_codec(work)
    toks = tokenize_clips(recs, codec, cfg)
    vtoks = tokenize_clips(val_clips, codec, cfg) if val_clips else None
    init = None
    if resume:  # a previous ar run may still be finishing: wait for a checkpoint newer than us
        while not (work / "ar.json").is_file() or (work / "ar.json").stat().st_mtime < t0 - 1800:
            time.sleep(10)
    if resume and (work / "ar.safetensors").is_file():
        from safetensors.torch import load_file

        init = load_file(str(work / "ar.safetensors"))
    model, hist = train_transformer(toks, cfg, steps=steps, batch=batch, lr=lr, max_minutes=minutes,
                                    val_clips=vtoks, init_state=init)
    prev = json.loads((work / "ar.json").read_text()).get("history", []) if resume and (work / "ar.json").is_file() else []
    _save(model, cfg.to_dict(), work, "ar", {"history": prev + [hist], "n_params": model.n_params(),
                                             "n_scenes": n_scenes, "n_clips": len(clips)})


def stage_pack(work: Path, out: Path) -> None:
    from safetensors.torch import load_file

    from engine.ar.pack import save_ar_pack
    from engine.ar.pipeline import ARModels

    codec = _load_codec(work)
    meta = json.loads((work / "ar.json").read_text())
    model = ARTransformer(ARConfig.from_dict(meta["config"]))
    model.load_state_dict(load_file(str(work / "ar.safetensors")))
    cmeta = json.loads((work / "codec.json").read_text())
    training = {
        "data": "data/sfx (train split, Debian game-data sound effects) + data/clips/train",
        "codec_val_mel_l1": cmeta.get("val_mel_l1"),
        "codec_train_s": round(cmeta.get("train_s", 0.0), 1),
        "n_params": meta.get("n_params"),
        "command": "nice -n 10 python -m engine.ar.build_pack --stage codec|ar|pack (docs/AR.md)",
    }
    save_ar_pack(out, ARModels(codec, model.eval()), DEFAULT_VISUAL, SAMPLING, extra={"engine": "ar", "training": training},
                 description="Starter autoregressive (V-AURA-style) pack: mel RVQ tokens, 25 Hz, trained on CPU",
                 extra_files={"LICENSES.md": LICENSE_NOTE})
    print(f"pack written to {out}")


LICENSE_NOTE = """# starter-ar: data licenses

Weights trained by V2A Studio on sound effects from Debian packages (minetest-data, lugaru-data,
0ad-data, widelands-data, wesnoth-1.16-data, sonic-pi-samples, tuxpaint-stamps-default,
freedroidrpg-data), only files under free licenses (CC0, CC-BY, CC-BY-SA, GPL). Per-file
license and attribution: data/sfx/manifest.jsonl (rebuild with `v2a data sfx`). The
share-alike / GPL terms of those recordings are carried by this pack.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.ar.build_pack")
    ap.add_argument("--stage", choices=["codec", "ar", "pack"], required=True)
    ap.add_argument("--data", default="data")
    ap.add_argument("--out", default="resources/packs/starter-ar")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--scenes", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    root = Path(a.data)
    work = root / "ar_work"
    if a.stage == "codec":
        stage_codec(root, work, a.minutes, a.steps)
    elif a.stage == "ar":
        stage_ar(root, work, a.minutes, a.steps, a.scenes, a.resume, a.lr, a.batch)
    else:
        stage_pack(work, Path(a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
