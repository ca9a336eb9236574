"""Clip features for a pack: decoded once, cached on disk by content hash.

Frames are decoded by timestamp at the pack's frame rate (``engine.media``), the motion
stream runs on every frame, the ViT on every ``semantic_stride``-th frame. The cache key is
a hash of the file's content (size + head + tail + middle samples, so a 2 GB file is not read
whole) plus the pack's visual weights and feature settings; a regenerate with the same clip
and pack skips decoding and the ViT entirely.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.models import module_device
from engine.models.visual import motion_features, motion_frames_carry
from engine.progress import CancelToken, Job, Progress
from engine.timebase import frame_count

_SAMPLE = 4 << 20


@dataclass
class ClipFeatures:
    duration: float  # seconds of the video stream
    frame_rate: float  # motion / layout-predictor rate
    motion: np.ndarray  # [N, motion_dim] at frame_rate
    sem_rate: float  # ViT rate
    cls: np.ndarray  # [Ns, cls_dim]
    patch: np.ndarray  # [Ns, patch_dim]
    frames: np.ndarray | None = None  # uint8 [N, 2, S, S] motion frames, for a T with a frame stream
    color: np.ndarray | None = None  # [Ns, bins] motion-colour histograms, for an S that reads them

    def semantic(self) -> np.ndarray:
        """S's per-frame input at the ViT rate: the CLS features (+ the motion-colour histogram)."""
        return self.cls if self.color is None else np.concatenate([self.cls, self.color], 1)

    def at_frame_rate(self) -> tuple[np.ndarray, np.ndarray]:
        """cls and patch repeated to the frame rate (nearest earlier ViT frame)."""
        n = self.motion.shape[0]
        idx = np.minimum((np.arange(n) * self.sem_rate / self.frame_rate + 1e-6).astype(int), self.cls.shape[0] - 1)
        return self.cls[idx], self.patch[idx]


#: A still picture gets a silent layout. A frame "moves" when its mean absolute grey difference
#: to the previous 64 px frame (motion_features' overall column) is at least 0.15/255; a column
#: is still when, within +-0.2 s, at most one frame or two adjacent frames move. The exception is
#: the codec: it re-encodes a still image at each keyframe, a spike of one or two frames (mpeg4:
#: ~1/255 then ~0.4/255, every 12 frames). Counting instead of averaging keeps slow or
#: low-frame-rate motion (12 fps decoded at 25 repeats every other frame; 5 fps moves on 2-3
#: separate frames per window). The bundled sample's slowest passage moves 0.2-0.3/255 a frame
#: and real clips (bikes, carphone, city) more, so none of their columns is gated.
STILL_DIFF = 0.15 / 255
STILL_WINDOW_S = 0.2


def still_mask(feats: ClipFeatures) -> np.ndarray:
    """bool [N] at the frame rate: True where the picture does not move (``STILL_DIFF``)."""
    n = feats.motion.shape[0]
    if n == 0:
        return np.zeros(0, bool)
    diff = np.expm1(feats.motion[:, -1].astype(np.float64)) / 20.0  # undo log1p(20 x)
    r = max(1, int(round(STILL_WINDOW_S * feats.frame_rate)))
    moves = np.pad((diff >= STILL_DIFF).astype(np.int64), r)  # beyond the ends nothing moves
    box = np.ones(2 * r + 1, np.int64)
    count = np.convolve(moves, box, mode="valid")
    pairs = np.convolve(moves[:-1] * moves[1:], box[:-1], mode="valid")  # adjacent moving pairs
    return (count <= 1) | ((count == 2) & (pairs[: len(count)] >= 1))


def content_hash(path: str | Path) -> str:
    """sha256 of size + first/last 4 MiB + 16 samples from the middle (fast for big files)."""
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(p, "rb") as f:
        if size <= 3 * _SAMPLE:
            h.update(f.read())
        else:
            h.update(f.read(_SAMPLE))
            for k in range(1, 17):
                f.seek(size * k // 17)
                h.update(f.read(65536))
            f.seek(size - _SAMPLE)
            h.update(f.read(_SAMPLE))
    return h.hexdigest()


#: The ViT's batch (frames per call) and the frames decoded and encoded at once: CHUNK_BATCHES
#: ViT batches of ``semantic_stride`` frames (starter pack: 640 frames, 25.6 s). Whole batches
#: per chunk keep the ViT's calls, and so its numbers, those of a one-shot run; the motion
#: streams carry their state across chunks. Decoding a whole 10-minute clip at once peaked at
#: 3.3 GB (float copies of every frame); in chunks memory stays flat (benchmarks/bench_long.py).
VIT_BATCH = 128
CHUNK_BATCHES = 5


def encode_frames(
    frames: np.ndarray, visual: torch.nn.Module, stride: int, motion_grid: int, chunk: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 [N, H, W, 3] at the frame rate -> (motion [N, m], cls [Ns, c], patch [Ns, p])."""
    motion = motion_features(frames, motion_grid)
    cls, patch = _vit(frames[::stride], visual, chunk or VIT_BATCH)
    return motion, cls, patch


def _vit(sem_frames: np.ndarray, visual: torch.nn.Module, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    cls_l, patch_l = [], []
    dev = module_device(visual)  # frames go to the ViT's device, features come back
    with torch.no_grad():
        for a in range(0, len(sem_frames), chunk):
            c, p = visual(torch.from_numpy(np.ascontiguousarray(sem_frames[a : a + chunk])).to(dev))
            cls_l.append(c.float().cpu().numpy())
            patch_l.append(p.float().cpu().numpy())
    return np.concatenate(cls_l), np.concatenate(patch_l)


class _FeatureStream:
    """``pack``'s features fed chunk by chunk (each a multiple of the chunk size but the last);
    the previous chunk's last frame and the motion streams' carries join chunk borders."""

    def __init__(self, pack) -> None:
        feat = pack.config.features
        self.fr, self.stride = float(feat.frame_rate), int(feat.semantic_stride)
        self.visual, self.T = pack.net("visual"), pack.net("layout")
        self.grid = int(self.visual.config["motion_grid"])
        self.uses_frames = getattr(self.T, "uses_frames", False)
        self.levels = pack.net("cond").color_levels
        self.prev: np.ndarray | None = None  # [1, H, W, 3]: the last frame of the previous chunk
        self.mcarry = self.ccarry = None
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in ("motion", "cls", "patch", "frames", "color")}

    def add(self, chunk: np.ndarray) -> None:
        first = self.prev is None
        ext = chunk if first else np.concatenate([self.prev, chunk])
        skip = 0 if first else 1  # the previous chunk's frame only gives the differences
        self.parts["motion"].append(motion_features(ext, self.grid)[skip:])
        cls, patch = _vit(chunk[:: self.stride], self.visual, VIT_BATCH)
        self.parts["cls"].append(cls)
        self.parts["patch"].append(patch)
        if self.uses_frames:
            size = int(self.T.config["frame_size"])
            mf, self.mcarry = motion_frames_carry(ext, size, self.T.frame_color, self.mcarry)
            self.parts["frames"].append(mf[skip:])
        if self.levels:
            # not shipped: engine.experimental.motion_colour
            from engine.experimental.motion_colour import motion_color_histogram_carry

            h, self.ccarry = motion_color_histogram_carry(ext, self.levels, self.stride, carry=self.ccarry)
            self.parts["color"].append(h)
        self.prev = chunk[-1:].copy()

    def result(self, duration: float) -> ClipFeatures:
        cat = {k: np.concatenate(v) if v else None for k, v in self.parts.items()}
        return ClipFeatures(duration, self.fr, cat["motion"], self.fr / self.stride, cat["cls"], cat["patch"],
                            cat["frames"], cat["color"])


def chunk_frames(pack) -> int:
    """Frames per chunk for ``pack``: whole ViT batches (see ``CHUNK_BATCHES``)."""
    return VIT_BATCH * int(pack.config.features.semantic_stride) * CHUNK_BATCHES


def features_from_frames(frames: np.ndarray, duration: float, pack) -> ClipFeatures:
    """``pack``'s features of decoded frames (uint8 [N, S, S, 3] at its frame rate): the motion
    stream, the ViT on every ``semantic_stride``-th frame, T's motion frames and S's
    motion-colour histograms where the pack's networks take them."""
    stream, step = _FeatureStream(pack), chunk_frames(pack)
    for a in range(0, max(1, len(frames)), step):
        stream.add(frames[a : a + step])
    return stream.result(duration)


#: Part of every cache key: bumped when decoding changes what a clip's features are (v2: AVI
#: with B-frames decoded in display order, session 14), so stale caches are not reused.
FEATURES_VERSION = "v2/"


def clip_features(
    video_path: str | Path,
    pack,
    cache_dir: str | Path | None = None,
    cancel: CancelToken | None = None,
) -> Job[ClipFeatures]:
    """Features of one clip for ``pack`` (an engine.engines.diffusion.Pack), cached by content hash."""
    from engine.media import probe, read_frames

    feat = dataclasses.asdict(pack.config.features)
    fr = float(feat["frame_rate"])
    stride = int(feat["semantic_stride"])
    size = int(feat["image_size"])
    T = pack.net("layout")
    frame_size = int(T.config["frame_size"]) if getattr(T, "uses_frames", False) else 0
    levels = pack.net("cond").color_levels
    key = hashlib.sha256(
        (FEATURES_VERSION + content_hash(video_path) + pack.visual_id + json.dumps(feat, sort_keys=True) + f"/frames{frame_size}"
         + ("/color" if frame_size and T.frame_color else "") + (f"/mcolor{levels}" if levels else "")).encode()
    ).hexdigest()[:32]
    cache = None
    if cache_dir is not False:
        from engine.paths import features_cache_dir

        cache = Path(cache_dir) if cache_dir else features_cache_dir()
        hit = cache / f"{key}.npz"
        if hit.is_file():
            try:
                with np.load(hit, allow_pickle=False) as z:
                    out = ClipFeatures(
                        float(z["duration"]), fr, z["motion"], fr / stride, z["cls"], z["patch"],
                        z["frames"] if frame_size else None, z["color"] if levels else None,
                    )
                yield Progress("features", 1, 1)
                return out
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
                # A truncated or damaged entry (a crash mid-write on another tool, a full disk)
                # is a miss: drop it and rebuild, so later runs do not trip over it again.
                try:
                    hit.unlink(missing_ok=True)
                except OSError:
                    pass  # a read-only cache: rebuilt in memory each time
    info = probe(video_path)
    if info.video is None:  # probe accepts audio-only files; features need pictures
        from engine.errors import MediaError

        raise MediaError("has no video stream (an audio-only file); give a video clip", video_path)
    duration = float(info.video.duration)
    yield Progress("decoding", 0, 1)
    n = max(1, frame_count(duration, fr))
    # Decoded and encoded a chunk at a time: only the per-frame feature rows are kept.
    stream, step = _FeatureStream(pack), chunk_frames(pack)
    buf = np.zeros((step, size, size, 3), np.uint8)
    k = got = 0
    last = None
    frames = read_frames(video_path, fr, size=(size, size), crop=False, info=info)
    try:
        while got < n:
            rgb = next(frames, None)
            if rgb is None:
                if last is None:
                    from engine.errors import MediaError

                    raise MediaError("no video frame could be decoded", video_path)
                buf[k] = last  # the last frame stays on screen
            else:
                buf[k] = last = rgb[1]
            k += 1
            got += 1
            if k == step or got == n:
                stream.add(buf[:k])
                k = 0
                if cancel is not None:
                    cancel.check()
                yield Progress("decoding", got, n)
    finally:
        frames.close()  # the container closes now, not at garbage collection
    yield Progress("features", 0, 1)
    out = stream.result(duration)
    if cache is not None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = cache / f".{key}.tmp.npz"
            extra = {"frames": out.frames} if out.frames is not None else {}
            if out.color is not None:
                extra["color"] = out.color
            np.savez(tmp, duration=np.float64(duration), motion=out.motion, cls=out.cls, patch=out.patch, **extra)
            tmp.replace(cache / f"{key}.npz")
        except OSError:
            pass  # a read-only cache only costs speed
    yield Progress("features", 1, 1)
    return out
