"""The one long-lived engine thread (DESIGN.md §6).

``EngineWorker`` lives in a ``QThread`` for the whole session, owns loaded packs (models),
and runs one job at a time. A job is a callable ``fn(ctx, cancel)`` that returns a value or
a generator yielding ``Progress`` and returning the value. Torch is imported for the first
time inside such a job (``app.services.jobs``), never on the GUI thread. The GUI never waits:
results, progress and errors come back as queued signals; cancel sets a ``CancelToken``.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.errors import Cancelled, V2AError
from engine.progress import CancelToken, Progress

log = logging.getLogger(__name__)


class EngineContext:
    """What a job may use in the engine thread: the loaded packs, kept between jobs."""

    def __init__(self) -> None:
        self.packs: dict[str, Any] = {}

    def pack(self, name: str | None):
        """Load (once) and return a pack; imports torch on first use, in this thread only."""
        key = name or "starter"
        if key not in self.packs:
            from engine.generation import load_pack  # first torch import happens here

            _leave_a_core_for_the_gui()
            self.packs[key] = load_pack(name, device="auto")  # CUDA when present, else CPU
        return self.packs[key]


def _leave_a_core_for_the_gui() -> None:
    """Torch's intra-op pool defaults to every core; keep one for the GUI and the decoder."""
    import os

    import torch

    n = os.cpu_count() or 2
    if n > 1 and torch.get_num_threads() >= n:
        torch.set_num_threads(n - 1)


class EngineWorker(QObject):
    progress = Signal(int, object)  # job id, Progress
    finished = Signal(int, object)  # job id, result
    failed = Signal(int, str)  # job id, one-line message
    cancelled = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.ctx = EngineContext()

    @Slot(int, object, object)
    def run_job(self, job_id: int, fn: Callable, token: CancelToken) -> None:
        try:
            token.check()
            result = fn(self.ctx, token)
            if inspect.isgenerator(result):
                gen = result
                while True:
                    try:
                        p = next(gen)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    token.check()
                    if isinstance(p, Progress):
                        self.progress.emit(job_id, p)
            token.check()
        except Cancelled:
            self.cancelled.emit(job_id)
            return
        except V2AError as e:
            self.failed.emit(job_id, e.message)
            return
        except MemoryError:
            self.failed.emit(job_id, "out of memory — try fewer takes or a smaller pack")
            return
        except Exception as e:  # noqa: BLE001 - the engine thread must survive any job
            log.error("engine job failed:\n%s", traceback.format_exc())
            self.failed.emit(job_id, f"{e.__class__.__name__}: {e}")
            return
        self.finished.emit(job_id, result)


class EngineClient(QObject):
    """GUI-side handle. ``submit`` returns at once; at most one job runs at a time."""

    _dispatch = Signal(int, object, object)
    job_started = Signal(int, str)  # id, label
    job_progress = Signal(int, str, float, float)  # id, stage, fraction, eta seconds (-1 unknown)
    job_finished = Signal(int, object)
    job_failed = Signal(int, str)
    job_cancelled = Signal(int)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("v2a-engine")
        self.worker = EngineWorker()
        self.worker.moveToThread(self._thread)
        self._dispatch.connect(self.worker.run_job)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_done)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self._thread.start()
        self._ids = itertools.count(1)
        self._tokens: dict[int, CancelToken] = {}
        self._started: dict[int, float] = {}
        self._callbacks: dict[int, tuple[Callable | None, Callable | None]] = {}
        self.current: int | None = None
        self._stage: tuple[tuple[int, str] | None, float] = (None, 0.0)

    @property
    def busy(self) -> bool:
        return bool(self._tokens)

    def submit(
        self,
        label: str,
        fn: Callable,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> int:
        job_id = next(self._ids)
        token = CancelToken()
        self._tokens[job_id] = token
        self._started[job_id] = time.monotonic()
        self._callbacks[job_id] = (on_done, on_error)
        was_busy = len(self._tokens) > 1
        self.current = job_id
        self.job_started.emit(job_id, label)
        if not was_busy:
            self.busy_changed.emit(True)
        self._dispatch.emit(job_id, fn, token)
        return job_id

    def cancel(self, job_id: int | None = None) -> None:
        """Thread-safe: sets the flag the engine checks between steps."""
        ids = list(self._tokens) if job_id is None else [job_id]
        for i in ids:
            tok = self._tokens.get(i)
            if tok is not None:
                tok.cancel()

    def _finish(self, job_id: int) -> tuple[Callable | None, Callable | None]:
        self._tokens.pop(job_id, None)
        self._started.pop(job_id, None)
        cbs = self._callbacks.pop(job_id, (None, None))
        if not self._tokens:
            self.current = None
            self.busy_changed.emit(False)
        return cbs

    def _on_progress(self, job_id: int, p: Progress) -> None:
        # Engines report per stage (decoding, features, sampling, vocoder), each 0..total, so the
        # estimate extrapolates the current stage from when it started.
        now = time.monotonic()
        key = (job_id, p.stage)
        if self._stage[0] != key:
            self._stage = (key, now)
        eta = -1.0
        if 0 < p.fraction < 1:
            el = now - self._stage[1]
            if el > 0.2:
                eta = el / p.fraction * (1 - p.fraction)
        self.job_progress.emit(job_id, p.stage, p.fraction, eta)

    def _on_done(self, job_id: int, result: object) -> None:
        on_done, _ = self._finish(job_id)
        self.job_finished.emit(job_id, result)
        if on_done is not None:
            on_done(result)

    def _on_failed(self, job_id: int, message: str) -> None:
        _, on_error = self._finish(job_id)
        self.job_failed.emit(job_id, message)
        if on_error is not None:
            on_error(message)

    def _on_cancelled(self, job_id: int) -> None:
        self._finish(job_id)
        self.job_cancelled.emit(job_id)

    def shutdown(self, wait_ms: int = 5000) -> None:
        self.cancel()
        self._thread.quit()
        self._thread.wait(wait_ms)
