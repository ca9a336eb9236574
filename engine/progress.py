"""Progress reports and cancellation for long engine work (DESIGN.md §6).

Long operations are generators: they ``yield Progress(...)`` and ``return`` their result.
``run_to_completion`` drives one to its result, forwarding progress to a callback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from engine.errors import Cancelled

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    stage: str
    step: int
    total: int

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.step / self.total)


class CancelToken:
    """Thread-safe flag: the GUI sets it, the engine checks it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


Job = Generator[Progress, None, T]


def run_to_completion(
    job: Generator[Progress, None, T], on_progress: Callable[[Progress], Any] | None = None
) -> T:
    """Drive a job generator to its return value."""
    while True:
        try:
            p = next(job)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(p)


class StageTimer:
    """A progress callback that adds up wall time per stage: the time before each report is
    that report's stage's (work is reported when done). The timing hook benchmarks put on the
    public jobs (``run_to_completion(generate(...), timer)``) instead of copying the stages."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, p: Progress) -> None:
        now = time.perf_counter()
        self.seconds[p.stage] = self.seconds.get(p.stage, 0.0) + now - self._last
        self._last = now
