"""Whole-job time estimate from per-stage progress reports (no Qt).

Engines report ``Progress(stage, step, total)`` per stage (decoding, features, sampling,
vocoder…), and a multi-lane generation prefixes each stage with ``"Lane (k/n): "``. An
editor wants one answer for the whole job — "elapsed 0:12, about 0:30 left" — so this module
turns those per-stage fractions into one job fraction (lane k of n, weighted stages within a
lane) and extrapolates the remaining time from fraction done vs time elapsed, smoothed so the
number does not jump around with every report.
"""

from __future__ import annotations

import re

from engine.api import format_duration

# Rough share of one lane's work per stage (measured on the starter pack, CPU): sampling
# dominates; unknown stages count as DEFAULT_WEIGHT.
STAGE_WEIGHTS: dict[str, float] = {
    "loading": 0.02,
    "decoding": 0.08,
    "features": 0.10,
    "layout": 0.02,
    "sampling": 0.66,
    "vocoder": 0.12,
}
DEFAULT_WEIGHT = 0.10
# Job-level stages outside the per-lane loop: their share of the whole job.
HEAD_STAGES = {"loading pack": 0.03}
TAIL_STAGES = {"analysing takes": 0.03}

_UNIT = re.compile(r"\((\d+)/(\d+)\)\s*:\s*(.*)$")


def split_stage(stage: str) -> tuple[int, int, str]:
    """``"Wind (2/3): sampling"`` → (1, 3, "sampling"); ``"Wind: sampling"`` → (0, 1, "sampling")."""
    m = _UNIT.search(stage)
    if m:
        k, n = int(m.group(1)), max(1, int(m.group(2)))
        return min(max(0, k - 1), n - 1), n, m.group(3).strip().lower()
    return 0, 1, stage.rsplit(": ", 1)[-1].strip().lower()


def _weight(name: str) -> float:
    for key, w in STAGE_WEIGHTS.items():
        if name.startswith(key):
            return w
    return DEFAULT_WEIGHT


class JobEta:
    """Feed it every progress report of one job; ask for the job fraction and time left.

    ``min_fraction`` / ``min_elapsed``: below either there is not enough data to extrapolate
    and :meth:`remaining` returns None ("estimating…"). ``smoothing`` is the weight of a new
    raw estimate against the previous one counted down by the time since (0 < s ≤ 1).
    """

    def __init__(self, min_fraction: float = 0.05, min_elapsed: float = 1.5, smoothing: float = 0.3) -> None:
        self.min_fraction = min_fraction
        self.min_elapsed = min_elapsed
        self.smoothing = smoothing
        self.reset()

    def reset(self) -> None:
        self.started: float | None = None
        self.fraction = 0.0
        self._unit: tuple[int, int] = (0, 1)
        self._done_in_unit = 0.0  # weight of the stages finished in the current unit
        self._stage: str | None = None
        self._stage_w = 0.0
        self._est: float | None = None  # smoothed remaining seconds at time _est_t
        self._est_t = 0.0

    @property
    def running(self) -> bool:
        return self.started is not None

    def start(self, now: float) -> None:
        self.reset()
        self.started = now

    def _job_fraction(self, stage: str, frac: float) -> float:
        name = stage.rsplit(": ", 1)[-1].strip().lower()
        head = sum(HEAD_STAGES.values())
        tail = sum(TAIL_STAGES.values())
        if name in HEAD_STAGES:
            return HEAD_STAGES[name] * frac
        if name in TAIL_STAGES:
            return 1.0 - tail + TAIL_STAGES[name] * frac
        k, n, name = split_stage(stage)
        if (k, n) != self._unit:
            self._unit, self._done_in_unit, self._stage = (k, n), 0.0, None
        if name != self._stage:
            # A new stage of this unit: the previous one is finished, whatever it reported last.
            self._done_in_unit += self._stage_w
            self._stage, self._stage_w = name, _weight(name)
        unit = min(1.0, (self._done_in_unit + self._stage_w * frac) / max(1.0, self._done_in_unit + self._stage_w))
        return head + (1.0 - head - tail) * (k + unit) / n

    def update(self, stage: str, fraction: float, now: float) -> None:
        """One progress report (``fraction`` of ``stage``, 0..1) at monotonic time ``now``."""
        if self.started is None:
            self.start(now)
        f = min(1.0, max(self.fraction, self._job_fraction(stage, min(1.0, max(0.0, fraction)))))
        self.fraction = f  # never runs backwards: a bar that shrinks is worse than a rough one
        el = now - self.started
        if f < self.min_fraction or el < self.min_elapsed or f <= 0:
            return
        raw = el * (1.0 - f) / f
        if self._est is None or f >= 1.0:
            self._est = raw
        else:
            counted_down = max(0.0, self._est - (now - self._est_t))
            self._est = self.smoothing * raw + (1.0 - self.smoothing) * counted_down
        self._est_t = now

    def elapsed(self, now: float) -> float:
        return 0.0 if self.started is None else max(0.0, now - self.started)

    def remaining(self, now: float) -> float | None:
        """Seconds left for the whole job, counting down between reports; None = estimating."""
        if self._est is None:
            return None
        return max(0.0, self._est - (now - self._est_t))

    def text(self, now: float) -> str:
        """What the job strip shows: ``"0:12 elapsed · about 0:34 left"``."""
        if self.started is None:
            return ""
        el = format_duration(self.elapsed(now))
        rem = self.remaining(now)
        if rem is None:
            return f"{el} elapsed · estimating…"
        return f"{el} elapsed · about {format_duration(rem)} left"


__all__ = ["JobEta", "format_duration", "split_stage"]
