"""Audio speed: log-mel, layout, Griffin-Lim (10 s at 16 kHz) and AV-Align on a 10 s clip.

    .venv/bin/python benchmarks/bench_audio.py   -> table on stdout, benchmarks/results/audio.json

The audio is a real-recording mix when .cache/testmedia/minetest exists (else noise bursts);
the AV-Align clip is made here with PyAV (10 s, 25 fps, H.264, moving texture) at 320x240 and
at 640x360, timed end to end (decode + Farnebäck flow + onsets). librosa's equivalents are
timed alongside where it is installed (dev extra). Each figure is the best of ``REPEATS`` runs.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audio import (  # noqa: E402
    detect_onsets,
    griffin_lim,
    layout_from_mel,
    log_mel,
    resample,
)
from engine.metrics import av_align_job  # noqa: E402
from engine.progress import run_to_completion  # noqa: E402

REPEATS = 3
SR = 16000


CPU: dict[str, float] = {}  # CPU seconds of the best run, by label (the machine is shared)


def best(fn, repeats: int = REPEATS, label: str = "") -> tuple[float, object]:
    t_best, out = float("inf"), None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        t = time.perf_counter() - t0
        if t < t_best:
            t_best, CPU[label] = t, time.process_time() - c0
    return t_best, out


def ten_seconds() -> tuple[np.ndarray, str]:
    files = sorted(glob.glob(str(ROOT / ".cache/testmedia/minetest/*.ogg")))
    rng = np.random.default_rng(0)
    y = (rng.standard_normal(10 * SR) * 1e-3).astype(np.float32)
    if files:
        import soundfile as sf

        for i, t in enumerate(np.arange(0.3, 9.5, 0.9)):
            s, sr = sf.read(files[i % len(files)], dtype="float32", always_2d=True)
            s = resample(s.mean(1), sr, SR)
            s = 0.5 * s / max(1e-6, np.abs(s).max())
            a = int(t * SR)
            n = min(len(s), len(y) - a)
            y[a : a + n] += s[:n]
        return y, "minetest recordings mixed at 0.9 s steps"
    for t in np.arange(0.3, 9.5, 0.9):
        a = int(t * SR)
        y[a : a + 1280] += (rng.standard_normal(1280) * np.exp(-np.arange(1280) / 240) * 0.5).astype(np.float32)
    return y, "noise bursts"


def make_clip(path: Path, w: int, h: int, seconds: float = 10.0, fps: int = 25) -> None:
    import av

    rng = np.random.default_rng(1)
    tex = rng.integers(0, 256, (h // 4, w // 4), dtype=np.uint8)
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=fps)
    s.width, s.height, s.pix_fmt = w, h, "yuv420p"
    s.codec_context.options = {"preset": "veryfast", "crf": "20"}
    pos = 0.0
    for i in range(int(seconds * fps)):
        pos += 2.0 + 2.0 * np.sin(i / 7.0)
        img = np.full((h, w), 60, np.uint8)
        x = int(pos) % (w - tex.shape[1])
        img[h // 3 : h // 3 + tex.shape[0], x : x + tex.shape[1]] = tex
        f = av.VideoFrame.from_ndarray(np.repeat(img[..., None], 3, 2), format="rgb24")
        f.pts = i
        f.time_base = Fraction(1, fps)
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode(None):
        c.mux(p)
    c.close()


def main() -> None:
    y, source = ten_seconds()
    rows: dict = {}
    t, mel = best(lambda: log_mel(y), label="log_mel_10s")
    rows["log_mel_10s"] = {"wall_s": round(t, 4), "x_realtime": round(10 / t, 1), "shape": list(mel.shape)}
    t, lay = best(lambda: layout_from_mel(log_mel(y)), label="layout_from_audio_10s")
    rows["layout_from_audio_10s"] = {"wall_s": round(t, 4), "x_realtime": round(10 / t, 1), "shape": list(lay.values.shape)}
    for n_iter in (32, 64):
        t, _ = best(lambda n=n_iter: griffin_lim(mel, n_iter=n), label=f"griffin_lim_{n_iter}it_10s")
        rows[f"griffin_lim_{n_iter}it_10s"] = {"wall_s": round(t, 3), "x_realtime": round(10 / t, 2)}
    t, on = best(lambda: detect_onsets(y, SR), label="onset_detect_10s")
    rows["onset_detect_10s"] = {"wall_s": round(t, 4), "onsets": int(len(on))}
    try:
        import librosa

        t, _ = best(lambda: librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=160, n_mels=64, fmax=8000, power=1.0))
        rows["librosa_melspectrogram_10s"] = {"wall_s": round(t, 4)}
        mag = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=160, n_mels=64, fmax=8000, power=1.0)
        t, _ = best(lambda: librosa.feature.inverse.mel_to_audio(mag, sr=SR, n_fft=1024, hop_length=160, fmax=8000, power=1.0, n_iter=32), 1)
        rows["librosa_mel_to_audio_32it_10s"] = {"wall_s": round(t, 3), "note": "NNLS mel inversion + griffinlim"}
        y22 = resample(y, SR, 22050)
        t, _ = best(lambda: librosa.onset.onset_detect(y=y22, sr=22050))
        rows["librosa_onset_detect_10s"] = {"wall_s": round(t, 4)}
    except ImportError:
        rows["librosa"] = "not installed"
    with tempfile.TemporaryDirectory() as d:
        for w, h in ((320, 240), (640, 360)):
            p = Path(d) / f"clip_{w}x{h}.mp4"
            make_clip(p, w, h)
            t, res = best(lambda p=p: run_to_completion(av_align_job(p, y, SR)), 2, label=f"av_align_10s_{w}x{h}_25fps")
            rows[f"av_align_10s_{w}x{h}_25fps"] = {"wall_s": round(t, 3), "frames": 250, "flow_frames_per_s": round(250 / t, 1), **{k: res[k] for k in ("av_align", "audio_onsets", "video_peaks")}}
    for k, c in CPU.items():
        if k in rows:
            rows[k]["cpu_s"] = round(c, 3)
    out = {
        "benchmark": "audio",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "numpy": np.__version__,
            "note": "shared 2-core machine; other jobs may have been running",
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "audio": source,
        "results": rows,
    }
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    (res_dir / "audio.json").write_text(json.dumps(out, indent=2) + "\n")
    print("| measure | wall s | notes |\n|---|---|---|")
    for k, v in rows.items():
        if isinstance(v, dict):
            notes = ", ".join(f"{a}={b}" for a, b in v.items() if a != "wall_s")
            print(f"| {k} | {v.get('wall_s')} | {notes} |")


if __name__ == "__main__":
    main()
