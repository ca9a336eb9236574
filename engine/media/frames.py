"""Video frames by presentation timestamp: ``read_frames``, ``read_frames_array``, ``VideoReader``.

Output frame k is the source frame *shown* at time ``start + k / fps`` (seconds from the video
stream's first timestamp): the latest frame whose pts is not after that time. This works for any
source rate, variable rate and non-zero start times, and never stretches indices, so a clip of
``d`` seconds always gives ``ceil(d * fps)`` frames.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.errors import MediaError, MediaWarning
from engine.media._util import decode_skipping, describe_av_error, open_input
from engine.media.probe import probe
from engine.timebase import Rate, as_fraction
from engine.types import MediaInfo, VideoStreamInfo

Size = int | tuple[int, int] | None
_EPS = 1e-6  # seconds; float slack when comparing a frame's pts with a target time


def _target_geometry(
    info: VideoStreamInfo, size: Size, crop: bool
) -> tuple[int, int, tuple[int, int] | None]:
    """(scaled display width, height, final (w, h) crop or None) for a requested size."""
    dw, dh = info.display_size
    if info.pixel_aspect and info.pixel_aspect != 1:
        # square pixels on output: stretch the display width by the pixel aspect
        if info.rotation % 180 == 0:
            dw = max(1, int(round(dw * float(info.pixel_aspect))))
        else:
            dh = max(1, int(round(dh * float(info.pixel_aspect))))
    if size is None:
        return dw, dh, None
    if isinstance(size, int):
        tw, th = size, size  # square (INTERFACES.md): cropped when ``crop``, else stretched
    else:
        tw, th = int(size[0]), int(size[1])
    if tw <= 0 or th <= 0:
        raise ValueError(f"bad frame size {size!r}")
    if not crop:
        return tw, th, None
    scale = max(tw / dw, th / dh)
    sw, sh = max(tw, math.ceil(dw * scale - 1e-9)), max(th, math.ceil(dh * scale - 1e-9))
    return sw, sh, (tw, th)


class _Converter:
    """Frame -> RGB uint8 at the requested geometry, rotation applied."""

    def __init__(self, info: VideoStreamInfo, size: Size, crop: bool) -> None:
        self.rotation = info.rotation % 360
        sw, sh, self.crop = _target_geometry(info, size, crop)
        # reformat works in the stored orientation: swap for quarter turns
        if self.rotation % 180 == 90:
            sw, sh = sh, sw
        self.width, self.height = sw, sh
        self.native = (sw, sh) == (info.width, info.height)

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        if self.native:
            rgb = frame.to_ndarray(format="rgb24")
        else:
            rgb = frame.reformat(
                width=self.width, height=self.height, format="rgb24", interpolation="AREA"
            ).to_ndarray()
        if self.rotation:
            rgb = np.rot90(rgb, k=-(self.rotation // 90))
        if self.crop is not None:
            tw, th = self.crop
            h, w = rgb.shape[:2]
            y0, x0 = (h - th) // 2, (w - tw) // 2
            rgb = rgb[y0 : y0 + th, x0 : x0 + tw]
        return np.ascontiguousarray(rgb)


def _frame_time(
    frame: av.VideoFrame, stream, origin: float, prev: float | None, step: float
) -> float:
    if frame.pts is not None and stream.time_base is not None:
        return float(frame.pts * stream.time_base) - origin
    if frame.time is not None:
        return float(frame.time) - origin
    return 0.0 if prev is None else prev + step


#: Frames held back to restore presentation timestamps in AVI (see ``_presentation_times``):
#: more than any B-frame pyramid reorders (x264's deepest is 3-4 frames).
REORDER_DEPTH = 8


def _presentation_times(frames: Iterator[av.VideoFrame], container) -> Iterator[av.VideoFrame]:
    """AVI stores no presentation times: with B-frames the decoder hands frames out in display
    order but stamped with their *decode* order's timestamps (0.04, 0.16, 0.12, ...). The
    stamps are a local permutation of the display times, so each frame gets the smallest stamp
    still pending once ``REORDER_DEPTH`` frames are in hand. Other containers pass through."""
    if "avi" not in (container.format.name or "").split(","):
        yield from frames
        return
    import heapq
    from collections import deque

    held: deque[av.VideoFrame] = deque()
    stamps: list[int] = []
    for frame in frames:
        if frame.pts is None:  # nothing to reorder by: keep the decoder's order
            while held:
                out = held.popleft()
                out.pts = heapq.heappop(stamps)
                yield out
            yield frame
            continue
        held.append(frame)
        heapq.heappush(stamps, int(frame.pts))
        if len(held) > REORDER_DEPTH:
            out = held.popleft()
            out.pts = heapq.heappop(stamps)
            yield out
    while held:
        out = held.popleft()
        out.pts = heapq.heappop(stamps)
        yield out


def _decode_from(
    container,
    stream,
    origin: float,
    t: float,
    step: float,
    on_skip: Callable[[av.Packet, av.FFmpegError], None],
) -> Iterator[av.VideoFrame]:
    """Decoded frames starting at or before ``t`` (seconds from the video start).

    Seeks to the keyframe before ``t``; demuxers with coarse seeking (MPEG-PS, some TS) can
    land after it, so back off further until the first frame is not later than ``t``.
    """
    import itertools

    backoff = 0.0
    while True:
        seek_t = max(0.0, t - backoff)
        if seek_t <= 0.0:
            # the very start: aim a second before the first timestamp (coarse demuxers land
            # on the first keyframe *after* an exact target)
            ts = int(stream.start_time or 0) - int(round(1 / stream.time_base))
            try:
                container.seek(ts, stream=stream, backward=True, any_frame=False)
            except av.FFmpegError:
                # AVI refuses a target before its first timestamp (EPERM): seek to that one
                container.seek(
                    int(stream.start_time or 0), stream=stream, backward=True, any_frame=False
                )
        else:
            ts = int(round((origin + seek_t) / stream.time_base))
            container.seek(ts, stream=stream, backward=True, any_frame=False)
        frames = _presentation_times(decode_skipping(container, stream, on_skip), container)
        first = next(frames, None)
        if first is None:
            if seek_t <= 0.0:
                return iter(())
            # landed past the last decodable frame (non-keyframe near the end): back off
        elif seek_t <= 0.0 or _frame_time(first, stream, origin, None, step) <= t + _EPS:
            return itertools.chain([first], frames)
        backoff = max(1.0, 2 * backoff)


class _Skips:
    """Video packets the decoder rejected: counted, reported once as a ``MediaWarning``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.first: av.FFmpegError | None = None
        self.warned = False

    def __call__(self, packet: av.Packet, exc: av.FFmpegError) -> None:
        self.count += 1
        self.first = self.first or exc

    def warn(self) -> None:
        if self.count and not self.warned:
            self.warned = True
            n = self.count
            warnings.warn(
                MediaWarning(
                    f"skipped {n} undecodable video packet{'s' if n != 1 else ''} "
                    "(the last good frame is shown in their place)",
                    self.path,
                ),
                stacklevel=3,
            )

    def nothing_decoded(self) -> MediaError:
        if self.first is None:
            return MediaError("no video frame could be decoded", self.path)
        cause = describe_av_error(self.first, self.path)
        return MediaError(
            f"video damaged beyond decoding: no packet decodes ({self.count} tried; {cause})",
            self.path,
        )


def _require_video(info: MediaInfo, path: Path) -> VideoStreamInfo:
    if info.video is None:
        raise MediaError("no video stream", path)
    return info.video


def _open_video_stream(container, info: VideoStreamInfo):
    s = container.streams.video[0]
    s.thread_type = "AUTO"  # frame + slice threads: several times faster on long GOPs
    return s


def read_frames(
    path: str | Path,
    fps: Rate,
    size: Size = None,
    crop: bool = True,
    start: float = 0.0,
    end: float | None = None,
    info: MediaInfo | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time, rgb)`` for times ``start + k/fps`` (seconds from the video start).

    ``rgb`` is uint8 HxWx3 after rotation, resize and optional centre crop. ``size`` is an
    int (square) or ``(width, height)``; ``crop`` keeps the aspect by cutting the centre out,
    otherwise the picture is stretched. Streams frame by frame.
    """
    p = Path(path)
    info = info or probe(p)
    v = _require_video(info, p)
    rate = as_fraction(fps)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    stop = v.duration if end is None else min(float(end), v.duration)
    start = max(0.0, float(start))
    n = max(0, math.ceil((stop - start) * rate - 1e-6))
    if n == 0:
        return
    targets = [start + float(Fraction(k) / rate) for k in range(n)]
    convert = _Converter(v, size, crop)
    step = 1.0 / float(v.fps)
    skips = _Skips(p)
    with open_input(p) as container:
        s = _open_video_stream(container, v)
        origin = v.start_time
        k = 0
        current = None  # the latest decoded frame not after the next target
        prev_t = None
        try:
            # from a start > 0: the keyframe at or before the first target, decode forward.
            # Damaged packets are skipped: their targets get the last good frame.
            decoded = (
                _decode_from(container, s, origin, start, step, skips)
                if start > 0
                else _presentation_times(decode_skipping(container, s, skips), container)
            )
            for frame in decoded:
                t = _frame_time(frame, s, origin, prev_t, step)
                prev_t = t
                while k < n and t > targets[k] + _EPS:
                    shown = current if current is not None else frame
                    yield targets[k], convert(shown)
                    k += 1
                if k >= n:
                    return
                current = frame
        except av.FFmpegError as exc:
            raise MediaError(describe_av_error(exc, p), p) from exc
        finally:
            skips.warn()
        if current is None:
            raise skips.nothing_decoded()
        rgb = convert(current) if k < n else None
        while k < n:  # the last frame stays on screen until the end
            yield targets[k], rgb
            k += 1


def read_frames_array(
    path: str | Path,
    fps: Rate,
    size: Size = None,
    crop: bool = True,
    start: float = 0.0,
    end: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """All frames of ``read_frames`` stacked: ``(frames [N,H,W,3] uint8, times [N] float64)``."""
    frames: list[np.ndarray] = []
    times: list[float] = []
    for t, rgb in read_frames(path, fps, size=size, crop=crop, start=start, end=end):
        frames.append(rgb)
        times.append(t)
    if not frames:
        return np.zeros((0, 0, 0, 3), np.uint8), np.zeros(0)
    return np.stack(frames), np.asarray(times, dtype=np.float64)


class VideoReader:
    """Frame-accurate random access for the viewer; sequential forward reads reuse the decoder.

    ``frame_at(t)`` returns the frame shown at ``t`` seconds from the video start as
    ``(pts_seconds, rgb)``. A request behind the current position, or far ahead of it, seeks
    to the keyframe before ``t`` and decodes forward.
    """

    SEEK_AHEAD_S = 2.0  # beyond this jump forward, seeking beats decoding through

    def __init__(self, path: str | Path, size: Size = None, crop: bool = False) -> None:
        self.path = Path(path)
        self.info: MediaInfo = probe(self.path)
        self.video = _require_video(self.info, self.path)
        self._convert = _Converter(self.video, size, crop)
        self._container = None
        self._open()

    def _open(self) -> None:
        from engine.media._util import check_file

        check_file(self.path)
        try:
            self._container = av.open(str(self.path), metadata_errors="ignore")
        except av.FFmpegError as exc:
            raise MediaError(describe_av_error(exc, self.path), self.path) from exc
        self._stream = _open_video_stream(self._container, self.video)
        self.skipped = _Skips(self.path)  # damaged packets: the last good frame stays shown
        self._decoder = None
        self._cur: tuple[float, av.VideoFrame] | None = None  # last frame handed out/decoded
        self._next: tuple[float, av.VideoFrame] | None = None  # decoded but not yet shown
        self._cache: tuple[float, np.ndarray] | None = None

    @property
    def duration(self) -> float:
        return self.video.duration

    def _decode_next(self) -> tuple[float, av.VideoFrame] | None:
        if self._next is not None:
            nxt, self._next = self._next, None
            return nxt
        if self._decoder is None:
            return None
        try:
            frame = next(self._decoder)
        except StopIteration:
            self._decoder = None
            return None
        except av.FFmpegError as exc:
            raise MediaError(describe_av_error(exc, self.path), self.path) from exc
        finally:
            self.skipped.warn()  # once per reader, at the first damaged packet
        prev = None if self._cur is None else self._cur[0]
        t = _frame_time(
            frame, self._stream, self.video.start_time, prev, 1.0 / float(self.video.fps)
        )
        return t, frame

    def _seek(self, t: float) -> None:
        try:
            self._decoder = _decode_from(
                self._container,
                self._stream,
                self.video.start_time,
                max(0.0, t),
                1.0 / float(self.video.fps),
                self.skipped,
            )
        except av.FFmpegError as exc:
            raise MediaError(describe_av_error(exc, self.path), self.path) from exc
        self._cur = None
        self._next = None

    def frame_at(self, t: float) -> tuple[float, np.ndarray]:
        """The frame displayed at ``t`` seconds (clamped to the clip) and its pts in seconds."""
        if self._container is None:
            raise MediaError("reader is closed", self.path)
        t = min(max(0.0, float(t)), max(0.0, self.duration - 1e-6))
        if self._cache is not None and self._cur is not None:
            # same frame still on screen: no decoding at all
            if self._cur[0] <= t + _EPS and (self._next is not None and t + _EPS < self._next[0]):
                return self._cache
        need_seek = (
            self._decoder is None
            and self._next is None
            or self._cur is None
            or t + _EPS < self._cur[0]
            or t - self._cur[0] > self.SEEK_AHEAD_S
        )
        if need_seek:
            self._seek(t)
        while True:
            nxt = self._decode_next()
            if nxt is None:
                break
            if nxt[0] > t + _EPS and self._cur is not None:
                self._next = nxt
                break
            self._cur = nxt
        if self._cur is None:
            # seek landed after t (damaged index): fall back to the very start
            self._seek(0.0)
            self._cur = self._decode_next()
            if self._cur is None:
                raise self.skipped.nothing_decoded()
        self._cache = (self._cur[0], self._convert(self._cur[1]))
        return self._cache

    def thumbnail(self, t: float, height: int = 90) -> np.ndarray:
        """A small RGB picture of the frame at ``t`` with the given height, aspect kept."""
        _, rgb = self.frame_at(t)
        h, w = rgb.shape[:2]
        width = max(1, int(round(w * height / h)))
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        return frame.reformat(width=width, height=height, interpolation="AREA").to_ndarray()

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
            self._decoder = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
