"""The one place that converts between time units (DESIGN.md §3).

Audio positions are integer sample frames; video rates are exact ``Fraction``s;
layout columns run at a float or Fraction rate (10 columns/s by default).
"""

from __future__ import annotations

import math
from fractions import Fraction

Rate = Fraction | int | float


def as_fraction(rate: Rate) -> Fraction:
    """An exact rate; floats such as 29.97 become the NTSC fraction they stand for."""
    if isinstance(rate, Fraction):
        return rate
    if isinstance(rate, int):
        return Fraction(rate)
    if float(rate).is_integer():
        return Fraction(int(rate))
    # NTSC-family rates (23.976, 29.97, 59.94 ...) are N*1000/1001 exactly.
    ntsc = round(rate * 1.001)
    if abs(rate - ntsc / 1.001) < 0.005:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(rate).limit_denominator(1001)


def seconds_to_samples(t: float, sample_rate: int) -> int:
    """Nearest sample frame at or after rounding; negative times clamp to 0."""
    return max(0, int(round(t * sample_rate)))


def samples_to_seconds(n: int, sample_rate: int) -> float:
    return n / sample_rate


def frame_to_seconds(index: int, fps: Rate) -> float:
    """Start time of video frame ``index`` at ``fps`` (relative to the stream start)."""
    return float(Fraction(index) / as_fraction(fps))


def seconds_to_frame(t: float, fps: Rate) -> int:
    """Index of the frame shown at time ``t`` (floor, with a tolerance for float error)."""
    return max(0, int(math.floor(t * float(as_fraction(fps)) + 1e-6)))


def frame_count(duration: float, fps: Rate) -> int:
    """How many frames a clip of ``duration`` seconds has at ``fps`` (ceil, tolerant)."""
    return max(0, int(math.ceil(duration * float(as_fraction(fps)) - 1e-6)))


def frame_to_samples(index: int, fps: Rate, sample_rate: int) -> int:
    return int(round(Fraction(index) / as_fraction(fps) * sample_rate))


def samples_to_frame(n: int, fps: Rate, sample_rate: int) -> int:
    """Frame containing sample ``n``; the half-sample offset undoes the rounding in
    ``frame_to_samples`` so the two are exact inverses at frame starts."""
    f = as_fraction(fps)
    return int((Fraction(2 * n + 1) * f) // (2 * sample_rate))


def seconds_to_column(t: float, columns_per_second: float) -> int:
    return max(0, int(math.floor(t * columns_per_second + 1e-6)))


def column_span(a: float, b: float, columns_per_second: float) -> tuple[int, int]:
    """Columns ``[c0, c1)`` covering ``[a, b)`` seconds: the column holding ``a`` to the first
    column at or after ``b``; at least one column."""
    c0 = seconds_to_column(a, columns_per_second)
    return c0, max(int(math.ceil(b * columns_per_second - 1e-6)), c0 + 1)


def index_at_or_after(t: float, rate: float) -> int:
    """The first index of a stream at ``rate`` per second whose time is ``>= t`` (tolerant)."""
    return max(0, int(math.ceil(t * rate - 1e-6)))


def column_to_seconds(col: float, columns_per_second: float) -> float:
    return col / columns_per_second


def columns_for(duration: float, columns_per_second: float) -> int:
    return max(1, int(math.ceil(duration * columns_per_second - 1e-6)))


def timecode(t: float, fps: Rate) -> str:
    """HH:MM:SS:FF at the clip's real rate (non-drop-frame, frames counted at the nominal rate)."""
    rate = as_fraction(fps)
    nominal = max(1, int(round(float(rate))))
    frame = seconds_to_frame(max(0.0, t), rate)
    ff = frame % nominal
    total_s = frame // nominal
    return f"{total_s // 3600:02d}:{(total_s // 60) % 60:02d}:{total_s % 60:02d}:{ff:02d}"


def format_duration(seconds: float) -> str:
    """A running time as editors read it: ``m:ss`` (``h:mm:ss`` past an hour)."""
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def region_bounds(region: tuple[float, float] | None, duration: float) -> tuple[float, float]:
    """A requested ``[a, b)`` in seconds clamped to ``[0, duration]`` (the whole clip for
    None); ValueError when it is empty."""
    a, b = 0.0, float(duration)
    if region is not None:
        a, b = max(0.0, float(region[0])), min(float(duration), float(region[1]))
        if b <= a:
            raise ValueError(f"empty region {region}")
    return a, b
