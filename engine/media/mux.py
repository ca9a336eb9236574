"""``mux``: put new audio beside a video whose video stream is copied packet for packet."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.errors import MediaError, OutputError
from engine.media._util import check_file, describe_av_error
from engine.media.audio import read_audio, resample
from engine.media.probe import probe
from engine.safe_write import WRITE_ERRNOS, atomic_output, check_output_path

MODES = ("replace", "add", "mix")

# Audio codecs each output container takes; the first is the default.
_CONTAINER_CODECS: dict[str, tuple[str, ...]] = {
    ".mp4": ("aac", "flac", "opus", "alac"),
    ".m4v": ("aac", "flac", "opus", "alac"),
    ".mov": ("aac", "pcm", "alac"),
    ".mkv": ("aac", "flac", "pcm", "opus"),
    ".webm": ("opus",),
}
CONTAINERS = tuple(_CONTAINER_CODECS)
_CODEC_NAMES = {"pcm": "pcm_s16le", "opus": "libopus"}
_OPUS_RATES = (48000, 24000, 16000, 12000, 8000)


def _codec_for(out: Path, codec: str | None) -> str:
    allowed = _CONTAINER_CODECS.get(out.suffix.lower())
    if allowed is None:
        raise OutputError(
            f"unsupported output container {out.suffix or '(none)'} "
            f"(use {', '.join(_CONTAINER_CODECS)})",
            out,
        )
    c = (codec or allowed[0]).lower()
    if c.startswith("pcm"):
        c = "pcm"
    if c not in allowed:
        raise OutputError(
            f"{out.suffix} cannot hold {c} audio (allowed: {', '.join(allowed)})", out
        )
    return c


def _fit_channels(a: np.ndarray, ch: int) -> np.ndarray:
    a = a[:, None] if a.ndim == 1 else a
    if a.shape[1] == ch:
        return a
    if ch == 1:
        return a.mean(axis=1, keepdims=True)
    if a.shape[1] == 1:
        return np.repeat(a, ch, axis=1)
    return a[:, :ch]


def _load_new_audio(audio, sample_rate: int | None) -> tuple[np.ndarray, int]:
    if isinstance(audio, str | Path):
        a, sr = read_audio(audio, sample_rate=sample_rate, mono=False)
    else:
        a, sr = audio
        a = np.asarray(a, dtype=np.float32)
        if a.ndim == 2 and a.shape[0] <= 8 < a.shape[1]:
            a = a.T  # accept [ch, n] too
        if sample_rate and sample_rate != sr:
            a = resample(a, int(sr), int(sample_rate))
            sr = int(sample_rate)
    a = a[:, None] if a.ndim == 1 else a
    if a.ndim != 2 or a.shape[1] < 1 or a.shape[1] > 8:
        raise MediaError(f"audio must be [n] or [n, channels<=8], got shape {a.shape}")
    return np.nan_to_num(a).astype(np.float32), int(sr)


def _encoded_packets(out_stream, audio: np.ndarray, sr: int, start_pts: int) -> Iterator[av.Packet]:
    """Encode ``audio`` [n, ch] in encoder-sized frames; pts in 1/sr from ``start_pts``."""
    cc = out_stream.codec_context
    fmt = cc.format.name
    planar = cc.format.is_planar
    layout = cc.layout.name
    frame_size = cc.frame_size or 1024
    n = len(audio)
    for i in range(0, n, frame_size):
        chunk = audio[i : i + frame_size]
        if fmt.startswith("s16"):
            chunk = np.clip(np.round(chunk * 32767.0), -32768, 32767).astype(np.int16)
        elif fmt.startswith("s32"):
            chunk = np.clip(np.round(chunk * 2147483647.0), -2147483648, 2147483647).astype(
                np.int32
            )
        else:
            chunk = chunk.astype(np.float32)
        arr = np.ascontiguousarray(chunk.T if planar else chunk.reshape(1, -1))
        frame = av.AudioFrame.from_ndarray(arr, format=fmt, layout=layout)
        frame.sample_rate = sr
        frame.pts = start_pts + i
        frame.time_base = Fraction(1, sr)
        yield from out_stream.encode(frame)
    yield from out_stream.encode(None)


def _add_audio_stream(oc, codec: str, sr: int, channels: int):
    name = _CODEC_NAMES.get(codec, codec)
    layout = {1: "mono", 2: "stereo", 6: "5.1"}.get(channels, "stereo")
    s = oc.add_stream(name, rate=sr, layout=layout)
    if codec == "aac":
        s.codec_context.bit_rate = 96000 * min(2, channels)
    s.time_base = Fraction(1, sr)
    return s


def mux(
    video: str | Path,
    audio,
    out: str | Path,
    mode: str = "replace",
    sample_rate: int | None = None,
    codec: str | None = None,
) -> Path:
    """Write ``out`` = the video stream of ``video`` (copied bit-exact) + new audio.

    ``audio`` is a path or ``(array, sr)``. The new audio is trimmed or padded to the video
    duration and starts at the video's first frame. ``mode``: ``replace`` drops the original
    audio, ``add`` keeps it as extra streams (copied), ``mix`` mixes it into the new track.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    vpath = check_file(video)
    out_p = Path(out)
    inputs = [vpath] + ([Path(audio)] if isinstance(audio, str | Path) else [])
    acodec = _codec_for(out_p, codec)
    check_output_path(out_p, inputs)  # a read-only folder before decoding anything
    info = probe(vpath)
    if info.video is None:
        raise MediaError("no video stream to put the audio under", vpath)
    v = info.video
    new, sr = _load_new_audio(audio, sample_rate)
    if acodec == "opus" and sr not in _OPUS_RATES:
        new, sr = resample(new, sr, 48000), 48000
    n_target = int(round(v.duration * sr))
    if len(new) >= n_target:
        new = new[:n_target]
    else:
        new = np.concatenate([new, np.zeros((n_target - len(new), new.shape[1]), np.float32)])
    if mode == "mix":
        if info.audio:
            orig, _ = read_audio(vpath, sample_rate=sr, mono=False)
            orig = _fit_channels(orig, new.shape[1])[:n_target]
            new[: len(orig)] += orig
        peak = float(np.max(np.abs(new))) if new.size else 0.0
        if peak > 1.0:  # keep the mix from clipping
            new /= peak
    new = np.clip(new, -1.0, 1.0)

    with atomic_output(out_p, inputs) as tmp:
        try:
            _write(vpath, tmp, new, sr, acodec, mode, v)
        except av.FFmpegError as exc:
            if exc.errno in WRITE_ERRNOS:
                raise  # a full disk: atomic_output says so in one line
            msg = describe_av_error(exc)
            raise OutputError(
                f"cannot write {out_p.suffix} with {v.codec} video: {msg}", out_p
            ) from exc
    return out_p


def _write(vpath: Path, tmp: Path, new: np.ndarray, sr: int, acodec: str, mode: str, v) -> None:
    fmt = {".m4v": "mp4", ".mkv": "matroska"}.get(tmp.suffix.lower())
    with (
        av.open(str(vpath), metadata_errors="ignore") as ic,
        av.open(str(tmp), "w", format=fmt) as oc,
    ):
        ivs = ic.streams.video[0]
        ovs = oc.add_stream_from_template(ivs)
        keep = list(ic.streams.audio) if mode == "add" else []
        okeep = {s.index: oc.add_stream_from_template(s) for s in keep}
        oas = _add_audio_stream(oc, acodec, sr, new.shape[1])
        # the new audio starts at the first video frame, in its own 1/sr time base
        start_pts = int(round(v.start_time * sr))
        apackets = _encoded_packets(oas, new, sr, start_pts)
        pending: av.Packet | None = None

        def audio_until(t: float | None) -> None:
            """Write encoded audio up to time ``t`` (all of it when None) for interleaving."""
            nonlocal pending
            while True:
                if pending is None:
                    pending = next(apackets, None)
                    if pending is None:
                        return
                ts = pending.dts if pending.dts is not None else pending.pts
                if t is not None and ts is not None and float(ts * pending.time_base) > t:
                    return
                pending.stream = oas
                oc.mux(pending)
                pending = None

        for packet in ic.demux(ivs, *keep):
            if packet.size == 0 and packet.dts is None:
                continue  # demuxer flush marker
            if packet.stream.index == ivs.index:
                if packet.dts is not None:
                    audio_until(float(packet.dts * packet.time_base))
                packet.stream = ovs
            else:
                packet.stream = okeep[packet.stream.index]
            oc.mux(packet)
        audio_until(None)
