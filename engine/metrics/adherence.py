"""Layout adherence: does generated audio put its events where the target layout does?

Events of a layout: rising edges of the per-column energy (mean over bands) through a
threshold ``lo + rel_threshold * (hi - lo)`` (lo/hi = min/max energy, rel 0.3; a layout
whose energy range is under 0.05 has no events); an edge less than ``min_gap_s`` (0.1 s) after
the previous event's end continues that event. Each event's onset time is refined to
the rise point: where linear interpolation between column centres first reaches 70 % of
the way from the local minimum before the edge (the layout's floor for an edge in the first
column) to the maximum of the next 3 columns (tuned on
real recordings, whose 64 ms log-mel frames smear energy up to 32 ms early; a painted
0 -> 1 step at column k gives k + 0.2 columns). An event ends where energy falls below the
threshold again.

Scores for generated audio (onsets by the librosa-style detector at 16 kHz, hop 160):
- ``recall_40ms``: fraction of target events with a detected onset within ±40 ms
  (``recall_20ms``: within ±20 ms);
- ``median_error_s``: median |onset - event| over the events that were hit;
- ``outside_rate``: fraction of detected onsets outside every event span
  ``[start - 40 ms, end + 40 ms]``;
- ``envelope_corr``: Pearson correlation of the layout energy and the generated audio's own
  layout energy (same normalisation, same column grid).
"""

from __future__ import annotations

import numpy as np

from engine.audio.layout import LayoutConfig, layout_energy, layout_from_audio, resize_layout
from engine.audio.mel import MelConfig
from engine.audio.onset import ADHERENCE_ONSETS, detect_onsets
from engine.types import AudioLayout

TOLERANCE_S = 0.040


def event_spans_from_layout(
    layout: AudioLayout, rel_threshold: float = 0.3, min_gap_s: float = 0.1, min_range: float = 0.05
) -> list[tuple[float, float]]:
    """(start, end) seconds of each event in the layout; [] when the energy is flat."""
    e = layout_energy(layout)
    cps = float(layout.columns_per_second)
    n = len(e)
    if n == 0:
        return []
    lo, hi = float(e.min()), float(e.max())
    if hi - lo < min_range:
        return []
    thr = lo + rel_threshold * (hi - lo)
    above = e >= thr
    starts = [k for k in range(n) if above[k] and (k == 0 or not above[k - 1])]
    spans: list[tuple[float, float]] = []
    for k in starts:
        end_k = k
        while end_k < n and above[end_k]:
            end_k += 1
        t0 = _half_rise_time(e, k, cps, lo)
        t1 = end_k / cps
        if spans and t0 - spans[-1][1] < min_gap_s:  # too short a pause: the same event
            spans[-1] = (spans[-1][0], max(spans[-1][1], t1))
            continue
        spans.append((t0, t1))
    return spans


# Tuned on real sound effects and 1 ms clicks mixed at known times (docs/METRICS.md): at 25
# columns/s 95-100 % of events land within ±40 ms; at 10 columns/s (100 ms columns) ~70 %.
RISE_FRACTION = 0.7


def _half_rise_time(e: np.ndarray, k: int, cps: float, floor: float, frac: float = RISE_FRACTION) -> float:
    n = len(e)
    j = max(k - 1, 0)
    while j > 0 and e[j - 1] <= e[j]:  # walk back down to the local minimum
        j -= 1
    base = e[j]
    peak = e[k : min(n, k + 3)].max()
    if j == 0:
        # A rise that reaches column 0 may have begun before the clip (a soft brush or the
        # mel's smear at an event 40 ms in): it rises from the layout's floor, as it would
        # mid-clip, unless column 0 is already past that rise point.
        if e[0] < floor + frac * (peak - floor):
            base = floor
        elif k == 0:  # the clip opens on the sound already loud
            return 0.0
    half = base + frac * (peak - base)
    for i in range(j, min(n, k + 3) - 1):
        if e[i] < half <= e[i + 1]:
            part = (half - e[i]) / (e[i + 1] - e[i])
            return max(0.0, (i + 0.5 + part) / cps)  # column centres sit at (i + 0.5) / cps
    return k / cps


def events_from_layout(layout: AudioLayout, rel_threshold: float = 0.3, min_gap_s: float = 0.1) -> list[float]:
    """Onset seconds of the layout's events (see module doc)."""
    return [s for s, _ in event_spans_from_layout(layout, rel_threshold, min_gap_s)]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64) - np.mean(a)
    b = np.asarray(b, np.float64) - np.mean(b)
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 1e-12 else float("nan")


def layout_adherence(
    layout: AudioLayout,
    audio: np.ndarray,
    sr: int,
    tolerance: float = TOLERANCE_S,
    layout_cfg: LayoutConfig | None = None,
) -> dict:
    """Scores of ``audio`` against a target ``layout`` (keys in the module doc, plus counts)."""
    spans = event_spans_from_layout(layout)
    events = np.array([s for s, _ in spans])
    onsets = detect_onsets(audio, sr, ADHERENCE_ONSETS)
    errors = []
    for t in events:
        if onsets.size:
            d = np.abs(onsets - t).min()
            if d <= tolerance + 1e-9:
                errors.append(d)
    recall = len(errors) / len(events) if len(events) else float("nan")
    outside = [
        o for o in onsets if not any(s - tolerance <= o <= e + tolerance for s, e in spans)
    ]
    outside_rate = len(outside) / len(onsets) if len(onsets) else 0.0
    cfg = layout_cfg or LayoutConfig(columns_per_second=layout.columns_per_second, bands=layout.n_bands)
    # Same duration as the layout, so columns line up (the take may be a little longer/shorter).
    n = int(round(layout.duration * sr))
    clip = np.asarray(audio, np.float32)[:n]
    clip = np.pad(clip, (0, n - len(clip))) if clip.ndim == 1 else clip
    gen = layout_from_audio(clip, sr, MelConfig(), cfg) if n > 0 else None
    corr = float("nan")
    if gen is not None:
        gen_e = resize_layout(gen.values, layout.n_columns, 1)[:, 0]
        corr = _pearson(layout_energy(layout), gen_e)
    within_20 = sum(1 for d in errors if d <= 0.020 + 1e-9)
    return {
        "recall_40ms": recall,
        # the same hits with a ±20 ms window (the library engine's target; humans notice ~25 ms)
        "recall_20ms": within_20 / len(events) if len(events) else float("nan"),
        "median_error_s": float(np.median(errors)) if errors else float("nan"),
        "outside_rate": float(outside_rate),
        "envelope_corr": corr,
        "n_target_events": len(events),
        "n_detected_onsets": len(onsets),
        "n_outside": len(outside),
    }
