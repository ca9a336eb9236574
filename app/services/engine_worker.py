"""The engine worker process: runs engine jobs for the studio, outside the GUI process.

Why a process and not only a thread (docs/STUDIO.md): importing torch and loading a pack
holds the GIL for hundreds of milliseconds at a time (dlopen, module init), which freezes
the GUI thread of the same process however the work is scheduled. In a child process that
cost never reaches the event loop.

``worker_main`` is the child's entry point (``multiprocessing`` with the "spawn" context,
started by ``app.services.engine_client``). This module is Qt-free and torch-free at import
time; torch first loads in the child, inside ``EngineContext.pack``.

Protocol over one duplex ``multiprocessing`` pipe (plain data: our own dataclasses, numpy
arrays, strings; pickled between our own two processes, never read from a file):

    parent → child   ("warm", pack_name) | ("job", job_id, pickled fn) | ("stop",)
    child → parent   ("ready", info) | ("info", info)
                     | ("progress", job_id, Progress) | ("done", job_id, result)
                     | ("failed", job_id, message) | ("cancelled", job_id)

``fn`` is a picklable job body ``fn(ctx, cancel)`` (``app.services.jobs``): it returns a value
or a generator yielding ``Progress`` and returning the value. Cancel is a shared
``multiprocessing.Event`` the parent sets; here it backs a ``CancelToken``.
"""

from __future__ import annotations

import inspect
import logging
import os
import pickle
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from typing import Any

from engine.api import (
    Cancelled,
    CancelToken,
    MediaWarning,
    PackError,
    Progress,
    V2AError,
    run_to_completion,
)

log = logging.getLogger(__name__)

JobFn = Callable[["EngineContext", CancelToken], Any]


class EngineContext:
    """What a job may use in the worker: the loaded packs, kept warm between jobs."""

    def __init__(self, on_pack_loaded: Callable[[str, str], None] | None = None) -> None:
        self.packs: dict[str, Any] = {}
        self._on_pack_loaded = on_pack_loaded
        self._library: Any = None

    def pack(self, name: str | None) -> Any:
        """Load (once) and return a pack; the first call imports torch (in this process)."""
        key = name or "starter"
        if key not in self.packs:
            from engine.api import load_pack, pack_engine  # first torch import happens here

            _leave_a_core_for_the_gui()
            # a pack is loaded by the engine it declares (an AR pack is not a diffusion pack)
            self.packs[key] = load_pack(name, device="auto", engine=pack_engine(name))  # CUDA when present
            if self._on_pack_loaded is not None:
                self._on_pack_loaded(key, pack_device(self.packs[key]))
        return self.packs[key]

    def library(self, layout_pack: str | None = None) -> Any:
        """The sound library as the library engine's "pack" (``engine.library.load_library``),
        its index read once per process. ``layout_pack`` names the diffusion pack that predicts
        or fits a layout when the request needs one; a pack that cannot load is left to the
        library's own lazy default, since a lane with a painted layout needs none."""
        if self._library is None:
            from engine.api import load_library

            self._library = load_library()
        lib = self._library
        if layout_pack is not None:
            try:
                pack = self.pack(layout_pack)
            except PackError:
                pack = None
            if pack is not None and getattr(pack, "engine", "diffusion") == "diffusion":
                from dataclasses import replace

                lib = replace(lib, _layout_pack=pack)
        return lib


def pack_device(pack: Any) -> str:
    """Where a loaded pack's networks live ("cpu", "cuda:0", …; ``Pack.device``), "?" when unknown."""
    return str(getattr(pack, "device", "?"))


def _leave_a_core_for_the_gui() -> None:
    """Torch's intra-op pool defaults to every core; keep one for the GUI and the decoder."""
    import torch

    n = os.cpu_count() or 2
    if n > 1 and torch.get_num_threads() >= n:
        torch.set_num_threads(n - 1)


class EventCancelToken(CancelToken):
    """A ``CancelToken`` backed by the parent's ``multiprocessing.Event``."""

    def __init__(self, event: Any) -> None:  # a multiprocessing.synchronize.Event
        self._event = event


def run_job(fn: JobFn, ctx: EngineContext, token: CancelToken,
            on_progress: Callable[[Progress], None]) -> Any:
    """Drive one job to its result; raises ``Cancelled`` or whatever the job raised."""
    token.check()
    result = fn(ctx, token)
    if inspect.isgenerator(result):

        def step(p: object) -> None:
            token.check()  # between steps: a cancelled job stops at its next yield
            if isinstance(p, Progress):
                on_progress(p)

        result = run_to_completion(result, step)
    token.check()
    return result


def failure_message(exc: BaseException) -> str:
    """The one line the GUI shows for a failed job (the same text as the in-thread engine)."""
    if isinstance(exc, V2AError):
        return exc.message
    if isinstance(exc, MemoryError):
        return "out of memory — try fewer takes or a smaller pack"
    return f"{exc.__class__.__name__}: {exc}"


def _exit_with_parent() -> None:
    """No orphans: if the GUI process dies (even by SIGKILL), this process ends too."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(0)

    threading.Thread(target=watch, name="v2a-parent-watch", daemon=True).start()


def _warm(ctx: EngineContext, pack_name: str | None) -> dict[str, Any]:
    """Import the engine (torch) and load the pack the project uses, so the first job is warm."""
    try:
        pack = ctx.pack(pack_name)
    except PackError as e:
        return {"error": f"pack problem: {e.message}"}
    return {"pack": pack_name or "starter", "device": pack_device(pack)}


def worker_main(conn: Any, cancel_event: Any) -> None:
    """Entry point of the engine worker process: serve jobs until "stop" or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is the GUI's to handle
    _exit_with_parent()

    def send(msg: tuple) -> None:
        conn.send(msg)

    ctx = EngineContext(lambda key, device: send(("info", {"pack": key, "device": device})))
    token = EventCancelToken(cancel_event)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break  # the GUI went away
        kind = msg[0]
        if kind == "stop":
            break
        if kind == "warm":
            try:
                info = _warm(ctx, msg[1])
            except Exception as e:  # noqa: BLE001 - a failed warm-up must not end the worker
                log.error("engine warm-up failed:\n%s", traceback.format_exc())
                info = {"error": failure_message(e)}
            send(("ready", info))
            continue
        if kind != "job":
            continue
        job_id = msg[1]
        try:
            # Unpickled here, not by recv, so a job that cannot be loaded fails with its id.
            fn = pickle.loads(msg[2])
            # damaged media the job read (skipped packets): back to the window, once each
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always", MediaWarning)
                try:
                    result = run_job(fn, ctx, token, lambda p, i=job_id: send(("progress", i, p)))
                finally:
                    for text in dict.fromkeys(str(w.message) for w in seen if issubclass(w.category, MediaWarning)):
                        send(("warning", job_id, text))
        except Cancelled:
            send(("cancelled", job_id))
            continue
        except Exception as e:  # noqa: BLE001 - the worker must survive any job
            if not isinstance(e, V2AError | MemoryError):
                log.error("engine job failed:\n%s", traceback.format_exc())
            send(("failed", job_id, failure_message(e)))
            continue
        try:
            send(("done", job_id, result))
        except Exception as e:  # noqa: BLE001 - pickling happens before any byte is written
            log.error("engine job result cannot be sent:\n%s", traceback.format_exc())
            send(("failed", job_id, f"the engine's result cannot be sent to the window ({e})"))
    conn.close()
    # Nothing to save here; skipping interpreter teardown (torch, thread pools) makes quitting
    # the app quick even on a busy machine.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
