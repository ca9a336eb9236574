"""Speed and memory of the sound library and the library engine (issue 19 targets).

    .venv/bin/python benchmarks/bench_library.py [--data data] [--n-index 5000] [--out benchmarks/results/library.json]

Measures, on this machine:
- building an index of ``--n-index`` recordings: a folder of that many links to the Foley
  library's FLACs (cycled, in class-named folders) indexed with ``add_folder`` — real decoding,
  analysis and both embeddings for every file (target ≤ 2 min for 5,000);
- the Foley library build (``build_index``, originals found at their native rates);
- search latency over the embedded starter library and the big index (median of 40 prompts,
  target ≤ 50 ms);
- the library engine on a 10 s clip with a given layout (one-shots: 24 events; texture: rain),
  median of 5 runs after the index is loaded (target ≤ 0.5 s);
- peak memory of the whole process (target ≤ 1 GB).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROMPTS = [
    "footsteps on gravel", "a wooden door closes", "dog barking", "glass breaking", "heavy rain",
    "a sword clash", "wind howling", "an explosion", "horse galloping", "fire crackling", "birds chirping",
    "someone digging with a shovel", "a hammer on metal", "water splash", "a cow", "thunder rumble",
]


def _still_clip(path: Path, seconds: float) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        img = np.full((48, 64, 3), 90, np.uint8)
        for _ in range(int(seconds * 10)):
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _events_layout(seconds: float, n: int, cps: float = 25.0):
    from engine.audio.layout import paint_event
    from engine.types import AudioLayout

    v = np.zeros((int(round(seconds * cps)), 5), np.float32)
    for t in np.linspace(0.2, seconds - 0.4, n):
        paint_event(v, float(t), cps, 0.12, 0, 4, 0.7)
    return AudioLayout(v, cps)


def _linked_folder(data: Path, n: int, dest: Path) -> Path:
    from engine.data.library import read_manifest, sound_path

    rows = read_manifest(data / "sfx")
    for i in range(n):
        r = rows[i % len(rows)]
        d = dest / r["class"]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{r['class']}_{i:05d}.flac").symlink_to(sound_path(data / "sfx", r).resolve())
    return dest


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)


def phase_build_folder(data: Path, n: int, tmp: Path) -> dict:
    from engine.library.index import LibraryIndex, add_folder
    from engine.progress import run_to_completion

    folder = _linked_folder(data, n, tmp / "my_sfx")
    empty = LibraryIndex([], np.zeros((0, 384), np.float32), np.zeros((0, 1), np.float32), [], tmp / "idx")
    t0 = time.perf_counter()
    big = run_to_completion(add_folder(empty, folder))
    big.save(tmp / "idx")
    return {"recordings": len(big), "seconds": round(time.perf_counter() - t0, 1), "peak_memory_mb": _rss_mb()}


def phase_build_foley(data: Path, tmp: Path) -> dict:
    from engine.library.index import build_index
    from engine.progress import run_to_completion

    t0 = time.perf_counter()
    foley = run_to_completion(build_index(data, tmp / "foley", keep_user=False))
    return {"recordings": len(foley), "seconds": round(time.perf_counter() - t0, 1), "peak_memory_mb": _rss_mb()}


def phase_use(tmp: Path) -> dict:
    """What a user's session costs: load an index, search, generate (the process's own peak)."""
    from engine.library.engine import LibraryPack
    from engine.library.engine import generate as library_generate
    from engine.library.index import load_index, starter_library_dir
    from engine.library.search import _query, search
    from engine.progress import run_to_completion
    from engine.text_numpy import encode_text_numpy
    from engine.types import GenerationRequest

    res: dict = {}
    encode_text_numpy("warm up")  # the text encoder's load is start-up, not per-query cost
    for name, folder in (("starter", starter_library_dir()), ("folder_index", tmp / "idx")):
        t0 = time.perf_counter()
        idx = load_index(folder)
        load_s = time.perf_counter() - t0
        search(idx, "warm up", k=10)
        times = []
        for _ in range(40 // len(PROMPTS) + 1):
            for q in PROMPTS:
                _query.cache_clear()  # a new prompt each time: the embedding is part of the cost
                t0 = time.perf_counter()
                search(idx, q, k=10)
                times.append((time.perf_counter() - t0) * 1000)
        res[f"search_ms_{name}"] = {"recordings": len(idx), "index_load_s": round(load_s, 3),
                                    "median": round(statistics.median(times), 1),
                                    "p95": round(float(np.percentile(times, 95)), 1)}
    clip = _still_clip(tmp / "still10.mp4", 10.0)
    lib = LibraryPack(load_index(tmp / "foley"))
    for label, prompt, n_ev in (("one_shots_24_events", "footsteps on gravel", 24), ("texture_rain", "heavy rain", 6)):
        req = GenerationRequest(video_path=str(clip), layout=_events_layout(10.0, n_ev), prompt=prompt, engine="library")
        run_to_completion(library_generate(req, lib))  # the first call reads the files
        times = []
        for k in range(5):
            t0 = time.perf_counter()
            takes = run_to_completion(library_generate(GenerationRequest(**{**req.__dict__, "seed": k}), lib))
            times.append(time.perf_counter() - t0)
        res[f"engine_10s_{label}"] = {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3),
                                      "sample_rate": takes[0].sample_rate}
    res["peak_memory_mb"] = _rss_mb()
    res["torch_loaded"] = "torch" in sys.modules
    return res


def main() -> int:
    import subprocess

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data")
    ap.add_argument("--n-index", type=int, default=5000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/library.json"))
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    args = ap.parse_args()
    data = Path(args.data)
    if args.phase:  # one phase in its own process, so each peak memory is its own
        tmp = Path(args.tmp)
        fn = {"build_folder": lambda: phase_build_folder(data, args.n_index, tmp),
              "build_foley": lambda: phase_build_foley(data, tmp), "use": lambda: phase_use(tmp)}[args.phase]
        print(json.dumps(fn()))
        return 0
    res: dict = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                             "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}
    tmp = Path(tempfile.mkdtemp(prefix="v2a-libbench-"))
    try:
        for phase in ("build_folder", "build_foley", "use"):
            out = subprocess.run([sys.executable, __file__, "--phase", phase, "--tmp", str(tmp), "--data", str(data),
                                  "--n-index", str(args.n_index)], capture_output=True, text=True, check=True)
            res[phase] = json.loads(out.stdout.strip().splitlines()[-1])
            print(phase, json.dumps(res[phase]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
