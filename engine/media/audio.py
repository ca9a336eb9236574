"""Audio in and out: ``read_audio`` (downmix, resample, align to the video) and ``write_audio``."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import av
import numpy as np

from engine.audio.dsp import resample
from engine.errors import MediaError, MediaWarning, OutputError
from engine.media._util import decode_skipping, describe_av_error, open_input
from engine.safe_write import atomic_output, write_error

_MINUS_3DB = 1.0 / math.sqrt(2.0)  # 0.707: ITU-R BS.775 weight for centre and surrounds
_FRONT = {"FL", "FR", "FLC", "FRC"}
_DROP = {"LFE", "LFE2", "LFE1"}


def downmix_weights(channel_names: list[str]) -> np.ndarray:
    """Mono weights per channel: fronts 1, centre/surrounds -3 dB, LFE dropped, sum 1.

    Normalising by the weight sum means a full-scale signal on every channel stays at full
    scale, so the downmix cannot clip.
    """
    if len(channel_names) <= 1:
        return np.ones(max(1, len(channel_names)), np.float32)
    w = np.array(
        [0.0 if c in _DROP else 1.0 if c in _FRONT else _MINUS_3DB for c in channel_names],
        dtype=np.float64,
    )
    if w.sum() <= 0:
        w = np.ones(len(channel_names))
    return (w / w.sum()).astype(np.float32)


def downmix(audio: np.ndarray, channel_names: list[str] | None = None) -> np.ndarray:
    """[n, ch] -> [n] with ``downmix_weights`` (names default to FL FR FC LFE BL BR ...)."""
    if audio.ndim == 1:
        return audio.astype(np.float32, copy=False)
    ch = audio.shape[1]
    if channel_names is None or len(channel_names) != ch:
        default = {1: ["FC"], 2: ["FL", "FR"], 6: ["FL", "FR", "FC", "LFE", "BL", "BR"]}
        channel_names = default.get(ch, ["FL"] * ch)
    return (audio @ downmix_weights(channel_names)).astype(np.float32)


def _frame_to_float(frame: av.AudioFrame) -> np.ndarray:
    """Any PyAV sample format -> float32 [channels, samples] in [-1, 1]."""
    arr = frame.to_ndarray()
    fmt = frame.format
    ch = len(frame.layout.channels)
    if not fmt.is_planar:
        arr = arr.reshape(-1, ch).T
    name = fmt.name.rstrip("p")
    if name == "s16":
        return arr.astype(np.float32) / 32768.0
    if name == "s32":
        return (arr / 2147483648.0).astype(np.float32)
    if name == "u8":
        return (arr.astype(np.float32) - 128.0) / 128.0
    if name == "s64":
        return (arr / 9223372036854775808.0).astype(np.float32)
    return arr.astype(np.float32)


def _decode_stream(
    p: Path, stream_index: int
) -> tuple[np.ndarray, int, list[str], float | None, float | None]:
    """All samples of one audio stream: ([n, ch] float32, rate, channel names,
    first sample time in seconds, video start in seconds or None).

    Packets the decoder rejects are skipped and their time filled with silence (from the
    timestamps around them), with one ``MediaWarning``; only a stream where nothing decodes
    is refused.
    """
    with open_input(p) as container:
        audio_streams = list(container.streams.audio)
        if not audio_streams:
            raise MediaError("no audio stream", p)
        if not 0 <= stream_index < len(audio_streams):
            raise MediaError(f"no audio stream #{stream_index} (file has {len(audio_streams)})", p)
        s = audio_streams[stream_index]
        s.thread_type = "AUTO"
        video_start = None
        if container.streams.video:
            vs = container.streams.video[0]
            if vs.start_time is not None:
                video_start = float(vs.start_time * vs.time_base)
            elif container.start_time is not None:
                video_start = container.start_time / av.time_base
        chunks: list[np.ndarray] = []
        rate = None
        names: list[str] = []
        first_t = None
        written = 0  # samples placed so far
        skipped: list[av.FFmpegError | None] = []  # None: a frame of the wrong format
        bad_end: float | None = None  # end time of the latest skipped packet, when known
        pending = False  # packets skipped since the last decoded frame
        filled = 0  # samples of silence standing in for skipped packets

        def skip(packet: av.Packet, exc: av.FFmpegError) -> None:
            nonlocal first_t, bad_end, pending
            skipped.append(exc)
            pending = True
            if packet.pts is not None and packet.time_base is not None:
                t0 = float(packet.pts * packet.time_base)
                if first_t is None:
                    first_t = t0  # a bad first packet still marks where the sound starts
                bad_end = t0 + float((packet.duration or 0) * packet.time_base)

        try:
            for frame in decode_skipping(container, s, skip):
                data = _frame_to_float(frame)  # [ch, n]
                if rate is None:
                    rate = int(frame.sample_rate)
                    names = [c.name for c in frame.layout.channels]
                elif int(frame.sample_rate) != rate or data.shape[0] != len(names):
                    # garbage that parsed as a frame of another format (or a mid-stream format
                    # switch, which this reader does not follow): skip it like a bad packet
                    skipped.append(None)
                    pending = True
                    continue
                ft = None
                if frame.pts is not None and frame.time_base is not None:
                    ft = float(frame.pts * frame.time_base)
                if first_t is None:
                    first_t = ft
                elif ft is not None:
                    # place each frame at its timestamp: gaps (skipped packets too) become
                    # silence, overlaps are dropped, so later sound stays in sync
                    expected = int(round((ft - first_t) * rate))
                    gap = expected - written
                    tol = max(32, rate // 500)  # 2 ms: timestamp rounding is not a gap
                    if gap > tol:
                        chunks.append(np.zeros((data.shape[0], gap), np.float32))
                        written += gap
                        if pending:
                            filled += gap
                    elif gap < -tol:
                        data = data[:, -gap:]
                pending = False
                chunks.append(data)
                written += data.shape[1]
        except av.FFmpegError as exc:
            raise MediaError(describe_av_error(exc, p), p) from exc
        if rate is None:
            if skipped:
                n = len(skipped)
                cause = describe_av_error(skipped[0], p) if skipped[0] is not None else ""
                raise MediaError(
                    f"audio damaged beyond decoding: no packet decodes ({n} tried"
                    f"{'; ' + cause if cause else ''})",
                    p,
                )
            raise MediaError("audio stream has no decodable samples", p)
        if pending and bad_end is not None and first_t is not None and chunks:
            # the stream ends in skipped packets: keep their time as silence too, up to the
            # stream's stated end when that is near (a parser may merge the last packets)
            end = bad_end
            if s.duration and s.time_base is not None:
                stated = float(((s.start_time or 0) + s.duration) * s.time_base)
                if bad_end < stated <= bad_end + 1.0:
                    end = stated
            gap = int(round((end - first_t) * rate)) - written
            if gap > 0:
                chunks.append(np.zeros((chunks[-1].shape[0], gap), np.float32))
                filled += gap
        if skipped:
            n = len(skipped)
            warnings.warn(
                MediaWarning(
                    f"skipped {n} undecodable audio packet{'s' if n != 1 else ''} "
                    f"({1000.0 * filled / rate:.0f} ms filled with silence)",
                    p,
                ),
                stacklevel=3,
            )
        data = np.concatenate(chunks, axis=1).T if chunks else np.zeros((0, len(names)), np.float32)
        return np.ascontiguousarray(data, dtype=np.float32), rate, names, first_t, video_start


def read_audio(
    path: str | Path, sample_rate: int | None = None, mono: bool = True, stream: int = 0
) -> tuple[np.ndarray, int]:
    """Decode audio stream ``stream`` of any media file to float32.

    Returns ``(audio, sr)``: mono ``[n]`` (ITU downmix) or ``[n, ch]``. When the file has
    video, sample 0 is the video's first frame time: the head is padded with silence or
    trimmed so that picture and sound line up.
    """
    p = Path(path)
    data, rate, names, first_t, video_start = _decode_stream(p, stream)
    if mono:
        data = downmix(data, names)
    if sample_rate and int(sample_rate) != rate:
        data = resample(data, rate, int(sample_rate))
        rate = int(sample_rate)
    if video_start is not None and first_t is not None:
        offset = int(round((first_t - video_start) * rate))
        if offset > 0:
            pad = np.zeros((offset,) + data.shape[1:], np.float32)
            data = np.concatenate([pad, data], axis=0)
        elif offset < 0:
            data = data[-offset:]
    return np.ascontiguousarray(data, dtype=np.float32), rate


_WRITE_SUBTYPES = {".wav": ("WAV", "PCM_24"), ".flac": ("FLAC", "PCM_24")}


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write WAV or FLAC (24-bit) by suffix, atomically. ``audio`` is [n] or [n, ch] float."""
    import soundfile as sf

    out = Path(path)
    fmt = _WRITE_SUBTYPES.get(out.suffix.lower())
    if fmt is None:
        raise OutputError("unsupported audio format (use .wav or .flac)", out)
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim not in (1, 2) or a.size == 0 and a.ndim == 2 and a.shape[1] == 0:
        raise OutputError(f"audio must be [n] or [n, channels], got shape {a.shape}", out)
    if sample_rate <= 0:
        raise OutputError(f"bad sample rate {sample_rate}", out)
    a = np.clip(np.nan_to_num(a), -1.0, 1.0)
    with atomic_output(out) as tmp:
        try:
            sf.write(str(tmp), a, int(sample_rate), format=fmt[0], subtype=fmt[1])
        except (sf.SoundFileError, AssertionError) as exc:  # soundfile asserts on a short write
            why = _why_write_failed(tmp)
            raise (write_error(why, out) if why else OutputError(f"cannot write the audio ({exc})", out)) from exc
    return out


def _why_write_failed(tmp: Path) -> OSError | None:
    """libsndfile reports a failed write() as "System error" without its errno (a full disk
    and a bad file look alike): repeat a write on the doomed temporary file to learn it."""
    try:
        with open(tmp, "ab") as f:
            f.write(bytes(1 << 16))
    except OSError as exc:
        return exc
    return None
