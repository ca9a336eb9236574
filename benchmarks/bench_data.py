"""Data pipeline benchmark: render, cache and loading speed, and AV-Align of rendered clips.

    .venv/bin/python benchmarks/bench_data.py [--root data] [--clips 60] [--batches 20]

Measures on the data root built by ``v2a data sfx/clips/cache``:

- loading: ``ClipDataset`` (4 s crops at 10 fps, 64 px) through a ``DataLoader`` with 0 and
  2 worker processes (this machine has 2 cores), clips per second;
- rendering and caching: seconds per clip for a fixed 6 s 256x256 25 fps spec;
- AV-Align (TempoTokens definition, ``engine.metrics.av_align``) of rendered val/test clips
  against their own soundtrack, and against another clip's soundtrack as a floor;
  AA-Align of each soundtrack with itself (must be 1.0).

Writes ``benchmarks/results/data.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data import data_root  # noqa: E402


def bench_loading(root: Path, batches: int) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from engine.data.dataset import ClipDataset

    out = {}
    torch.set_num_threads(1)
    for workers in (0, 2):
        ds = ClipDataset(root / "cache", "train", crop_seconds=4.0, fps=10.0)
        dl = DataLoader(ds, batch_size=16, shuffle=True, num_workers=workers, persistent_workers=False)
        it = iter(dl)
        next(it)  # start-up (worker spawn, first file reads) is not throughput
        t = time.perf_counter()
        n = 0
        for _ in range(batches):
            try:
                b = next(it)
            except StopIteration:
                it = iter(dl)
                b = next(it)
            n += len(b["id"])
        dt = time.perf_counter() - t
        out[f"workers_{workers}"] = {"clips_per_s": round(n / dt, 1), "clips": n, "seconds": round(dt, 2)}
    return out


def bench_render_cache(root: Path, n: int = 4) -> dict:
    from engine.data.cache import CacheConfig, build_entry
    from engine.data.clips import ClipSpec, SoundBank, render_clip

    bank = SoundBank(root / "sfx" / "manifest.jsonl", "train")
    spec = ClipSpec(duration=6.0, fps=25, size=(256, 256))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        paths = [render_clip(bank, Path(tmp), f"b{i}", seed=1000 + i, spec=spec) for i in range(n)]
        render_s = (time.perf_counter() - t) / n
        t = time.perf_counter()
        for p in paths:
            build_entry(p, CacheConfig())
        cache_s = (time.perf_counter() - t) / n
    return {"spec": "6 s, 256x256, 25 fps", "render_s_per_clip": round(render_s, 2), "cache_s_per_clip": round(cache_s, 2)}


def bench_align_clean(root: Path, n: int = 12) -> dict:
    """AV-Align on freshly rendered val clips without soundless nuisance (static camera, no
    noise, lighting changes or distractors): how well the events alone line up."""
    from engine.audio import detect_onsets
    from engine.data.clips import ClipSpec, SoundBank, render_clip
    from engine.media import read_audio, read_frames
    from engine.metrics.align import AV_ONSETS, flow_magnitudes_job, iou_score, video_peaks
    from engine.progress import run_to_completion

    bank = SoundBank(root / "sfx" / "manifest.jsonl", "val")
    spec = ClipSpec(duration=(4.0, 10.0), fps=(10, 12, 15, 24, 25, 30), size=(320, 240), nuisance=False)
    scores, recall = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            mp4 = render_clip(bank, Path(tmp), f"clean{i}", seed=5000 + i, spec=spec, split="val")
            meta = json.loads(mp4.with_suffix(".json").read_text())
            fps = meta["fps_float"]
            flow = run_to_completion(flow_magnitudes_job((f for _, f in read_frames(mp4, fps=Fraction(meta["fps"]))), meta["n_frames"]))
            vp = video_peaks(flow, fps)
            audio, sr = read_audio(mp4, sample_rate=16000)
            scores.append(iou_score(detect_onsets(audio, sr, AV_ONSETS), vp, 1.0 / fps, strict=True))
            ev = np.array([e["time"] for e in meta["events"]])
            recall.append(float(np.mean([np.any(np.abs(vp - t) < 1.0 / fps + 1e-9) for t in ev])) if len(vp) else 0.0)
    return {"clips": n, "av_align_own_soundtrack": round(float(np.mean(scores)), 3),
            "event_contacts_with_video_peak": round(float(np.mean(recall)), 3)}


def bench_align(root: Path, n: int) -> dict:
    """AV-Align exactly as ``engine.metrics.av_align`` computes it, with the flow computed once
    per clip so the own and the mismatched soundtrack share it."""
    from engine.audio import detect_onsets
    from engine.data.cache import load_entry, read_index
    from engine.media import read_frames
    from engine.metrics.align import (
        AV_ONSETS,
        aa_align,
        flow_magnitudes_job,
        iou_score,
        video_peaks,
    )
    from engine.progress import run_to_completion

    rows = [r for r in read_index(root / "cache") if r["split"] in ("val", "test")][:n]
    own, other, self_aa, onsets, peaks, recall, onset_hit = [], [], [], [], [], [], []
    audios = [load_entry(root / "cache" / r["file"])["audio"] for r in rows]
    for i, r in enumerate(rows):
        meta = json.loads(Path(r["clip"]).with_suffix(".json").read_text())
        fps = meta["fps_float"]
        frames = (rgb for _, rgb in read_frames(r["clip"], fps=Fraction(meta["fps"])))
        flow = run_to_completion(flow_magnitudes_job(frames, meta["n_frames"]))
        vp = video_peaks(flow, fps)
        a_on = detect_onsets(audios[i], 16000, AV_ONSETS)
        b_on = detect_onsets(audios[(i + 1) % len(rows)], 16000, AV_ONSETS)
        own.append(iou_score(a_on, vp, 1.0 / fps, strict=True))
        other.append(iou_score(b_on, vp, 1.0 / fps, strict=True))
        self_aa.append(aa_align(audios[i], audios[i], 16000))
        onsets.append(len(a_on))
        peaks.append(len(vp))
        ev = np.array([e["time"] for e in meta["events"]])
        # Do the rendered contacts make motion peaks / audio onsets (within +-1 frame)?
        recall.append(float(np.mean([np.any(np.abs(vp - t) < 1.0 / fps + 1e-9) for t in ev])) if len(vp) else 0.0)
        onset_hit.append(float(np.mean([np.any(np.abs(a_on - t) < 1.0 / fps + 1e-9) for t in ev])) if len(a_on) else 0.0)
    return {
        "clips": len(rows),
        "av_align_own_soundtrack": round(float(np.mean(own)), 3),
        "av_align_own_soundtrack_median": round(float(np.median(own)), 3),
        "av_align_mismatched_soundtrack": round(float(np.mean(other)), 3),
        "aa_align_self": round(float(np.mean(self_aa)), 3),
        "mean_audio_onsets": round(float(np.mean(onsets)), 1),
        "mean_video_peaks": round(float(np.mean(peaks)), 1),
        "mean_events": round(float(np.mean([len(json.loads(Path(r["clip"]).with_suffix(".json").read_text())["events"]) for r in rows])), 1),
        "event_contacts_with_video_peak": round(float(np.mean(recall)), 3),
        "event_contacts_with_audio_onset": round(float(np.mean(onset_hit)), 3),
        "reference": "TempoTokens reports AV-Align 0.51 for real VGGSound ground truth",
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=None)
    ap.add_argument("--clips", type=int, default=60, help="val/test clips for AV-Align")
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: loading,render,align,clean")
    args = ap.parse_args()
    root = data_root(args.root)
    skip = set(args.skip.split(",")) - {""}
    res: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_avg_at_start": [round(x, 1) for x in os.getloadavg()]},
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if "loading" not in skip:
        res["loading"] = bench_loading(root, args.batches)
    if "render" not in skip:
        res["render_cache"] = bench_render_cache(root)
    if "align" not in skip:
        res["alignment"] = bench_align(root, args.clips)
    if "clean" not in skip:
        res["alignment_without_nuisance"] = bench_align_clean(root)
    out = Path(__file__).resolve().parent / "results" / "data.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and skip:  # a partial run updates the parts it measured
        res = {**json.loads(out.read_text()), **res}
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
