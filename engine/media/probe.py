"""``probe(path) -> MediaInfo``: streams, exact rates, start times, rotation, VFR flag."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.errors import MediaError
from engine.media._util import MAX_DIM, MAX_FPS, describe_av_error, open_input
from engine.types import AudioStreamInfo, MediaInfo, VideoStreamInfo

VFR_SAMPLE_PACKETS = 300
END_SLACK_S = 0.5  # data may end this much before the stated duration (encoder padding)
COUNT_PACKETS_MAX_BYTES = 256 * 1024 * 1024  # above this, estimate frames from duration * fps
# FFmpeg "decodes" any text file as ANSI art; that is never a clip a user meant.
_NOT_MEDIA_FORMATS = {"tty"}  # packets whose pts deltas decide the variable-rate flag


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _rotation_cw(stream: av.video.stream.VideoStream, first_frame: av.VideoFrame | None) -> int:
    """Clockwise degrees to turn the stored picture for display.

    The display matrix (read through the first decoded frame) wins; the legacy ``rotate``
    tag is the fallback. FFmpeg reports the matrix angle counter-clockwise.
    """
    if first_frame is not None:
        try:
            ccw = float(first_frame.rotation)
        except (AttributeError, TypeError, ValueError):
            ccw = 0.0
        if ccw:
            return int(round(-ccw / 90.0)) * 90 % 360
    tag = stream.metadata.get("rotate")
    if tag:
        try:
            return int(round(float(tag) / 90.0)) * 90 % 360
        except ValueError:
            pass
    return 0


def _scan_packets(container, stream, count_all: bool) -> tuple[list[int], int]:
    """From the start of the file: pts of the first packets (for the VFR flag) and, when
    ``count_all``, the exact number of video packets (demux only, no decoding)."""
    pts: list[int] = []
    n = 0
    try:
        for packet in container.demux(stream):
            if not packet.size:
                continue
            n += 1
            if packet.pts is not None and len(pts) < VFR_SAMPLE_PACKETS:
                pts.append(int(packet.pts))
            if not count_all and len(pts) >= VFR_SAMPLE_PACKETS:
                break
    except av.EOFError:
        pass  # an empty stream is reported by the caller
    except av.FFmpegError:
        if not pts:
            raise
        n = 0  # damaged further on: the truncation check reports it
    return pts, (n if count_all else 0)


def is_variable_rate(pts: list[int]) -> bool:
    """True when presentation-time steps differ by more than rounding (pts sorted first)."""
    if len(pts) < 3:
        return False
    deltas = np.diff(np.unique(np.asarray(pts, dtype=np.int64)))
    if len(deltas) < 2:
        return False
    med = float(np.median(deltas))
    # one tick of slack for rates that do not divide the time base (23.976 in 1/1000 ...)
    tol = max(1.0, 0.1 * med)
    return bool(np.any(np.abs(deltas - med) > tol))


def _check_truncated(container, stream, path: Path, duration: float, start: float) -> float | None:
    """Demux the last second of the video stream: a file cut short ends early or errors.

    Returns the end time (seconds, absolute) of the last video packet, when known."""
    tb = stream.time_base
    entries = None
    try:
        entries = stream.index_entries
    except Exception:  # noqa: BLE001 - older PyAV: no index access, rely on the seek test
        entries = None
    size = path.stat().st_size
    if entries:
        last = entries[len(entries) - 1]
        if last.pos >= 0 and last.pos + last.size > size:
            raise MediaError(
                f"truncated file: the index needs {last.pos + last.size} bytes, file has {size}",
                path,
            )
    if tb is None:
        return None
    target = start + max(0.0, duration - 1.0)
    try:
        container.seek(int(target / tb), stream=stream, backward=True, any_frame=False)
        last_end = None
        for packet in container.demux(stream):
            if packet.pts is None or not packet.size:
                continue
            end = float((packet.pts + (packet.duration or 0)) * tb)
            last_end = end if last_end is None else max(last_end, end)
    except av.FFmpegError as exc:
        raise MediaError(describe_av_error(exc, path), path) from exc
    if last_end is None:
        raise MediaError("truncated file: no video data near the stated end", path)
    return last_end


def _check_ends_as_stated(container, path: Path, c_start: float, c_dur: float) -> None:
    """A file cut short still carries its header's duration (Matroska, MP4): demux the last
    seconds of every stream; if nothing reaches near the stated end, the tail is missing."""
    if c_dur <= 1.0:
        return
    # FFmpeg's container duration counts from the start time for some formats and from 0 for
    # others (Matroska): take the earlier end, so only a clearly missing tail is flagged
    stated_end = c_dur if c_start > 0 else c_start + c_dur
    try:
        # never before the start: AVI's demuxer refuses a negative target (EPERM) on 1-2 s clips
        target = max(c_start, stated_end - 2.0)
        container.seek(int(target * av.time_base), backward=True, any_frame=False)
        last = None
        for packet in container.demux():
            if packet.pts is None or not packet.size or packet.time_base is None:
                continue
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            last = end if last is None else max(last, end)
    except av.FFmpegError as exc:
        raise MediaError(describe_av_error(exc, path), path) from exc
    if last is None or last < stated_end - END_SLACK_S:
        got = "no data near the end" if last is None else f"data only up to {last:.2f} s"
        raise MediaError(f"truncated file: {got}, but it says it lasts {c_dur:.2f} s", path)


def probe(path: str | Path) -> MediaInfo:
    """Describe a media file. Raises ``MediaError`` naming the file and the problem."""
    p = Path(path)
    with open_input(p) as container:
        fmt = container.format.name
        if fmt in _NOT_MEDIA_FORMATS:
            raise MediaError("not a media file (looks like text)", p)
        c_dur = _seconds(container.duration, Fraction(1, av.time_base)) or 0.0
        c_start = _seconds(container.start_time, Fraction(1, av.time_base)) or 0.0
        video_info = None
        if container.streams.video and (fmt.endswith("_pipe") or fmt == "image2"):
            raise MediaError("a still image, not a video", p)
        if container.streams.video:
            video_info = _probe_video(container, container.streams.video[0], p, c_dur, c_start)
        audio_infos = []
        for a in container.streams.audio:
            cc = a.codec_context
            if cc is None or not cc.sample_rate:  # None: a codec FFmpeg has no decoder for
                continue
            audio_infos.append(
                AudioStreamInfo(
                    index=a.index,
                    codec=cc.name,
                    sample_rate=int(cc.sample_rate),
                    channels=int(cc.channels),
                    layout=cc.layout.name if cc.layout is not None else "",
                    duration=_seconds(a.duration, a.time_base) or c_dur,
                    start_time=_seconds(a.start_time, a.time_base) or 0.0,
                )
            )
        if video_info is None and not audio_infos:
            raise MediaError("not a media file (no audio or video stream)", p)
        _check_ends_as_stated(container, p, c_start, c_dur)
        duration = c_dur or (video_info.duration if video_info else 0.0)
        if duration <= 0 and video_info is not None:
            raise MediaError("zero-length video (duration 0)", p)
        return MediaInfo(
            path=str(p),
            container=fmt,
            duration=duration,
            start_time=c_start,
            video=video_info,
            audio=tuple(audio_infos),
        )


def _probe_video(container, s, p: Path, c_dur: float, c_start: float) -> VideoStreamInfo:
    cc = s.codec_context
    if cc is None:  # a codec id FFmpeg has no decoder for (a damaged header, an exotic codec)
        raise MediaError("video stream of an unknown codec (no decoder for it)", p)
    width, height = int(cc.width or 0), int(cc.height or 0)
    if width <= 0 or height <= 0:
        raise MediaError(f"video stream has no picture size ({width}x{height})", p)
    if width > MAX_DIM or height > MAX_DIM:
        raise MediaError(f"absurd picture size {width}x{height} (limit {MAX_DIM})", p)
    fps = s.average_rate or s.guessed_rate or s.base_rate
    fps = Fraction(fps) if fps else None
    start = _seconds(s.start_time, s.time_base)
    if start is None:
        start = c_start
    duration = _seconds(s.duration, s.time_base)
    known_duration = bool(duration)
    if not duration:
        duration = max(0.0, c_dur - (start - c_start))
    count_all = not s.frames and p.stat().st_size <= COUNT_PACKETS_MAX_BYTES
    pts, counted = _scan_packets(container, s, count_all)
    if not pts:
        raise MediaError("video stream has no frames (zero length or damaged)", p)
    if fps is None and len(pts) > 1:
        span = (max(pts) - min(pts)) * s.time_base
        fps = Fraction(len(set(pts)) - 1) / span if span else None
    if fps is None or fps <= 0 or fps > MAX_FPS:
        raise MediaError(f"absurd or unknown frame rate {fps}", p)
    vfr = is_variable_rate(pts)
    first_frame = None
    try:
        container.seek(0, stream=s) if s.start_time is None else container.seek(
            s.start_time, stream=s
        )
        for frame in container.decode(s):
            first_frame = frame
            break
    except av.FFmpegError as exc:
        raise MediaError(describe_av_error(exc, p), p) from exc
    if first_frame is None:
        raise MediaError("no video frame can be decoded", p)
    rotation = _rotation_cw(s, first_frame)
    last_end = _check_truncated(container, s, p, duration, start)
    if not known_duration and last_end is not None and last_end > start:
        # containers without a per-stream duration (mkv, ps): the last packet tells it
        duration = last_end - start
    if duration <= 0:
        raise MediaError("zero-length video (duration 0)", p)
    frames = int(s.frames or 0) or counted
    if frames <= 0:
        frames = max(1, int(round(duration * fps)))
    sar = s.sample_aspect_ratio or cc.sample_aspect_ratio
    return VideoStreamInfo(
        index=s.index,
        codec=cc.name,
        width=width,
        height=height,
        rotation=rotation,
        fps=fps,
        frame_count=frames,
        variable_rate=vfr,
        duration=duration,
        start_time=start,
        pixel_aspect=Fraction(sar) if sar else Fraction(1),
    )
