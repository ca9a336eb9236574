"""Opening media with PyAV and turning every failure into a one-line ``MediaError``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import av

from engine.errors import MediaError

# Limits beyond which a stream is treated as corrupt rather than merely large.
MAX_FPS = 1000
MAX_DIM = 16384


def check_file(path: str | Path) -> Path:
    """Fail early with a clear message for missing, directory, unreadable or empty files."""
    p = Path(path)
    if not p.exists():
        raise MediaError("file not found", p)
    if p.is_dir():
        raise MediaError("is a directory, not a media file", p)
    if not os.access(p, os.R_OK):
        raise MediaError("permission denied (file is not readable)", p)
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise MediaError(f"cannot read file ({exc.strerror or exc})", p) from exc
    if size == 0:
        raise MediaError("empty file (0 bytes)", p)
    return p


def describe_av_error(exc: Exception, path: Path | None = None) -> str:
    msg = str(exc)
    low = msg.lower()
    if (
        path is not None
        and _looks_like_mp4(path)
        and ("invalid data" in low or "end of file" in low)
    ):
        # an MP4/MOV whose index (moov atom) or sample data is missing: a cut download/copy
        return "truncated or damaged MP4/MOV file"
    if "moov atom not found" in low:
        return "truncated or incomplete file (moov atom not found)"
    if "invalid data" in low:
        return "not a media file, or damaged beyond decoding"
    if "end of file" in low:
        return "truncated or empty: the file ends before its media data"
    # PyAV messages look like "[Errno 1094995529] Invalid data found ...: '/path'"; drop the path.
    return "cannot decode: " + msg.split(": '")[0]


def _looks_like_mp4(p: Path) -> bool:
    try:
        with open(p, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head[4:8] in (b"ftyp", b"mdat", b"moov", b"free", b"wide")


@contextlib.contextmanager
def open_input(path: str | Path) -> Iterator[av.container.InputContainer]:
    """``av.open`` for reading, raising ``MediaError`` that names the file."""
    p = check_file(path)
    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise MediaError(describe_av_error(exc, p), p) from exc
    try:
        yield container
    except av.FFmpegError as exc:
        raise MediaError(describe_av_error(exc, p), p) from exc
    finally:
        container.close()


def decode_skipping(
    container: av.container.InputContainer,
    stream: av.stream.Stream,
    on_skip: Callable[[av.Packet, av.FFmpegError], None],
) -> Iterator[av.frame.Frame]:
    """``container.decode(stream)`` that skips packets the decoder rejects, reporting each to
    ``on_skip``: one damaged packet must not make a whole stream unreadable (a real AVI with
    AC-3 audio decodes 351 of its 352 frames this way). Demuxer errors still raise."""
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            if packet.size:  # the empty flushing packet holds no media of its own
                on_skip(packet, exc)
            continue
        yield from frames
