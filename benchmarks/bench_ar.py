"""AR engine benchmark: speed (tokens/s, seconds per 10 s clip) and painted-layout adherence.

    .venv/bin/python benchmarks/bench_ar.py [--pack starter-ar] [--clips 8] [--threads 2]
        -> tables on stdout, benchmarks/results/speed_ar.json ("ar" section) and
           benchmarks/results/quality_ar.json

Speed: a 10 s clip (made here with PyAV, 25 fps), default settings (CFG 6, top-k 128, one
take); stages timed separately (features, sampling, Griffin-Lim decode); best of REPEATS.
Adherence (docs/METRICS.md, engine.metrics.layout_adherence): on held-out clips
(data/clips/test), the layout of the clip's true soundtrack is the "painted" target; rows for
the AR engine, the true soundtrack itself (upper bound of the scorer) and the trivial
baseline (the layout alone upsampled to a mel and inverted with Griffin-Lim), as
REFERENCES.md asks, plus the codec's own round trip (true audio -> tokens -> audio).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REPEATS = 2


def make_clip(path: Path, seconds: float = 10.0, fps: int = 25) -> Path:
    import av

    rng = np.random.default_rng(0)
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=fps)
    s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
    for i in range(int(seconds * fps)):
        img = rng.integers(0, 40, (240, 320, 3), dtype=np.uint8)
        x = (i * 7) % 300
        img[100:140, x : x + 20] = 220 if (i // 12) % 2 else 120
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        f.pts = i
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode(None):
        c.mux(p)
    c.close()
    return path


def bench_speed(pack: str, tmp: Path) -> dict:
    import torch

    from engine.ar import resolve_pack_dir
    from engine.ar.pipeline import codes_to_audio, generate_codes
    from engine.ar.run import load_models, visual_for
    from engine.ar.sampling import SampleSettings
    from engine.types import AudioLayout

    clip = make_clip(tmp / "ten.mp4")
    pack_dir = resolve_pack_dir(pack)
    t = time.perf_counter()
    models, sec = load_models(pack_dir)
    t_load = time.perf_counter() - t
    rng = np.random.default_rng(0)
    lay = np.zeros((250, 5), np.float32)
    for s in rng.choice(240, 12, replace=False):
        lay[s : s + 5] = rng.uniform(0.5, 0.9, 5)
    layout = AudioLayout(lay, 25.0)
    smp = sec["sampling"]
    st = SampleSettings(guidance=smp["guidance"], top_k=smp["top_k"], temperature=smp["temperature"], stride=smp["stride"])
    res: dict = {"load_s": round(t_load, 3)}
    best: dict[str, float] = {}
    for _ in range(REPEATS):
        from engine.ar import run as run_mod

        run_mod._FEATS.clear()
        t = time.perf_counter()
        vis = visual_for(clip, sec["visual"])
        t_feat = time.perf_counter() - t
        t = time.perf_counter()
        codes = generate_codes(models, 10.0, layout, vis, settings=st, seed=0, takes=1)
        t_samp = time.perf_counter() - t
        t = time.perf_counter()
        y = codes_to_audio(models, codes[0], 10.0)
        t_dec = time.perf_counter() - t
        for k, v in (("features_s", t_feat), ("sampling_s", t_samp), ("decode_s", t_dec)):
            best[k] = min(best.get(k, 1e9), v)
        assert len(y) == 160000
    n_tok = codes.shape[1] * codes.shape[2]
    # no-cache reference for the speed-up of the KV cache (first 3 s only: it is quadratic)
    t = time.perf_counter()
    generate_codes(models, 3.0, layout, vis, settings=SampleSettings(guidance=6.0, use_cache=False), seed=0)
    t_nc = time.perf_counter() - t
    t = time.perf_counter()
    generate_codes(models, 3.0, layout, vis, settings=SampleSettings(guidance=6.0), seed=0)
    t_c = time.perf_counter() - t
    res.update({k: round(v, 3) for k, v in best.items()})
    res.update(
        {
            "clip_seconds": 10.0,
            "token_frames": int(codes.shape[1]),
            "codebooks": int(codes.shape[2]),
            "tokens": int(n_tok),
            "tokens_per_s": round(n_tok / best["sampling_s"], 1),
            "steps_per_s": round((codes.shape[1] + codes.shape[2] - 1) / best["sampling_s"], 1),
            "total_s_per_10s_clip": round(best["features_s"] + best["sampling_s"] + best["decode_s"], 3),
            "realtime_factor": round(10.0 / (best["features_s"] + best["sampling_s"] + best["decode_s"]), 2),
            "kv_cache_speedup_3s": round(t_nc / t_c, 2),
            "n_params": int(models.model.n_params()),
            "codec_params": int(sum(p.numel() for p in models.codec.parameters())),
            "settings": {"guidance": st.guidance, "top_k": st.top_k, "griffin_lim_iters": models.griffin_lim_iters},
            "threads": torch.get_num_threads(),
            "v_aura_reference": "16.55 s per 8 s clip on a GPU (695M params)",
        }
    )
    return res


def paint_layout(meta_path: Path, duration: float, cps: float = 10.0):
    """What an editor paints: a 0.7 box over all bands for each event (0.15–0.5 s long)."""
    from engine.types import AudioLayout

    if not meta_path.is_file():
        return None
    events = json.loads(meta_path.read_text()).get("events") or []
    n = max(1, int(np.ceil(duration * cps - 1e-6)))
    v = np.zeros((n, 5), np.float32)
    for e in events:
        t = float(e.get("start", e.get("time", 0.0)))
        length = min(0.5, max(0.15, float(e.get("sound_duration", 0.3))))
        a, b = int(round(t * cps)), int(round((t + length) * cps))
        v[a : max(b, a + 1)] = 0.7
    return AudioLayout(v, n / duration)


def bench_adherence(pack: str, data: Path, n_clips: int) -> dict:
    import soundfile as sf

    from engine.ar import resolve_pack_dir
    from engine.ar.pipeline import audio_to_codes, codes_to_audio, generate_codes
    from engine.ar.run import load_models, visual_for
    from engine.ar.sampling import SampleSettings
    from engine.audio import (
        LayoutConfig,
        MelConfig,
        denormalize_mel,
        griffin_lim,
        layout_from_audio,
        resize_layout,
    )
    from engine.media import read_audio
    from engine.metrics import layout_adherence

    models, sec = load_models(resolve_pack_dir(pack))
    smp = sec["sampling"]
    st = SampleSettings(guidance=smp["guidance"], top_k=smp["top_k"], temperature=smp["temperature"], stride=smp["stride"])
    split = "test" if any((data / "clips" / "test").glob("*.mp4")) else "val"
    clips = sorted((data / "clips" / split).glob("*.mp4"))[:n_clips]
    lay_cfg = LayoutConfig(columns_per_second=25.0, bands=5)
    rows: dict[str, list[dict]] = {"ar": [], "true_audio": [], "codec_round_trip": [], "layout_griffin_lim": [],
                                   "ar_painted": [], "ar_no_layout": []}
    per_clip = []
    for mp4 in clips:
        if mp4.with_suffix(".flac").is_file():
            y, sr = sf.read(str(mp4.with_suffix(".flac")), dtype="float32", always_2d=False)
        else:
            y, sr = read_audio(mp4, 16000)
        if y.ndim > 1:
            y = y.mean(1)
        dur = len(y) / sr
        layout = layout_from_audio(y, sr, MelConfig(), lay_cfg)
        vis = visual_for(mp4, sec["visual"])
        t = time.perf_counter()
        codes = generate_codes(models, dur, layout, vis, settings=st, seed=0)
        gen = codes_to_audio(models, codes[0], dur)
        t_gen = time.perf_counter() - t
        rt = codes_to_audio(models, audio_to_codes(models, y, sr), dur)
        n_mel = int(np.ceil(len(y) / 160))
        base_mel = denormalize_mel(resize_layout(layout.values, n_mel, 64), lay_cfg)
        base = griffin_lim(base_mel, MelConfig(), n_iter=32)[: len(y)]
        for key, audio in (("ar", gen), ("true_audio", y), ("codec_round_trip", rt), ("layout_griffin_lim", base)):
            rows[key].append(layout_adherence(layout, audio, 16000 if key != "true_audio" else sr))
        # a hand-painted layout: a flat box per event of the clip (10 columns/s, the studio grid)
        painted = paint_layout(mp4.with_suffix(".json"), dur)
        if painted is not None:
            pc = generate_codes(models, dur, painted, vis, settings=st, seed=1)
            rows["ar_painted"].append(layout_adherence(painted, codes_to_audio(models, pc[0], dur), 16000))
        nc = generate_codes(models, dur, None, vis, settings=st, seed=2)  # ablation: video (+ empty layout) only
        rows["ar_no_layout"].append(layout_adherence(layout, codes_to_audio(models, nc[0], dur), 16000))
        per_clip.append({"clip": mp4.stem, "seconds": round(dur, 2), "ar": rows["ar"][-1], "gen_s": round(t_gen, 2)})
        print(f"{mp4.stem}: ar recall {rows['ar'][-1]['recall_40ms']:.2f} true {rows['true_audio'][-1]['recall_40ms']:.2f} "
              f"baseline {rows['layout_griffin_lim'][-1]['recall_40ms']:.2f} ({t_gen:.1f}s)")

    def summary(rs: list[dict]) -> dict:
        ev = sum(r["n_target_events"] for r in rs)
        hit = sum(round(r["recall_40ms"] * r["n_target_events"]) for r in rs if r["n_target_events"])
        ons = sum(r["n_detected_onsets"] for r in rs)
        out = sum(r["n_outside"] for r in rs)
        med = [r["median_error_s"] for r in rs if np.isfinite(r["median_error_s"])]
        cor = [r["envelope_corr"] for r in rs if np.isfinite(r["envelope_corr"])]
        return {
            "recall_40ms": round(hit / ev, 3) if ev else None,
            "outside_rate": round(out / ons, 3) if ons else None,
            "median_error_ms": round(1000 * float(np.median(med)), 1) if med else None,
            "envelope_corr": round(float(np.mean(cor)), 3) if cor else None,
            "events": int(ev),
        }

    return {"clips": len(clips), "split": split, "target": "layout of the clip's true soundtrack (25 cols/s x 5 bands)",
            "rows": {k: summary(v) for k, v in rows.items()}, "per_clip": per_clip}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default="starter-ar")
    ap.add_argument("--data", default="data")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    machine = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "threads": a.threads,
               "load_avg": os.getloadavg()[0], "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    if not a.skip_speed:
        with tempfile.TemporaryDirectory() as td:
            speed = bench_speed(a.pack, Path(td))
        path = out_dir / "speed_ar.json"
        doc = json.loads(path.read_text()) if path.is_file() else {}
        doc["ar"] = {"machine": machine, **speed}
        path.write_text(json.dumps(doc, indent=2) + "\n")
        print("| stage | seconds (10 s clip) |\n|---|---|")
        for k in ("features_s", "sampling_s", "decode_s", "total_s_per_10s_clip"):
            print(f"| {k} | {speed[k]} |")
        print(f"tokens/s {speed['tokens_per_s']}, KV-cache speed-up {speed['kv_cache_speedup_3s']}x")
    if not a.skip_quality:
        q = bench_adherence(a.pack, Path(a.data), a.clips)
        (out_dir / "quality_ar.json").write_text(json.dumps({"machine": machine, **q}, indent=2, default=float) + "\n")
        print("| row | recall ±40 ms | outside rate | median error ms | envelope corr |\n|---|---|---|---|---|")
        for k, r in q["rows"].items():
            print(f"| {k} | {r['recall_40ms']} | {r['outside_rate']} | {r['median_error_ms']} | {r['envelope_corr']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
