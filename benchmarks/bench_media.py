"""Media speed: read_frames at 10 / 25 fps on 720p clips, VideoReader playback, mux of a 10 s clip.

    .venv/bin/python benchmarks/bench_media.py   -> table on stdout, benchmarks/results/media.json

The 10 s 720p clip is made here with PyAV (H.264, 25 fps, moving texture + noise so the encoder
does real work); the real 720p clip is the Big Buck Bunny excerpt (5.3 s) bundled as the sample.
Each figure is the best of ``REPEATS`` runs (wall time).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.media import VideoReader, mux, probe, read_frames  # noqa: E402

REPEATS = 3


def make_720p(path: Path, seconds: float = 10.0, fps: int = 25) -> Path:
    rng = np.random.default_rng(0)
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=fps)
    s.width, s.height, s.pix_fmt = 1280, 720, "yuv420p"
    s.codec_context.options = {"preset": "veryfast", "crf": "23", "g": "50"}
    x = np.arange(1280)[None, :]
    y = np.arange(720)[:, None]
    base = rng.integers(0, 256, (720 // 8, 1280 // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    for i in range(int(seconds * fps)):
        shift = np.roll(base, 6 * i, axis=1)
        wave = (((x + 5 * i) // 40 + (y - 3 * i) // 40) % 2 * 60).astype(np.uint8)[..., None]
        img = shift // 2 + wave + rng.integers(0, 16, (720, 1280, 1), dtype=np.uint8)
        f = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
        f.pts = i
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode(None):
        c.mux(p)
    c.close()
    return path


def best(fn, repeats: int = REPEATS) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def bench_read(path: Path, fps: int, size) -> dict:
    def run() -> int:
        n = 0
        for _t, _rgb in read_frames(path, fps, size=size):
            n += 1
        return n

    wall, n = best(run)
    info = probe(path)
    return {
        "clip": path.name,
        "fps": fps,
        "size": size if size is None or isinstance(size, int) else list(size),
        "frames": n,
        "clip_seconds": round(info.video.duration, 3),
        "wall_s": round(wall, 3),
        "frames_per_s": round(n / wall, 1),
        "x_realtime": round(info.video.duration / wall, 2),
    }


def bench_viewer(path: Path) -> dict:
    def run() -> int:
        with VideoReader(path) as r:
            n = 0
            t = 0.0
            while t < r.duration:
                r.frame_at(t)
                t += 0.04
                n += 1
        return n

    wall, n = best(run)
    return {
        "clip": path.name,
        "frames": n,
        "wall_s": round(wall, 3),
        "frames_per_s": round(n / wall, 1),
    }


def bench_mux(path: Path, tmp: Path) -> dict:
    sr = 48000
    dur = probe(path).video.duration
    audio = (0.1 * np.random.default_rng(1).standard_normal((int(dur * sr), 2))).astype(np.float32)
    rows = {}
    for suffix, codec in ((".mp4", "aac"), (".mkv", "flac")):
        out = tmp / f"muxed{suffix}"
        wall, _ = best(lambda out=out, codec=codec: mux(path, (audio, sr), out, codec=codec))
        rows[f"{codec}{suffix}"] = round(wall, 3)
    return {
        "clip": path.name,
        "clip_seconds": round(dur, 3),
        "audio": "48 kHz stereo",
        "wall_s": rows,
    }


def main() -> None:
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        synth = make_720p(tmp / "synthetic_720p_10s.mp4")
        real = ROOT / "resources" / "sample" / "big_buck_bunny_excerpt.mp4"
        clips = [synth] + ([real] if real.is_file() else [])
        reads = [
            bench_read(c, fps, size) for c in clips for fps in (10, 25) for size in (None, 224)
        ]
        viewer = [bench_viewer(c) for c in clips]
        muxes = bench_mux(synth, tmp)
    result = {
        "benchmark": "media",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "pyav": av.__version__,
            "load_avg_1_5_15_before": load_before,
            "load_avg_1_5_15_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "note": "shared machine: a load average above cpu_count means other jobs were "
            "competing and the figures are pessimistic",
        },
        "read_frames": reads,
        "viewer_sequential_25fps": viewer,
        "mux_10s": muxes,
        "repeats": REPEATS,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = ROOT / "benchmarks" / "results" / "media.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{'clip':28} {'fps':>4} {'size':>5} {'frames':>6} {'wall s':>7} {'frames/s':>9} {'x rt':>6}"
    )
    for r in reads:
        print(
            f"{r['clip']:28} {r['fps']:>4} {str(r['size']):>5} {r['frames']:>6} {r['wall_s']:>7} "
            f"{r['frames_per_s']:>9} {r['x_realtime']:>6}"
        )
    for v in viewer:
        print(f"viewer {v['clip']}: {v['frames_per_s']} frames/s sequential frame_at")
    print(f"mux {muxes['clip_seconds']} s clip: {muxes['wall_s']}")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
