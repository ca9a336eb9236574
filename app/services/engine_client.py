"""The one long-lived engine thread (DESIGN.md §6), proxying to an engine worker process.

``EngineWorker`` lives in a ``QThread`` for the whole session and runs one job at a time,
as DESIGN.md describes — but the job itself executes in a single persistent child process
(``app.services.engine_worker``, multiprocessing "spawn"), which owns the loaded packs and
keeps them warm. Deviation from DESIGN.md's in-process engine, for the "no GUI stall over
100 ms" target: importing torch and loading a pack hold the GIL for hundreds of milliseconds,
which no thread can hide from the GUI thread of the same process. The GUI process therefore
never imports torch.

A job is a picklable callable ``fn(ctx, cancel)`` (``app.services.jobs``) that returns a value
or a generator yielding ``Progress`` and returning the value. The GUI never waits: results,
progress and errors come back as queued signals. Cancel sets the job's ``CancelToken``; the
engine thread relays it to the child through a ``multiprocessing.Event``. If the child dies,
the running job fails with one clear message and the next job starts a fresh child.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import pickle
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait as mp_wait
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from app.services.engine_worker import worker_main
from engine.api import CancelToken, Progress

log = logging.getLogger(__name__)

POLL_S = 0.05  # how often the engine thread relays cancel / notices a dead child while waiting
CANCEL_GRACE_S = 8.0  # a job that ignores cancel this long is stopped by ending the process
STOP_GRACE_S = 5.0  # on quit: time for the child to leave on its own before it is terminated
WORKER_DIED = ("The engine process stopped unexpectedly ({why}). "
               "It restarts with the next job; nothing in the project was lost.")


class _WorkerDied(Exception):
    pass


class _Stopping(Exception):
    pass


class EngineWorker(QObject):
    """Lives in the engine thread; owns the worker process and talks to it."""

    progress = Signal(int, object)  # job id, Progress
    finished = Signal(int, object)  # job id, result
    failed = Signal(int, str)  # job id, one-line message
    cancelled = Signal(int)
    state = Signal(str, str)  # "ready" | "error", message for the status bar
    pack_loaded = Signal(str, str)  # pack, device

    def __init__(self) -> None:
        super().__init__()
        self._mp = multiprocessing.get_context("spawn")
        self._proc: Any = None
        self._conn: Any = None
        self._cancel = self._mp.Event()
        self.stopping = threading.Event()  # set from the GUI thread on quit
        self._child_busy = False  # the child is working on a warm-up or job we sent
        self._watch: QTimer | None = None

    @property
    def pid(self) -> int | None:
        """The worker process id while one runs (read from any thread)."""
        p = self._proc
        return p.pid if p is not None else None

    @property
    def process(self) -> Any:
        return self._proc

    # -- process lifetime (engine thread) --------------------------------------------------------
    def _ensure_process(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        self._reap()
        parent_end, child_end = self._mp.Pipe(duplex=True)
        # daemon: multiprocessing's exit handler ends it even if shutdown() was never called.
        proc = self._mp.Process(target=worker_main, args=(child_end, self._cancel),
                                name="v2a-engine-worker", daemon=True)
        proc.start()
        child_end.close()  # so a dead child reads as EOF here
        self._proc, self._conn = proc, parent_end
        if self._watch is None:
            # Notice a child that dies while idle (the timer runs in this thread's event loop).
            self._watch = QTimer(self)
            self._watch.setInterval(1000)
            self._watch.timeout.connect(self._check_idle)
        self._watch.start()

    def _reap(self) -> str:
        """Forget a dead (or to-be-replaced) child; returns why it ended, for messages."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        self._child_busy = False
        if conn is not None:
            conn.close()
        if proc is None:
            return ""
        proc.join(1.0)
        if proc.is_alive():
            proc.kill()
            proc.join(2.0)
        code = proc.exitcode
        if code is None:
            return "still running"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def _kill(self) -> str:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
        return self._reap()

    @Slot()
    def _check_idle(self) -> None:
        if self._proc is not None and not self._proc.is_alive() and not self.stopping.is_set():
            why = self._reap()
            self.state.emit("error", WORKER_DIED.format(why=why))

    def _recv(self, token: CancelToken | None = None) -> tuple:
        """The child's next message; relays cancel while waiting. Raises ``_WorkerDied``, or
        ``_Stopping`` when the app quits while nothing is cancellable (warm-up)."""
        cancel_at: float | None = None
        while True:
            if self.stopping.is_set():
                if token is None:
                    raise _Stopping()
                token.cancel()
            if token is not None and token.cancelled and cancel_at is None:
                self._cancel.set()
                cancel_at = time.monotonic()
            grace = STOP_GRACE_S if self.stopping.is_set() else CANCEL_GRACE_S
            if cancel_at is not None and time.monotonic() - cancel_at > grace:
                # The job does not check its token (e.g. a long pack load): end the process.
                log.warning("engine job ignored cancel for %.0f s; restarting the worker", grace)
                self._kill()
                return ("cancelled", None)
            ready = mp_wait([self._conn, self._proc.sentinel], timeout=POLL_S)
            if self._conn in ready or (ready and self._conn.poll()):
                try:
                    return self._conn.recv()
                except (EOFError, OSError) as e:
                    raise _WorkerDied() from e
            if ready:  # only the sentinel: the process ended and left nothing to read
                raise _WorkerDied()

    def _died(self) -> str:
        return WORKER_DIED.format(why=self._reap() or "no process")

    # -- slots (engine thread) ---------------------------------------------------------------
    @Slot(str)
    def warm_up(self, pack: str) -> None:
        """Start the worker and load ``pack`` so the first job is warm; reports via ``state``."""
        if self.stopping.is_set():
            return
        try:
            self._ensure_process()
            self._conn.send(("warm", pack))
            self._child_busy = True
            while True:
                msg = self._recv()
                if msg[0] == "info":
                    self.pack_loaded.emit(msg[1]["pack"], msg[1]["device"])
                elif msg[0] == "ready":
                    self._child_busy = False
                    break
        except _Stopping:
            return
        except (_WorkerDied, OSError):
            self.state.emit("error", self._died())
            return
        info = msg[1]
        if "error" in info:
            self.state.emit("error", f"Engine ready, but {info['error']}")
        else:
            self.state.emit("ready", f"Engine ready ({info['pack']} on {info['device']})")

    @Slot(int, object, object)
    def run_job(self, job_id: int, fn: Callable, token: CancelToken) -> None:
        if token.cancelled or self.stopping.is_set():
            self.cancelled.emit(job_id)
            return
        try:
            blob = pickle.dumps(fn)  # here, so a job that cannot be sent fails by itself
        except Exception as e:  # noqa: BLE001 - e.g. a lambda or a closure
            log.error("engine job %r cannot be sent to the worker: %s", fn, e)
            self.failed.emit(job_id, f"internal error: this job cannot run in the engine process ({e})")
            return
        try:
            self._ensure_process()
            self._cancel.clear()  # the child is idle between jobs: no one reads it now
            self._conn.send(("job", job_id, blob))
            self._child_busy = True
            while True:
                msg = self._recv(token)
                kind = msg[0]
                if kind in ("done", "failed", "cancelled"):
                    self._child_busy = False
                if kind == "progress":
                    self.progress.emit(job_id, msg[2])
                elif kind == "warning":
                    from app.services.media_warnings import media_warnings

                    media_warnings().report(msg[2])
                elif kind == "info":
                    self.pack_loaded.emit(msg[1]["pack"], msg[1]["device"])
                elif kind == "done":
                    self.finished.emit(job_id, msg[2])
                    return
                elif kind == "failed":
                    self.failed.emit(job_id, msg[2])
                    return
                elif kind == "cancelled":
                    self.cancelled.emit(job_id)
                    return
        except (_WorkerDied, OSError):
            if self.stopping.is_set():
                self.cancelled.emit(job_id)
            else:
                self.failed.emit(job_id, self._died())
        except Exception as e:  # noqa: BLE001 - e.g. a result that cannot be unpickled
            log.exception("engine job %d: bad message from the worker", job_id)
            # the pipe may still hold this job's messages: start the next job on a fresh worker
            self._kill()
            self.failed.emit(job_id, f"{e.__class__.__name__}: {e}")

    @Slot()
    def stop_process(self) -> None:
        """Quit: ask the child to leave, make sure it did (no orphan processes), then end
        the engine thread (here, after the jobs queued before it were cancelled)."""
        if self._watch is not None:
            self._watch.stop()
        proc = self._proc
        if proc is not None:
            if proc.is_alive() and not self._child_busy:
                try:
                    self._conn.send(("stop",))
                except OSError:
                    pass
                proc.join(STOP_GRACE_S)
            if proc.is_alive():  # still busy with work we abandoned (e.g. a warm-up): no need to wait
                proc.terminate()
            self._reap()
        self.thread().quit()

    def kill_now(self) -> None:
        """Last resort from the GUI thread when the engine thread does not answer."""
        proc = self._proc
        if proc is not None and proc.is_alive():
            proc.kill()


class EngineClient(QObject):
    """GUI-side handle. ``submit`` returns at once; at most one job runs at a time."""

    _dispatch = Signal(int, object, object)
    _warm = Signal(str)
    _stop = Signal()
    job_started = Signal(int, str)  # id, label
    job_progress = Signal(int, str, float)  # id, stage, fraction of that stage
    job_finished = Signal(int, object)
    job_failed = Signal(int, str)
    job_cancelled = Signal(int)
    busy_changed = Signal(bool)
    engine_state = Signal(str, str)  # "loading" | "ready" | "error", status-bar message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("v2a-engine")
        self.worker = EngineWorker()
        self.worker.moveToThread(self._thread)
        self._dispatch.connect(self.worker.run_job)
        self._warm.connect(self.worker.warm_up)
        self._stop.connect(self.worker.stop_process)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_done)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self.worker.state.connect(self.engine_state)
        self.worker.pack_loaded.connect(self._on_pack_loaded)
        self._thread.start()
        self._ids = itertools.count(1)
        self._tokens: dict[int, CancelToken] = {}
        self._callbacks: dict[int, tuple[Callable | None, Callable | None]] = {}
        self.current: int | None = None
        self.devices: dict[str, str] = {}  # pack → device it was loaded on, in the worker
        self._shut = False

    @property
    def busy(self) -> bool:
        return bool(self._tokens)

    @property
    def worker_pid(self) -> int | None:
        """The engine worker process id, None before the first job / warm-up."""
        return self.worker.pid

    def start(self, pack: str | None = None) -> None:
        """Start the worker process and load ``pack`` now, without waiting (call it once the
        window is shown) so the first prediction or generation finds a warm engine."""
        if not self._shut:
            self.engine_state.emit("loading", "Loading engine…")
            self._warm.emit(pack or "starter")

    def submit(
        self,
        label: str,
        fn: Callable,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> int:
        """Queue ``fn`` (picklable: a module-level function or a ``functools.partial`` of one,
        see ``app.services.jobs``) to run in the engine worker process."""
        job_id = next(self._ids)
        token = CancelToken()
        self._tokens[job_id] = token
        self._callbacks[job_id] = (on_done, on_error)
        was_busy = len(self._tokens) > 1
        self.current = job_id
        self.job_started.emit(job_id, label)
        if not was_busy:
            self.busy_changed.emit(True)
        self._dispatch.emit(job_id, fn, token)
        return job_id

    def cancel(self, job_id: int | None = None) -> None:
        """Thread-safe: sets the flag the engine thread relays to the worker process."""
        ids = list(self._tokens) if job_id is None else [job_id]
        for i in ids:
            tok = self._tokens.get(i)
            if tok is not None:
                tok.cancel()

    def _finish(self, job_id: int) -> tuple[Callable | None, Callable | None]:
        self._tokens.pop(job_id, None)
        cbs = self._callbacks.pop(job_id, (None, None))
        if not self._tokens:
            self.current = None
            self.busy_changed.emit(False)
        return cbs

    def _on_pack_loaded(self, pack: str, device: str) -> None:
        self.devices[pack] = device

    def _on_progress(self, job_id: int, p: Progress) -> None:
        # The whole-job time estimate is the generation panel's (app.model.eta.JobEta).
        self.job_progress.emit(job_id, p.stage, p.fraction)

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

    def shutdown(self, wait_ms: int = 15000) -> None:
        """Cancel everything, stop the worker process and the engine thread (idempotent)."""
        if self._shut:
            return
        self._shut = True
        self.cancel()
        self.worker.stopping.set()  # the engine thread stops waiting / cancels the running job
        self._stop.emit()  # runs after the queued jobs (now cancelled), then quits the thread
        if not self._thread.wait(wait_ms):
            self.worker.kill_now()  # its pipe closes, so the engine thread returns too
            self._thread.wait(3000)
