"""Progress bars for CLI jobs: drives an engine job generator and draws tqdm bars."""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import TypeVar

from engine.progress import Progress

T = TypeVar("T")


def run_with_bar(job: Generator[Progress, None, T], quiet: bool = False) -> T:
    """Run a job to its result, one bar per stage (stderr, hidden when not a terminal unless forced)."""
    from tqdm import tqdm

    bar = None
    stage = None
    disable = quiet or not sys.stderr.isatty()
    try:
        while True:
            try:
                p = next(job)
            except StopIteration as stop:
                return stop.value
            if p.stage != stage:
                if bar is not None:
                    bar.close()
                stage = p.stage
                bar = tqdm(total=p.total, desc=p.stage, unit="step", leave=False, disable=disable)
            if bar is not None:
                bar.total = p.total
                bar.n = p.step
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()
