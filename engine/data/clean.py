"""Clean-up of one recording: mono 16 kHz, trimmed, loudness-normalised, split, fingerprinted.

All functions are pure numpy/scipy on float32 mono arrays so they can be tested on synthetic
signals. Levels are in dBFS of the sample values (full scale = 1.0).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from engine.errors import MediaError

SAMPLE_RATE = 16000


def load_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a WAV/FLAC/OGG file to float32 mono (channel mean)."""
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError for bad files
        raise MediaError(f"cannot decode audio ({exc})", path) from exc
    if data.size == 0:
        raise MediaError("no audio samples", path)
    return data.mean(axis=1).astype(np.float32), int(sr)


def frame_rms_db(audio: np.ndarray, sr: int, frame_s: float = 0.01) -> np.ndarray:
    """RMS level per non-overlapping frame, in dBFS (floor -120)."""
    n = max(1, int(round(frame_s * sr)))
    m = int(math.ceil(len(audio) / n))
    pad = np.zeros(m * n, dtype=np.float32)
    pad[: len(audio)] = audio
    rms = np.sqrt(np.mean(pad.reshape(m, n) ** 2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-6))


def trim_silence(
    audio: np.ndarray, sr: int, rel_db: float = -45.0, abs_db: float = -65.0, pre_s: float = 0.01, post_s: float = 0.05
) -> tuple[np.ndarray, int]:
    """Cut leading/trailing frames quieter than ``rel_db`` below the loudest frame (and below
    ``abs_db``); keep ``pre_s``/``post_s`` of margin. Returns (trimmed, start sample)."""
    if len(audio) == 0:
        return audio, 0
    frame = max(1, int(round(0.01 * sr)))
    db = frame_rms_db(audio, sr, 0.01)
    thr = max(float(db.max()) + rel_db, abs_db)
    loud = np.flatnonzero(db > thr)
    if len(loud) == 0:
        return audio[:0], 0
    start = max(0, loud[0] * frame - int(pre_s * sr))
    end = min(len(audio), (loud[-1] + 1) * frame + int(post_s * sr))
    out = audio[start:end].copy()
    # Short fades so the cut edges do not click.
    fade = min(len(out) // 4, int(0.003 * sr))
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        if start > 0:
            out[:fade] *= ramp
        if end < len(audio):
            out[-fade:] *= ramp[::-1]
    return out, int(start)


def active_rms_db(audio: np.ndarray, sr: int) -> float:
    """Loudness proxy: RMS over the frames within 30 dB of the loudest (ignores silences)."""
    db = frame_rms_db(audio, sr, 0.02)
    act = db[db > db.max() - 30.0]
    power = np.mean(10.0 ** (act / 10.0)) if len(act) else 1e-12
    return float(10.0 * np.log10(max(power, 1e-12)))


def loudness_normalise(audio: np.ndarray, sr: int, target_db: float = -20.0, peak_db: float = -1.0) -> np.ndarray:
    """Scale so the active RMS is ``target_db``, but never let the peak exceed ``peak_db``."""
    if len(audio) == 0:
        return audio
    gain_db = target_db - active_rms_db(audio, sr)
    peak = float(np.max(np.abs(audio))) or 1e-9
    gain_db = min(gain_db, peak_db - 20.0 * math.log10(peak))
    return (audio * (10.0 ** (gain_db / 20.0))).astype(np.float32)


def split_segments(
    audio: np.ndarray, sr: int, seg_s: float = 4.0, min_s: float = 1.5, max_total_s: float = 8.0, max_segments: int = 8
) -> list[tuple[int, np.ndarray]]:
    """Split a long recording into ``seg_s`` pieces; returns (start sample, piece).

    Recordings up to ``max_total_s`` stay whole; a tail shorter than ``min_s`` is dropped;
    at most ``max_segments`` evenly spaced pieces are kept, so one long ambience does not
    outweigh a class of short takes.
    """
    n = len(audio)
    if n <= max_total_s * sr:
        return [(0, audio)]
    step = int(seg_s * sr)
    out = []
    for s in range(0, n, step):
        piece = audio[s : s + step]
        if len(piece) >= min_s * sr:
            out.append((s, piece))
    if len(out) > max_segments:
        pick = np.unique(np.linspace(0, len(out) - 1, max_segments).round().astype(int))
        out = [out[i] for i in pick]
    return out


def onset_time(audio: np.ndarray, sr: int, rel: float = 0.25) -> float:
    """Where the sound's first attack is, in seconds from the file start.

    The first 5 ms frame whose RMS reaches ``rel`` of the loudest frame's RMS within the
    first second, refined backwards to where the rise starts (the frame after the last one
    below a quarter of that level). This is the instant the renderer puts on the visual
    contact frame.
    """
    if len(audio) == 0:
        return 0.0
    hop = max(1, int(0.005 * sr))
    m = len(audio) // hop
    if m == 0:
        return 0.0
    rms = np.sqrt(np.mean(audio[: m * hop].reshape(m, hop) ** 2, axis=1))
    head = rms[: max(1, int(1.0 * sr / hop))]
    ref = float(rms.max())
    if ref <= 0:
        return 0.0
    idx = np.flatnonzero(head >= rel * ref)
    k = int(idx[0]) if len(idx) else int(np.argmax(head))
    low = rel * ref * 0.25
    j = k
    while j > 0 and rms[j - 1] > low and k - j < int(0.05 * sr / hop):
        j -= 1
    return j * hop / sr


def envelope(audio: np.ndarray, sr: int, rate: float) -> np.ndarray:
    """Peak-normalised RMS envelope sampled at ``rate`` values per second (for the renderer)."""
    hop = max(1, int(round(sr / rate)))
    m = max(1, int(math.ceil(len(audio) / hop)))
    pad = np.zeros(m * hop, dtype=np.float32)
    pad[: len(audio)] = audio
    env = np.sqrt(np.mean(pad.reshape(m, hop) ** 2, axis=1))
    return (env / max(float(env.max()), 1e-9)).astype(np.float32)


def pcm_hash(audio: np.ndarray) -> str:
    """Exact-duplicate key: sha1 of the 16-bit PCM."""
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    return hashlib.sha1(pcm.tobytes()).hexdigest()


def fingerprint(audio: np.ndarray, sr: int, seconds: float = 3.0, bands: int = 24, hop_s: float = 0.02, columns: int = 32) -> np.ndarray:
    """Unit-norm coarse log spectrogram of the first ``seconds``, resampled to ``columns``
    time steps (level-independent, for cosine similarity; pair with a duration check).
    The same take re-encoded or re-levelled gives > 0.99; different takes of one kind of
    sound typically 0.5-0.9."""
    x = audio[: int(seconds * sr)].astype(np.float32)
    hop = int(hop_s * sr)
    win = 2 * hop
    x = np.pad(x, (0, max(0, win - len(x) + hop)))
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop]
    spec = np.abs(np.fft.rfft(frames * np.hanning(win).astype(np.float32), axis=1)) ** 2
    edges = np.unique(np.geomspace(2, spec.shape[1] - 1, bands + 1).astype(int))
    banded = np.add.reduceat(spec, edges[:-1], axis=1)
    f = 10.0 * np.log10(banded + 1e-12)
    f = np.maximum(f, f.max() - 60.0)  # 60 dB range: noise floors do not dominate
    t_in = np.linspace(0.0, 1.0, f.shape[0])
    t_out = np.linspace(0.0, 1.0, columns)
    f = np.stack([np.interp(t_out, t_in, f[:, b]) for b in range(f.shape[1])], axis=1)
    f = f - f.mean()
    norm = float(np.linalg.norm(f))
    return (f / norm).ravel().astype(np.float32) if norm > 0 else f.ravel().astype(np.float32)


def near_duplicates(
    fps: np.ndarray, durations: np.ndarray, groups: list[str] | None = None, threshold: float = 0.98, dur_tol: float = 0.05
) -> list[int]:
    """Indices to drop: each item similar (cosine ≥ threshold, duration within ``dur_tol``)
    to an earlier kept item from a different source ``group`` (segments of one recording
    are never each other's duplicates)."""
    keep: list[int] = []
    drop: list[int] = []
    grp = np.asarray(groups if groups is not None else [str(i) for i in range(len(fps))])
    for i in range(len(fps)):
        if keep:
            k = np.asarray(keep)
            sim = fps[k] @ fps[i]
            close = np.abs(durations[k] - durations[i]) <= dur_tol * np.maximum(durations[k], durations[i])
            if np.any((sim >= threshold) & close & (grp[k] != grp[i])):
                drop.append(i)
                continue
        keep.append(i)
    return drop


def spectral_centroid(audio: np.ndarray, sr: int) -> float:
    """Energy-weighted mean frequency (Hz) of the whole recording."""
    if len(audio) == 0:
        return 0.0
    spec = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1.0 / sr)
    return float((spec * freqs).sum() / max(spec.sum(), 1e-12))
