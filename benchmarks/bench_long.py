"""Long clips (issue 21, bounded resources): peak memory and wall time of ``v2a predict-layout``
and ``v2a generate --engine diffusion`` on the bundled sample and on 2- and 10-minute clips.

    .venv/bin/python benchmarks/bench_long.py [--generate-max-s 600]
        -> table on stdout, benchmarks/results/long_clips.json

The long clips are made here with PyAV (320x240, 25 fps, libx264 ultrafast: a drifting
gradient and a moving white square), in a temporary folder. Each command runs once in a child
process with an empty feature cache; its peak resident memory is the child's ``ru_maxrss``
(os.wait4), which counts everything the CLI loads (torch alone is ~0.7 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample" / "big_buck_bunny_excerpt.mp4"
V2A = [sys.executable, "-m", "engine.cli.main"]
# Measured the same way at commit d4f755a, before features were streamed and the layout resize
# was blocked (this machine, 2 cores); generate on 10 minutes then needed ~8.3 GB (issue 21).
BEFORE = {
    "predict-layout 120 s": {"peak_rss_mb": 1371, "wall_s": 8.7},
    "predict-layout 600 s": {"peak_rss_mb": 3304, "wall_s": 44.5},
    "generate 120 s": {"peak_rss_mb": 1395, "wall_s": 113.1},
}


def make_clip(path: Path, seconds: float, fps: int = 25, w: int = 320, h: int = 240) -> Path:
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=fps)
    s.width, s.height, s.pix_fmt = w, h, "yuv420p"
    s.codec_context.options = {"preset": "ultrafast", "g": "50"}
    x = np.arange(w, dtype=np.float32)[None, :]
    y = np.arange(h, dtype=np.float32)[:, None]
    for i in range(int(seconds * fps)):
        t = i / fps
        img = np.empty((h, w, 3), np.uint8)
        img[..., 0] = (x + 40 * t) % 256
        img[..., 1] = (0.5 * y + 20 * t) % 256
        img[..., 2] = int(128 + 100 * np.sin(t))
        bx = int((w - 40) * (0.5 + 0.5 * np.sin(1.3 * t)))
        by = int((h - 40) * (0.5 + 0.5 * np.cos(0.7 * t)))
        img[by : by + 40, bx : bx + 40] = 255  # something that moves, for the motion features
        for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    return path


def measure(args: list[str]) -> dict[str, float]:
    """One child run: peak RSS (MB) and wall time (s)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(V2A + args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        raise SystemExit(f"v2a {' '.join(args)} failed ({p.returncode}): {err[-2000:]}")
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024), "wall_s": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generate-max-s", type=float, default=600.0, help="skip generate on longer clips")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "long_clips.json"))
    a = ap.parse_args()
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        clips = [("sample 5.3 s", 5.3, SAMPLE)]
        for sec in (10, 120, 600):
            t0 = time.perf_counter()
            clips.append((f"{sec} s", sec, make_clip(d / f"clip{sec}.mp4", sec)))
            print(f"made a {sec} s clip in {time.perf_counter() - t0:.1f} s", flush=True)
        for name, sec, clip in clips:
            cache = d / f"cache-{sec}"
            rows[f"predict-layout {name}"] = measure(
                ["predict-layout", str(clip), "-o", str(d / "l.npy"), "--cache-dir", str(cache / "p"), "--quiet"])
            print(f"predict-layout {name}: {rows[f'predict-layout {name}']}", flush=True)
            if sec <= a.generate_max_s:
                rows[f"generate {name}"] = measure(
                    ["generate", str(clip), "-o", str(d / "g.wav"), "--engine", "diffusion", "--seed", "1",
                     "--cache-dir", str(cache / "g"), "--quiet"])
                print(f"generate {name}: {rows[f'generate {name}']}", flush=True)
    per_min = {}
    for cmd in ("predict-layout", "generate"):
        short, long_ = rows.get(f"{cmd} 120 s"), rows.get(f"{cmd} 600 s")
        if short and long_:  # the slope between 2 and 10 minutes
            per_min[cmd] = round((long_["peak_rss_mb"] - short["peak_rss_mb"]) / 8.0, 1)
    # issue 20's time budget: a 10-minute clip within 60x the wall time of a 10 s one
    ratio = {cmd: round(rows[f"{cmd} 600 s"]["wall_s"] / rows[f"{cmd} 10 s"]["wall_s"], 1)
             for cmd in ("predict-layout", "generate") if f"{cmd} 600 s" in rows and f"{cmd} 10 s" in rows}
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    out = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, CPU only",
        "clips": "sample: the bundled 5.3 s 720p excerpt; 10 s / 120 s / 600 s: 320x240 25 fps H.264 made here",
        "after": rows,
        "wall_600s_over_10s": ratio,
        "load_average_at_end": load,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "peak_rss_mb_per_extra_minute": per_min,
        "before_commit_d4f755a": BEFORE,
    }
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
