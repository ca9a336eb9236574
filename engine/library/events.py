"""Events and sustained stretches read from an audio layout, for placing real recordings.

Onsets start from the adherence metric's spans (``event_spans_from_layout``: rising edges of
the band-mean energy, refined to the rise point) and add the re-attacks inside a span, so a run
of footsteps whose energy never falls back under the span threshold still gives one onset per
step. Each event carries its peak band profile: the recording placed there is equalised to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.audio.layout import layout_energy
from engine.metrics.adherence import _half_rise_time, event_spans_from_layout
from engine.types import AudioLayout

REATTACK_FRACTION = 0.35  # a rise of this share of the layout's range inside a span is a new hit
MIN_SPACING_S = 0.09  # two hits closer than this are one (fast footsteps are ~0.12 s apart)


@dataclass(frozen=True)
class LayoutEvent:
    onset: float  # seconds
    end: float  # seconds: where the span's energy falls back under the threshold
    bands: np.ndarray  # [bands] layout values at the event's loudest column


def layout_events(layout: AudioLayout) -> list[LayoutEvent]:
    e = layout_energy(layout)
    cps = float(layout.columns_per_second)
    spans = event_spans_from_layout(layout)
    if not spans:
        return []
    lo, hi = float(e.min()), float(e.max())
    onsets: list[tuple[float, float]] = []
    for t0, t1 in spans:
        ts = [t0]
        k0 = int(np.floor(t0 * cps)) + 1
        k1 = min(len(e), int(np.ceil(t1 * cps)))
        for k in range(max(k0, 2), k1):
            rise = e[k] - float(e[max(0, k - 3) : k].min())
            if rise >= REATTACK_FRACTION * (hi - lo) and e[k] > e[k - 1] and (k + 1 >= len(e) or e[k] >= e[k + 1] or e[k + 1] - e[k] < rise):
                t = _half_rise_time(e, k, cps, lo)
                if t - ts[-1] >= MIN_SPACING_S:
                    ts.append(t)
        for i, t in enumerate(ts):
            onsets.append((t, ts[i + 1] if i + 1 < len(ts) else t1))
    out = []
    vals = layout.values
    for t, t_end in onsets:
        c0 = max(0, int(np.floor(t * cps)))
        c1 = max(c0 + 1, min(len(e), int(np.ceil(t_end * cps)), c0 + int(np.ceil(0.3 * cps))))
        k = c0 + int(np.argmax(e[c0:c1]))
        out.append(LayoutEvent(float(t), float(t_end), vals[k].astype(np.float32)))
    return out
