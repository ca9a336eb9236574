"""Speed and memory of the diffusion engine: a 10 s clip end to end, per stage, on this machine.

    .venv/bin/python benchmarks/bench_speed.py [--pack starter] [--seconds 10] [--threads 2]

Stages (as the engine's ``generate`` reports them, timed by ``engine.progress.StageTimer``):
decoding (frames by timestamp, with the ViT + motion features computed chunk by chunk as the
frames arrive: "features" is only the last chunk's), layout (predictor T),
sampling (DPM-Solver, the pack's 25 steps, CFG 5, all windows batched), vocoder (Griffin-Lim
32 it.), then mux (video stream copied + AAC). "end_to_end_s" is one fresh process doing what
``v2a generate clip.mp4 -o out.mp4`` does (imports and pack loading included); its peak
resident memory is "peak_rss_mb". "regenerate_s" is a second generate in the same process
(features cached on disk, models loaded) - what the studio pays per take.
Writes benchmarks/results/speed.json and prints a table.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def make_clip(path: Path, seconds: float, fps: int = 25, size: tuple[int, int] = (1280, 720)) -> Path:
    """A synthetic HD clip (moving blocks and flashes), H.264, no audio."""
    import av

    w, h = size
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=fps)
    s.width, s.height, s.pix_fmt = w, h, "yuv420p"
    s.codec_context.options = {"preset": "veryfast", "crf": "23"}
    rng = np.random.default_rng(0)
    bg = (rng.random((h // 8, w // 8, 3)) * 80 + 60).astype(np.uint8).repeat(8, 0).repeat(8, 1)
    for i in range(int(seconds * fps)):
        img = bg.copy()
        x = int((i * 17) % (w - 120))
        y = int(h / 2 + 200 * np.sin(i / 9))
        img[max(0, y - 60) : y + 60, x : x + 120] = (230, 200, 40)
        if i % 37 < 3:
            img[: h // 4] = 250
        fr = av.VideoFrame.from_ndarray(img, format="rgb24")
        for pkt in s.encode(fr):
            c.mux(pkt)
    for pkt in s.encode(None):
        c.mux(pkt)
    c.close()
    return path


CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import torch
torch.set_num_threads(int(sys.argv[4]))
from engine.generation import load_pack, generate
from engine.progress import run_to_completion
from engine.types import GenerationRequest
from engine.cli.generate_cmd import write_take
pack = load_pack(sys.argv[1])
req = GenerationRequest(video_path=sys.argv[2])
take = run_to_completion(generate(req, pack, cache_dir=sys.argv[5]))[0]
write_take(__import__("pathlib").Path(sys.argv[2]), take.audio, take.sample_rate, __import__("pathlib").Path(sys.argv[3]))
t1 = time.perf_counter()
t2 = time.perf_counter()
take = run_to_completion(generate(req, pack, cache_dir=sys.argv[5]))[0]
t3 = time.perf_counter()
print(json.dumps({"end_to_end_s": t1 - t0, "regenerate_s": t3 - t2,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def stage_times(pack_name: str | None, clip: Path, out: Path, threads: int) -> dict[str, float]:
    """The public jobs with a timing hook (``engine.progress.StageTimer``): load, then one
    ``generate`` with the feature cache off (decoding, features, layout, sampling, vocoder as
    the engine reports them), then the mux."""
    import torch

    torch.set_num_threads(threads)
    from engine.cli.generate_cmd import write_take
    from engine.generation import generate, load_pack
    from engine.packs.config import resolve
    from engine.progress import StageTimer, run_to_completion
    from engine.types import GenerationRequest

    t = {}
    a = time.perf_counter()
    pack = load_pack(pack_name)
    t["load_pack"] = time.perf_counter() - a
    req = GenerationRequest(video_path=str(clip))
    timer = StageTimer()
    take = run_to_completion(generate(req, pack, cache_dir=False), timer)[0]
    t.update(timer.seconds)
    a = time.perf_counter()
    write_take(clip, take.audio, take.sample_rate, out)
    t["mux"] = time.perf_counter() - a
    t["sum_of_stages"] = sum(v for k, v in t.items() if k != "load_pack")
    settings = resolve(req, pack.config.sampling)
    t["layout_guidance"] = settings.layout_guidance  # settings, not times: main() moves them
    t["layout_guidance_steps"] = settings.layout_guidance_steps
    return t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default=None)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "speed.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        clip = make_clip(td / "clip10s.mp4", args.seconds)
        stages = stage_times(args.pack, clip, td / "stages.mp4", args.threads)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        r = subprocess.run(
            [sys.executable, "-c", CHILD, args.pack or "starter", str(clip), str(td / "e2e.mp4"), str(args.threads), str(td / "cache")],
            capture_output=True, text=True, env=env, cwd=ROOT,
        )
        if r.returncode != 0:
            print(r.stderr[-3000:])
            return 1
        e2e = json.loads(r.stdout.strip().splitlines()[-1])
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    result = {
        "clip": {"seconds": args.seconds, "video": "1280x720 H.264 25 fps (synthetic)"},
        "pack": args.pack or "starter",
        "settings": {"steps": 25, "guidance": 5.0, "layout_guidance": stages.pop("layout_guidance"),
                     "layout_guidance_steps": stages.pop("layout_guidance_steps"), "scheduler": "dpm", "takes": 1,
                     "vocoder": "griffin-lim 32 it."},
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "end_to_end_s": round(e2e["end_to_end_s"], 3),
        "regenerate_s": round(e2e["regenerate_s"], 3),
        "peak_rss_mb": round(e2e["peak_rss_mb"], 1),
        "targets": {"end_to_end_s": 5.0, "peak_rss_mb": 2048},
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "torch_threads": args.threads, "python": platform.python_version(),
                    "load_average_at_end": [round(x, 2) for x in load]},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_file():  # earlier sittings' records stay (this run writes only its own keys)
        old = json.loads(out.read_text())
        result.update({k: v for k, v in old.items() if k not in result and k != "note"})
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{'stage':<16}{'seconds':>9}")
    for k, v in result["stages_s"].items():
        print(f"{k:<16}{v:>9.3f}")
    print(f"{'end to end':<16}{result['end_to_end_s']:>9.3f}   (fresh process, imports + pack load included)")
    print(f"{'regenerate':<16}{result['regenerate_s']:>9.3f}   (features cached, models loaded)")
    print(f"{'peak RSS MB':<16}{result['peak_rss_mb']:>9.1f}")
    print(f"load average at end: {result['machine']['load_average_at_end']} (a shared machine inflates every number)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
