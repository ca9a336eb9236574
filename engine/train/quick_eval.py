"""Quick check of a trained pack on held-out clips: layout adherence + mel pictures.

    python -m engine.train.quick_eval --pack DIR --data data --split val --n 6 --out DIR

For each clip it generates with the TRUE layout and with the PREDICTED layout, scores
``engine.metrics.layout_adherence`` against the true layout (recall of target events within
±40 ms, onsets outside every event, envelope correlation) and the trivial baseline (the true
layout itself upsampled and inverted with Griffin-Lim), and writes a PNG per clip with, top
to bottom: true mel, generated (true layout), generated (predicted layout), true layout,
predicted layout. The full benchmark is benchmarks/bench_quality.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def mel_picture(rows: list[np.ndarray], cfg) -> np.ndarray:
    from engine.audio.layout import colormap, normalize_mel

    pics = []
    width = max(r.shape[0] for r in rows)
    for r in rows:
        v = normalize_mel(r, cfg) if r.shape[1] > 8 else r
        img = colormap(v.T[::-1])
        if r.shape[1] <= 8:
            img = np.repeat(img, 64 // r.shape[1], 0)
        if img.shape[1] != width:
            idx = np.minimum((np.arange(width) * img.shape[1] / width).astype(int), img.shape[1] - 1)
            img = img[:, idx]
        pics.append(img)
        pics.append(np.full((2, width, 3), 255, np.uint8))
    return np.concatenate(pics, 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", required=True)
    ap.add_argument("--data", default="data")
    ap.add_argument("--split", default="val")
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    from engine.audio import layout_from_audio, log_mel, resize_layout
    from engine.audio.layout import encode_png
    from engine.generation import generate, load_pack
    from engine.media import read_audio
    from engine.metrics.adherence import layout_adherence
    from engine.models.vocoder import GriffinLim
    from engine.progress import run_to_completion
    from engine.types import GenerationRequest

    pack = load_pack(args.pack)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clips = sorted(p for p in (Path(args.data) / "clips" / args.split).glob("*.mp4") if not p.name.startswith("."))[: args.n]
    voc = GriffinLim(pack.mel_cfg)
    rows: dict[str, list[dict]] = {"true_layout": [], "predicted_layout": [], "baseline_layout_gl": []}
    for clip in clips:
        ref, sr = read_audio(clip, sample_rate=pack.sample_rate)
        true_lay = layout_from_audio(ref, sr, pack.mel_cfg, pack.layout_cfg)
        takes = {}
        for key, lay in (("true_layout", true_lay), ("predicted_layout", None)):
            req = GenerationRequest(str(clip), layout=lay, steps=args.steps)
            takes[key] = run_to_completion(generate(req, pack, cache_dir=out / "cache"))[0]
            rows[key].append(layout_adherence(true_lay, takes[key].audio, sr, layout_cfg=pack.layout_cfg))
        # trivial baseline: the layout itself as a mel, through the same vocoder
        from engine.audio.layout import denormalize_mel

        n_mel = int(np.ceil(len(ref) / pack.mel_cfg.hop_length))
        base_mel = denormalize_mel(resize_layout(true_lay.values, n_mel, pack.mel_cfg.n_mels), pack.layout_cfg)
        base = voc(base_mel)[: len(ref)]
        rows["baseline_layout_gl"].append(layout_adherence(true_lay, base, sr, layout_cfg=pack.layout_cfg))
        pic = mel_picture(
            [log_mel(ref, pack.mel_cfg), takes["true_layout"].meta["log_mel"], takes["predicted_layout"].meta["log_mel"],
             true_lay.values, takes["predicted_layout"].layout.values],
            pack.layout_cfg,
        )
        (out / f"{clip.stem}.png").write_bytes(encode_png(pic))
    summary = {}
    for key, rs in rows.items():
        summary[key] = {m: float(np.nanmean([r[m] for r in rs])) for m in ("recall_40ms", "outside_rate", "envelope_corr", "median_error_s")}
    summary["clips"] = [c.name for c in clips]
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
