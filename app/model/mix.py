"""Mixing lanes, splicing regenerated regions, loudness (numpy/scipy, no Qt)."""

from __future__ import annotations

import math

import numpy as np

from app.model.project import Lane, TakeRecord
from engine.api import timebase


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def audible(lanes: list[Lane]) -> list[Lane]:
    """Mute/solo rule of every mixer: any solo → only soloed lanes; muted lanes never."""
    soloed = [ln for ln in lanes if ln.solo]
    pool = soloed if soloed else lanes
    return [ln for ln in pool if not ln.mute]


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """The engine's resampler (one for the whole product; scipy loads on first use)."""
    from engine.api import resample as engine_resample

    return engine_resample(np.asarray(audio, np.float32), int(sr_in), int(sr_out))


def render_stems(lanes: list[Lane], sr: int, duration: float) -> dict[str, np.ndarray]:
    """Each audible lane's picked take, gained, resampled to ``sr``, padded to the clip length."""
    n = timebase.seconds_to_samples(duration, sr)
    out: dict[str, np.ndarray] = {}
    for ln in audible(lanes):
        t = ln.picked_take
        if t is None:
            continue
        a = resample(t.audio, t.sample_rate, sr) * db_to_gain(ln.gain_db)
        buf = np.zeros(n, np.float32)
        m = min(n, len(a))
        buf[:m] = a[:m]
        out[ln.name] = buf
    return out


def mix(lanes: list[Lane], sr: int, duration: float) -> np.ndarray:
    n = timebase.seconds_to_samples(duration, sr)
    total = np.zeros(n, np.float32)
    for buf in render_stems(lanes, sr, duration).values():
        total += buf
    return total


def splice(base: np.ndarray, new: np.ndarray, sr: int, region: tuple[float, float], fade: float = 0.01) -> np.ndarray:
    """Keep ``base`` outside ``region`` and ``new`` inside (both from the clip's start), with
    equal-power crossfades (the engine's splice)."""
    from engine.api import splice as engine_splice

    return engine_splice(base, new, timebase.seconds_to_samples(region[0], sr),
                         timebase.seconds_to_samples(region[1], sr), timebase.seconds_to_samples(fade, sr))


def placed(audio: np.ndarray, sr: int, start: float, n: int) -> np.ndarray:
    """A take that starts ``start`` seconds into the clip, on a clip-long buffer of ``n`` samples."""
    out = np.zeros(n, np.float32)
    s0 = timebase.seconds_to_samples(start, sr)
    m = max(0, min(len(audio), n - s0))
    out[s0 : s0 + m] = audio[:m]
    return out


def spliced_take(base: TakeRecord, new: TakeRecord, region: tuple[float, float], start: float) -> TakeRecord:
    """``base`` with ``region`` replaced by ``new``, which starts ``start`` seconds into the clip
    (the engine's Take contract: a region take covers the region and starts at its start)."""
    sr = base.sample_rate
    fresh = placed(resample(new.audio, new.sample_rate, sr), sr, start, len(base.audio))
    audio = splice(base.audio, fresh, sr, region)
    meta = dict(new.meta)
    # The base's recordings are still heard outside the region: they keep their credit.
    credits = list(dict.fromkeys([*base.meta.get("credits", []), *new.meta.get("credits", [])]))
    if credits:
        meta["credits"] = credits
    return TakeRecord(audio, sr, new.seed, new.engine, region, meta)


# -- loudness (ITU-R BS.1770 integrated, mono) -----------------------------------------------
def _k_weighting(sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # Shelf + high-pass biquads derived for any rate (the standard's 48 kHz values generalised).
    f0, g, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sr)
    vh = 10 ** (g / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    b1 = np.array([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0])
    a1 = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sr)
    a0 = 1 + k / q + k * k
    b2 = np.array([1.0, -2.0, 1.0])
    a2 = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return b1, a1, b2, a2


def integrated_loudness(audio: np.ndarray, sr: int) -> float:
    """LUFS of a mono signal (-inf for silence)."""
    from scipy.signal import lfilter

    x = np.asarray(audio, np.float64)
    if x.ndim > 1:
        x = x.mean(axis=1)
    b1, a1, b2, a2 = _k_weighting(sr)
    y = lfilter(b2, a2, lfilter(b1, a1, x))
    block, step = int(0.4 * sr), int(0.1 * sr)
    if len(y) < block:
        block = step = max(1, len(y))
    ms = np.array([np.mean(y[i : i + block] ** 2) for i in range(0, len(y) - block + 1, step)])
    ms = ms[ms > 0]
    if len(ms) == 0:
        return float("-inf")
    lk = -0.691 + 10 * np.log10(ms)
    ms = ms[lk > -70]
    if len(ms) == 0:
        return float("-inf")
    rel = -0.691 + 10 * np.log10(ms.mean()) - 10
    gated = ms[-0.691 + 10 * np.log10(ms) > rel]
    return float(-0.691 + 10 * np.log10(gated.mean())) if len(gated) else float("-inf")


def normalize_loudness(audio: np.ndarray, sr: int, target_lufs: float = -23.0, peak: float = 0.99) -> tuple[np.ndarray, float]:
    """Gain to reach ``target_lufs``, limited so the peak stays below ``peak``. Returns (audio, gain_db)."""
    lufs = integrated_loudness(audio, sr)
    if not math.isfinite(lufs):
        return np.asarray(audio, np.float32), 0.0
    gain_db = target_lufs - lufs
    p = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if p > 0:
        gain_db = min(gain_db, 20 * math.log10(peak / p))
    return (np.asarray(audio) * db_to_gain(gain_db)).astype(np.float32), gain_db


def take_display(audio: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, float]:
    """What the timeline shows for a take: normalised log-mel [T, 64] in [0, 1], onset times
    (s) and the duration. Computed in the engine thread for new takes, cached by take id."""
    from engine.api import MelConfig, detect_onsets, log_mel

    a16 = resample(audio, sr, 16000)
    if len(a16) == 0:
        return np.zeros((1, 64), np.float32), np.zeros(0), 0.0
    mel = log_mel(a16, MelConfig())
    lo, hi = float(np.percentile(mel, 5)), float(mel.max())
    img = np.clip((mel - lo) / max(1e-6, hi - lo), 0, 1).astype(np.float32)
    try:
        ons = np.asarray(detect_onsets(a16, 16000), float)
    except ValueError:
        ons = np.zeros(0)
    return img, ons, len(a16) / 16000
