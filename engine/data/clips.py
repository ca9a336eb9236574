"""``v2a data clips``: paired audio-visual clips rendered from the sound library.

A clip is a soundtrack (the mix of placed library recordings) and a rendered video in which
each placed recording has a visible event whose contact frame is exactly the recording's
detected onset (``manifest.onset``): the sound is placed at ``event_time - onset``.
Splits follow the library: a clip of split S only uses recordings of split S, and clip
seeds are derived from (split, seed, index), so no two splits share a seed.

Output per clip: ``clips/<split>/<id>.mp4`` (H.264 + FLAC audio, lossless soundtrack) and
``<id>.json`` (parameters and the exact event list).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.audio.dsp import resample
from engine.data import clean
from engine.data.library import read_manifest, sound_path
from engine.data.render import (
    CLASS_COLOR,
    MATERIAL_COLOR,
    SceneStyle,
    VisualEvent,
    render_frame,
    world_canvas,
)
from engine.data.taxonomy import visual_kind
from engine.errors import V2AError
from engine.progress import CancelToken, Job, Progress
from engine.safe_write import atomic_output

RENDERER_VERSION = 2  # 1: first training batch (classes uniform, more sensor noise)
FPS_CHOICES = (8, 10, 12, 15, Fraction(24000, 1001), 24, 25, Fraction(30000, 1001), 30, 50, 60)
SIZE_CHOICES = ((160, 120), (256, 256), (320, 240), (426, 240), (640, 360), (854, 480), (1280, 720))
SR = clean.SAMPLE_RATE


@dataclass(frozen=True)
class ClipSpec:
    """What to render. ``None`` fields are drawn at random per clip."""

    duration: float | tuple[float, float] = (2.0, 30.0)
    fps: Fraction | int | tuple | None = None  # a rate, or a tuple of rates to draw from
    size: tuple[int, int] | tuple[tuple[int, int], ...] | None = None  # (w, h) or choices
    events_per_second: tuple[float, float] = (0.3, 1.6)
    max_classes: int = 3
    crf: int = 20
    nuisance: bool = True  # False: static camera, no noise/lighting/distractors


def clip_seed(split: str, seed: int, index: int) -> int:
    return int(hashlib.sha256(f"{split}:{seed}:{index}".encode()).hexdigest()[:8], 16)


def _pick_fps(rng: np.random.Generator, value) -> Fraction:
    """A fixed rate, or one drawn from a tuple of rates (default: 8-60 fps incl. NTSC)."""
    if value is None:
        value = FPS_CHOICES
    if isinstance(value, tuple | list):
        value = value[int(rng.integers(0, len(value)))]
    return Fraction(value)


class SoundBank:
    """Library rows of one split, grouped by class, with decoded audio cached in memory."""

    def __init__(self, manifest: Path, split: str, classes: list[str] | None = None) -> None:
        self.manifest = manifest
        rows = [r for r in read_manifest(manifest) if r["split"] == split]
        if classes:
            rows = [r for r in rows if r["class"] in classes]
        if not rows:
            raise V2AError(f"the sound library has no recordings in split {split!r}", manifest)
        self.by_class: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            self.by_class[r["class"]].append(r)
        self.classes = sorted(self.by_class)
        self._audio: dict[str, np.ndarray] = {}

    def audio(self, row: dict) -> np.ndarray:
        a = self._audio.get(row["id"])
        if a is None:
            a, sr = clean.load_mono(sound_path(self.manifest, row))
            if sr != SR:
                a = resample(a, sr, SR)
            self._audio[row["id"]] = a
        return a


def _event_times(rng: np.random.Generator, n: int, duration: float, fps: Fraction, cls: str) -> list[int]:
    """Frame indices of contacts for one class: a walking rhythm for steps, else random."""
    n_frames = max(1, math.floor(duration * fps))
    if cls in ("footstep", "hooves") and n >= 3 and rng.random() < 0.7:
        period = float(rng.uniform(0.3, 0.7))
        t0 = float(rng.uniform(0, max(0.01, duration - period * n)))
        frames = [int(round((t0 + i * period) * fps)) for i in range(n)]
    else:
        frames = sorted(int(f) for f in rng.integers(0, n_frames, n))
    return [f for f in frames if 0 <= f < n_frames]


def compose(
    bank: SoundBank, rng: np.random.Generator, duration: float, fps: Fraction,
    events_per_second: tuple[float, float] = (0.3, 1.6), max_classes: int = 3,
) -> tuple[list[dict], np.ndarray]:
    """Pick classes, recordings and contact frames; return (events, soundtrack)."""
    n_samples = int(round(duration * SR))
    n_frames = max(1, math.floor(duration * fps))
    n_cls = int(rng.integers(1, min(max_classes, len(bank.classes)) + 1))
    # Classes drawn with probability ~ sqrt(recordings): rare classes are seen often enough
    # without replaying their two or three recordings in every other clip.
    weights = np.sqrt([len(bank.by_class[c]) for c in bank.classes])
    classes = [str(c) for c in rng.choice(bank.classes, n_cls, replace=False, p=weights / weights.sum())]
    rate = float(rng.uniform(*events_per_second))
    total = max(1, int(rng.poisson(rate * duration)))
    total = min(total, 4 + int(2 * duration))
    # Silence: sometimes keep a stretch of the clip free of events.
    gap = None
    if duration > 4 and rng.random() < 0.3:
        g0 = float(rng.uniform(0, duration - 2))
        gap = (g0, g0 + float(rng.uniform(1.0, min(3.0, duration - g0))))
    shares = rng.multinomial(total, np.ones(n_cls) / n_cls)
    planned: list[tuple[int, str]] = []
    for cls, k in zip(classes, shares, strict=True):
        for f in _event_times(rng, int(k), duration, fps, cls):
            planned.append((f, cls))
    # Events at the very first and very last frame, sometimes.
    if rng.random() < 0.15:
        planned.append((0, classes[0]))
    if rng.random() < 0.15:
        planned.append((n_frames - 1, classes[-1]))
    if gap is not None:
        planned = [(f, c) for f, c in planned if not (gap[0] <= float(f / fps) < gap[1]) or f in (0, n_frames - 1)]
    if not planned:
        planned = [(int(rng.integers(0, n_frames)), classes[0])]
    planned.sort()
    mix = np.zeros(n_samples, np.float32)
    events = []
    for f, cls in planned:
        row = bank.by_class[cls][int(rng.integers(0, len(bank.by_class[cls])))]
        audio = bank.audio(row)
        t = float(Fraction(f) / fps)
        onset = float(row.get("onset", 0.0))
        start = t - onset
        s0 = int(round(start * SR))
        a = audio
        if s0 < 0:
            a = a[-s0:]
            s0 = 0
        a = a[: max(0, n_samples - s0)]
        gain_db = float(rng.uniform(-10.0, 0.0))
        mix[s0 : s0 + len(a)] += a * (10.0 ** (gain_db / 20.0))
        events.append(
            {
                "time": round(t, 6),
                "frame": int(f),
                "class": cls,
                "subclass": row["subclass"],
                "kind": visual_kind(cls),
                "sound_id": row["id"],
                "sound_path": row["path"],
                "onset": onset,
                "start": round(start, 6),
                "gain_db": round(gain_db, 2),
                "sound_duration": row["duration"],
                "description": row.get("description", ""),
            }
        )
    peak = float(np.max(np.abs(mix))) if n_samples else 0.0
    if peak > 0.98:
        scale = 0.98 / peak
        mix *= scale
        for e in events:
            e["gain_db"] = round(e["gain_db"] + 20 * math.log10(scale), 2)
    return events, mix


def _visual_events(events: list[dict], bank: SoundBank, rng: np.random.Generator, w: int, h: int) -> list[VisualEvent]:
    # Keep events inside the centre square so square centre-crops (the cache) still see them.
    half = 0.38 * min(1.0, h / w)
    out = []
    for i, e in enumerate(events):
        row = next(r for r in bank.by_class[e["class"]] if r["id"] == e["sound_id"])
        audio = bank.audio(row)
        tail = audio[int(e["onset"] * SR) :]
        env = clean.envelope(tail, SR, 100.0) if len(tail) else np.zeros(1, np.float32)
        mat = next((m for m in MATERIAL_COLOR if m in e["subclass"]), None)
        base = MATERIAL_COLOR[mat] if mat else CLASS_COLOR.get(e["class"], (180, 180, 180))
        color = tuple(int(np.clip(c + rng.normal(0, 12), 0, 255)) for c in base)
        x = float(rng.uniform(0.5 - half, 0.5 + half))
        if e["class"] in ("footstep", "hooves") and i > 0 and events[i - 1]["class"] == e["class"]:
            x = float(np.clip(out[-1].x + rng.uniform(0.04, 0.1), 0.5 - half, 0.5 + half))
        ve = VisualEvent(
            time=e["time"], cls=e["class"], subclass=e["subclass"], kind=e["kind"], env=env,
            x=x, y=float(rng.uniform(0.25, 0.6)), scale=float(rng.uniform(0.045, 0.11)), color=color,
            approach=float(rng.uniform(0.25, 0.6)), seed=int(rng.integers(0, 2**31)),
            extra={"shape": str(rng.choice(["circle", "rect", "tri"])), "drop": float(rng.uniform(0.25, 0.55))},
        )
        e.update({"x": round(ve.x, 4), "y": round(ve.y, 4), "scale": round(ve.scale, 4)})
        out.append(ve)
    return out


def write_video(path: Path, frames, fps: Fraction, w: int, h: int, crf: int = 20) -> None:
    """H.264 (yuv420p) video-only MP4, one frame per ``1/fps``."""
    import av

    with av.open(str(path), "w") as oc:
        st = oc.add_stream("libx264", rate=fps)
        st.width, st.height = w, h
        st.pix_fmt = "yuv420p"
        st.options = {"crf": str(crf), "preset": "ultrafast", "g": str(max(1, int(round(float(fps)))))}
        for i, rgb in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            vf.pts = i
            for pkt in st.encode(vf):
                oc.mux(pkt)
        for pkt in st.encode():
            oc.mux(pkt)


def render_clip(
    bank: SoundBank, out_dir: Path, clip_id: str, seed: int, spec: ClipSpec = ClipSpec(), split: str = "train"
) -> Path:
    """Render one clip (mp4 + json) and return the mp4 path."""
    from engine.media import mux

    rng = np.random.default_rng(seed)
    fps = _pick_fps(rng, spec.fps)
    size = spec.size if spec.size is not None else SIZE_CHOICES
    if isinstance(size[0], tuple):
        size = size[int(rng.integers(0, len(size)))]
    w, h = (int(size[0]) // 2) * 2, (int(size[1]) // 2) * 2
    if isinstance(spec.duration, tuple):
        duration = float(rng.uniform(*spec.duration))
    else:
        duration = float(spec.duration)
    n_frames = max(1, math.floor(duration * fps))
    duration = float(Fraction(n_frames) / fps)  # whole frames: audio and video end together
    events, mix = compose(bank, rng, duration, fps, spec.events_per_second, spec.max_classes)
    style = SceneStyle.random(rng, duration, nuisance=spec.nuisance)
    vis = _visual_events(events, bank, rng, w, h)
    bg = world_canvas(style, w, h)
    frames = (render_frame(float(Fraction(i) / fps), vis, style, bg, w, h, i) for i in range(n_frames))
    out_dir.mkdir(parents=True, exist_ok=True)
    mp4 = out_dir / f"{clip_id}.mp4"
    silent = out_dir / f".{clip_id}.video.mp4"
    try:
        write_video(silent, frames, fps, w, h, spec.crf)
        mux(silent, (mix, SR), mp4, codec="flac")
    finally:
        silent.unlink(missing_ok=True)
    meta = {
        "id": clip_id,
        "split": split,
        "seed": seed,
        "renderer_version": RENDERER_VERSION,
        "duration": duration,
        "fps": f"{fps.numerator}/{fps.denominator}",
        "fps_float": float(fps),
        "n_frames": n_frames,
        "width": w,
        "height": h,
        "sample_rate": SR,
        "audio_codec": "flac",
        "events": events,
        "classes": sorted({e["class"] for e in events}),
        "style": {
            "background": style.bg_kind, "pan": style.pan, "sway": style.sway, "shake": style.shake,
            "noise": style.noise, "light_drift": style.light_drift, "light_switches": list(style.light_switches),
            "distractors": len(style.distractors),
        },
    }
    with atomic_output(out_dir / f"{clip_id}.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return mp4


def make_clips(
    root: Path, count: int, split: str, seed: int = 0, spec: ClipSpec = ClipSpec(), start_index: int = 0,
    cancel: CancelToken | None = None,
) -> Job[list[Path]]:
    """Render ``count`` clips of ``split`` into ``root/clips/<split>`` (existing ones are kept)."""
    manifest = root / "sfx" / "manifest.jsonl"
    bank = SoundBank(manifest, split)
    out_dir = root / "clips" / split
    paths = []
    for i in range(start_index, start_index + count):
        if cancel is not None:
            cancel.check()
        yield Progress(f"rendering {split} clips", i - start_index, count)
        clip_id = f"{split}-s{seed}-{i:05d}"
        mp4 = out_dir / f"{clip_id}.mp4"
        if not (mp4.exists() and (out_dir / f"{clip_id}.json").exists()):
            render_clip(bank, out_dir, clip_id, clip_seed(split, seed, i), spec, split)
        paths.append(mp4)
    yield Progress(f"rendering {split} clips", count, count)
    return paths
