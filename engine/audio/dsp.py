"""The one resampler, crossfade and peak limiter of the project (numpy/scipy, no torch).

Every engine, the mixer and the exporter use these, so a take resampled for playback, a region
spliced into its base and a track muxed into the video all agree to the sample.
"""

from __future__ import annotations

import math

import numpy as np

#: The ceiling every engine leaves its takes under (never clip; otherwise keep the level).
PEAK_CEILING = 0.98


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling along axis 0 (scipy ``resample_poly``, Kaiser window), float32,
    exactly ``round(len * sr_out / sr_in)`` samples so times stay put; identity when the rates
    match."""
    audio = np.asarray(audio)
    if int(sr_in) == int(sr_out) or len(audio) == 0:
        return audio.astype(np.float32, copy=False)
    # imported here, not with the module: scipy.signal costs ~0.9 s of a cold start
    from scipy.signal import resample_poly

    g = math.gcd(int(sr_in), int(sr_out))
    out = resample_poly(audio, int(sr_out) // g, int(sr_in) // g, axis=0)
    n = int(round(len(audio) * int(sr_out) / int(sr_in)))
    return out[:n].astype(np.float32)


def equal_power(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fade-out and fade-in gains of an ``n``-sample equal-power crossfade (cos/sin)."""
    t = np.linspace(0.0, 1.0, int(n), dtype=np.float32)
    return np.cos(t * np.pi / 2).astype(np.float32), np.sin(t * np.pi / 2).astype(np.float32)


def crossfade(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Equal-power crossfade from ``a`` to ``b`` (same length)."""
    out_gain, in_gain = equal_power(len(a))
    return a * out_gain + b * in_gain


def join_edges(y: np.ndarray, context: np.ndarray, s0: int, fade: int) -> np.ndarray:
    """New audio ``y`` for samples ``[s0, s0 + len(y))`` of a track whose kept audio is
    ``context``, joined to it inside that range: equal-power crossfades of ``fade`` samples
    from the context into ``y`` at its start (only where the context has audio across the whole
    fade: a take extended after the context's end starts at full level) and back into the
    context at its end (when the context goes on after it)."""
    y = np.asarray(y, np.float32).copy()
    n = len(y)
    x = min(n // 2, int(fade))
    kept = np.zeros(n, np.float32)
    m = max(0, min(n, len(context) - s0))
    kept[:m] = context[s0 : s0 + m]
    if x > 0 and s0 > 0 and len(context) >= s0 + x:
        y[:x] = crossfade(kept[:x], y[:x])
    if x > 0 and s0 + n < len(context):
        y[n - x :] = crossfade(y[n - x :], kept[n - x :])
    return y


def splice(base: np.ndarray, new: np.ndarray, s0: int, s1: int, fade: int) -> np.ndarray:
    """``base`` outside samples ``[s0, s1)`` and ``new`` inside (both indexed from the same
    origin), with equal-power crossfades of ``fade`` samples centred on each edge."""
    n = max(len(base), len(new))
    a = np.zeros(n, np.float32)
    a[: len(base)] = base
    b = np.zeros(n, np.float32)
    b[: len(new)] = new
    s1 = min(n, s1)
    f = max(1, int(fade))
    w = np.zeros(n, np.float32)
    w[s0:s1] = 1.0
    ramp = np.sin(np.linspace(0, np.pi / 2, f, dtype=np.float32)) ** 2
    lo = max(0, s0 - f // 2)
    w[lo : lo + f] = ramp[: len(w[lo : lo + f])]
    hi = max(0, s1 - f // 2)
    seg = w[hi : hi + f]
    w[hi : hi + f] = ramp[::-1][: len(seg)]
    return (a * np.sqrt(1 - w) + b * np.sqrt(w)).astype(np.float32)


def peak_limit(audio: np.ndarray, ceiling: float = PEAK_CEILING) -> np.ndarray:
    """Scale ``audio`` down to ``ceiling`` when its peak is above it; otherwise unchanged."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return audio * (ceiling / peak) if peak > ceiling else audio
