"""Progress reports and cancellation for long engine work (DESIGN.md §6).

Long operations are generators: they ``yield Progress(...)`` and ``return`` their result.
``run_to_completion`` drives one to its result, forwarding progress to a callback.
"""

from __future__ import annotations

import threading
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
