"""``v2a-studio --selftest``: prove an installed (or frozen) app works end to end, offscreen.

Steps: find the bundled sample clip → open it in the real main window (offscreen) → load the
starter pack → predict the layout → generate one take → export a muxed video to a temporary
folder (``engine.media.mux``) → check the result: the file exists, its video stream is the
source's copied packet for packet, the audio lasts as long as the video, and it is not silent.
Prints one line per step and a summary; returns 0 when every check passed, else 1.

Importing this module is light (no Qt, no torch): everything heavy is imported inside the
steps, and torch first loads when the pack does.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Audio below this RMS (-80 dBFS) counts as silence; a generated take is far above it.
SILENCE_RMS = 1e-4
# Allowed audio/video duration mismatch: AAC frames are 1024 samples (21 ms at 48 kHz) and the
# container may round to a video frame; a real misalignment is much larger.
DURATION_TOLERANCE_S = 0.1

_MAIN_WINDOW_MODULES = ("app.ui.main_window", "app.ui.mainwindow", "app.ui.window", "app.ui.studio")
_MAIN_WINDOW_CLASSES = ("MainWindow", "StudioWindow", "V2AMainWindow")
_OPEN_METHODS = ("open_clip", "open_video", "open_path", "open_file", "load_clip", "open_media")


@dataclass
class ExportCheck:
    """What :func:`check_export` found; ``problems`` empty means the export is good."""

    problems: list[str] = field(default_factory=list)
    video_packets: int = 0
    video_duration: float = 0.0
    audio_duration: float = 0.0
    audio_rms_dbfs: float = float("-inf")
    size_bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _video_packet_digests(path: Path) -> tuple[str, list[str]]:
    """(codec name, sha1 of every video packet in demux order) of the first video stream."""
    import av

    with av.open(str(path)) as c:
        if not c.streams.video:
            return "", []
        s = c.streams.video[0]
        codec = s.codec_context.name
        digests = [hashlib.sha1(bytes(p)).hexdigest() for p in c.demux(s) if p.size]
    return codec, digests


def check_export(source: str | Path, exported: str | Path) -> ExportCheck:
    """Check an exported muxed video against its source (see module docstring)."""
    import numpy as np

    from engine.api import V2AError, probe, read_audio

    res = ExportCheck()
    out = Path(exported)
    if not out.is_file() or out.stat().st_size == 0:
        res.problems.append(f"{out}: export missing or empty")
        return res
    res.size_bytes = out.stat().st_size
    try:
        info = probe(out)
    except V2AError as exc:
        res.problems.append(f"export unreadable: {exc.message}")
        return res
    if info.video is None:
        res.problems.append(f"{out}: no video stream in the export")
        return res
    res.video_duration = info.video.duration
    src_codec, src_pk = _video_packet_digests(Path(source))
    out_codec, out_pk = _video_packet_digests(out)
    res.video_packets = len(out_pk)
    if src_codec != out_codec:
        res.problems.append(f"video re-encoded: codec {src_codec} became {out_codec}")
    elif src_pk != out_pk:
        same = sum(a == b for a, b in zip(src_pk, out_pk, strict=False))
        res.problems.append(
            f"video stream not copied bit-exact: {len(src_pk)} source packets, "
            f"{len(out_pk)} exported, {same} identical"
        )
    if not info.audio:
        res.problems.append(f"{out}: no audio stream in the export")
        return res
    audio, sr = read_audio(out, mono=True)
    res.audio_duration = len(audio) / sr if sr else 0.0
    if abs(res.audio_duration - res.video_duration) > DURATION_TOLERANCE_S:
        res.problems.append(
            f"audio lasts {res.audio_duration:.3f} s but the video {res.video_duration:.3f} s"
        )
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    res.audio_rms_dbfs = 20.0 * np.log10(rms) if rms > 0 else float("-inf")
    if rms < SILENCE_RMS:
        res.problems.append(f"audio is silent (RMS {res.audio_rms_dbfs:.1f} dBFS)")
    if audio.size and not np.all(np.isfinite(audio)):
        res.problems.append("audio contains NaN or infinite samples")
    return res


def find_sample_clip() -> Path:
    """The bundled sample clip (``resources/sample*/*.mp4``), in a checkout or a frozen bundle."""
    from engine.api import MediaError, resources_root

    root = resources_root()
    for pattern in ("sample/*.mp4", "samples/*.mp4", "sample*/*.mov", "*.mp4"):
        hits = sorted(root.glob(pattern))
        if hits:
            return hits[0]
    raise MediaError("no sample clip bundled (expected resources/sample/*.mp4)", root)


def find_main_window_class() -> type | None:
    """The studio's main window class, or None while the studio does not have one."""
    import importlib

    for modname in _MAIN_WINDOW_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name and modname.startswith(exc.name):
                continue
            raise
        for cls_name in _MAIN_WINDOW_CLASSES:
            cls = getattr(mod, cls_name, None)
            if isinstance(cls, type):
                return cls
    return None


def _device_of(pack: Any) -> str:
    for attr in ("device", "torch_device"):
        dev = getattr(pack, attr, None)
        if dev is not None:
            return str(dev)
    for net in (getattr(pack, "_nets", None) or {}).values():  # engine.generation.Pack
        for param in net.parameters():
            return str(param.device)
    return "?"


class _WindowDriver:
    """Drives the real main window offscreen: open → predicted layout → generate → export.

    Everything runs through the studio's own code (engine thread, jobs, mix, export), so a
    frozen build that passes this works for an editor clicking the same buttons.
    """

    def __init__(self, cls: type, timeout_s: float) -> None:
        from PySide6.QtWidgets import QApplication

        self.qapp = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "v2a-studio"])
        try:
            self.win = cls(autosave=False, interactive=False)  # no modal questions offscreen
        except TypeError:
            self.win = cls()
        self.win.resize(1600, 900)
        self.win.show()
        self.timeout_s = timeout_s
        self.failed: list[str] = []
        self.results: list[Any] = []
        self.takes_added = 0
        self.exported: list[str] = []
        w = self.win
        # Errors become test failures, never modal dialogs: a modal box offscreen blocks forever.
        if callable(getattr(w, "error", None)):
            def _error(title: str, message: str) -> None:
                self.failed.append(f"{title}: {message}")
                w.statusBar().showMessage(message)

            w.error = _error
        for sig, slot in (
            ("job_failed", self.failed.append),
            ("takes_added", self._on_takes),
            ("export_done", self._on_exported),
        ):
            if hasattr(w, sig):
                getattr(w, sig).connect(slot)
        engine = getattr(w, "engine", None)
        if engine is not None and hasattr(engine, "job_finished"):
            engine.job_finished.connect(lambda _id, res: self.results.append(res))

    def _on_takes(self, n: int) -> None:
        self.takes_added += int(n)

    def _on_exported(self, paths: list) -> None:
        self.exported = [str(p) for p in paths]

    def wait(self, done: Callable[[], bool], what: str) -> None:
        from PySide6.QtCore import QEventLoop

        deadline = time.monotonic() + self.timeout_s
        while not done():
            if self.failed:
                raise RuntimeError(f"{what}: {self.failed[-1]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not finished after {self.timeout_s:.0f} s")
            self.qapp.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.005)

    def _busy(self) -> bool:
        return bool(getattr(getattr(self.win, "engine", None), "busy", False))

    def open(self, clip: Path) -> str:
        w = self.win
        opener = next((getattr(w, m) for m in _OPEN_METHODS if callable(getattr(w, m, None))), None)
        if opener is None:
            raise RuntimeError(f"{type(w).__name__} has none of {', '.join(_OPEN_METHODS)}")
        if opener(str(clip)) is False:
            raise RuntimeError(f"the window refused to open {clip}")
        viewer = getattr(w, "viewer", None)
        self.wait(lambda: viewer is None or bool(getattr(viewer, "has_frame", True)), "first frame")
        return f"{type(w).__module__}.{type(w).__name__}, title {w.windowTitle()!r}"

    def predicted(self, pack: str | None) -> str:
        doc = getattr(self.win, "doc", None)
        self.wait(lambda: bool(getattr(doc, "layout_ready", True)) and not self._busy(), "layout prediction")
        project = getattr(doc, "project", None)
        if pack and hasattr(project, "set_param"):
            # Opening predicted with the project's default pack; redo it with the chosen one.
            self.results.clear()
            self.failed.clear()
            project.set_param("pack", pack)
            self.win.predict_layout()
            self.wait(lambda: not self._busy(), "layout prediction")
        sources = [str(getattr(r, "source", "")) for r in self.results if hasattr(r, "layout")]
        source = sources[-1] if sources else self.win.statusBar().currentMessage()
        low = source.lower()
        if "not available" in low or "pack problem" in low or "failed" in low:
            raise RuntimeError(f"the layout was not predicted by the pack: {source}")
        return source

    def generate(self, steps: int | None) -> str:
        project = getattr(getattr(self.win, "doc", None), "project", None)
        if steps and hasattr(project, "set_param"):
            project.set_param("steps", int(steps))
        self.win.generate_all()
        self.wait(lambda: self.takes_added > 0 and not self._busy(), "generation")
        lanes = list(getattr(project, "lanes", None) or [])
        take = next((ln.picked_take for ln in lanes if getattr(ln, "picked_take", None) is not None), None)
        if take is None:
            return f"{self.takes_added} take(s)"
        return (f"{self.takes_added} take(s); picked one {len(take.audio) / take.sample_rate:.2f} s "
                f"at {take.sample_rate} Hz")

    def export(self, clip: Path, out: Path) -> Path:
        from app.services.jobs import ExportSpec

        job = self.win.export(ExportSpec(source=str(clip), out=str(out), kind="video"))
        if job is None:
            raise RuntimeError("the window refused to export (no picked take?)")
        self.wait(lambda: bool(self.exported) and not self._busy(), "export")
        return Path(self.exported[0])

    def device(self) -> str:
        # The packs live in the engine worker process, which reports where it loaded them.
        for dev in (getattr(getattr(self.win, "engine", None), "devices", None) or {}).values():
            return str(dev)
        return "?"

    def close(self) -> None:
        w = self.win
        if hasattr(w, "shutdown"):
            w.shutdown()  # stops the engine thread cleanly
        w.close()
        self.qapp.processEvents()


def _window_pipeline(step: Callable, cls: type, clip: Path, out: Path, args: argparse.Namespace,
                     notes: list[str], state: dict[str, Any]) -> Path:
    drv = _WindowDriver(cls, args.timeout)
    try:
        notes.append("window: " + step("open clip in main window", lambda: drv.open(clip)))
        notes.append("layout: " + step("predict layout (engine thread)", lambda: drv.predicted(args.pack)))
        notes.append("takes: " + step("generate (engine thread)", lambda: drv.generate(args.steps)))
        out = step("export muxed video (engine thread)", lambda: drv.export(clip, out))
        state["device"] = drv.device()
    finally:
        drv.close()
    return out


def _engine_pipeline(step: Callable, clip: Path, out: Path, args: argparse.Namespace,
                     notes: list[str], state: dict[str, Any]) -> Path:
    """The same steps without the window: engine.generation + engine.media.mux."""
    from engine.api import CancelToken, GenerationRequest, mux, run_to_completion

    def load() -> Any:
        from engine.api import load_pack  # torch is imported here

        return load_pack(args.pack, device=args.device)

    pack = step("load pack", load)
    state["device"] = _device_of(pack)

    def predict() -> Any:
        from engine.api import predict_layout

        return run_to_completion(predict_layout(str(clip), pack, CancelToken()))

    layout = step("predict layout", predict)
    notes.append(f"layout: {layout.n_columns} columns x {layout.n_bands} bands, "
                 f"mean {float(layout.values.mean()):.3f}")

    def generate() -> Any:
        from engine.api import generate as gen

        kw: dict[str, Any] = {"video_path": str(clip), "layout": layout, "seed": 1234,
                              "prompt": args.prompt}
        if args.steps:
            kw["steps"] = args.steps
        takes = run_to_completion(gen(GenerationRequest(**kw), pack, CancelToken()))
        if not takes:
            raise RuntimeError("generation returned no take")
        return takes[0]

    take = step("generate take", generate)
    notes.append(f"take: {take.duration:.2f} s at {take.sample_rate} Hz, engine {take.engine}")
    return step("export (mux)", lambda: mux(clip, (take.audio, take.sample_rate), out,
                                            mode="replace", sample_rate=48000))


def run_selftest(argv: list[str] | None = None) -> int:
    """Run every step; print a summary; 0 = all good, 1 = something failed."""
    ap = argparse.ArgumentParser(prog="v2a-studio --selftest", description=__doc__.splitlines()[0])
    ap.add_argument("--clip", help="video to use instead of the bundled sample clip")
    ap.add_argument("--pack", default=None, help="pack name or folder (default: starter)")
    ap.add_argument("--steps", type=int, default=None, help="sampling steps (default: the pack's)")
    ap.add_argument("--device", default="auto", help="engine path: auto (GPU when usable), cpu, cuda")
    ap.add_argument("--prompt", default="", help="engine path: text prompt (exercises the text encoder)")
    ap.add_argument("--keep", metavar="DIR", help="export here and keep it (default: temp, removed)")
    ap.add_argument("--no-window", action="store_true",
                    help="drive the engine directly instead of the main window")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per window step")
    args = ap.parse_args(argv or [])

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    timings: dict[str, float] = {}
    notes: list[str] = []
    state: dict[str, Any] = {}
    t_all = time.perf_counter()

    def step(name: str, fn: Callable[[], Any]) -> Any:
        print(f"[selftest] {name} ...", flush=True)
        t0 = time.perf_counter()
        value = fn()
        timings[name] = time.perf_counter() - t0
        print(f"[selftest] {name}: ok ({timings[name]:.2f} s)", flush=True)
        return value

    tmp_ctx = tempfile.TemporaryDirectory(prefix="v2a-selftest-")
    out_dir = Path(args.keep) if args.keep else Path(tmp_ctx.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    check: ExportCheck | None = None
    failure = ""
    try:
        from engine.api import probe

        clip = Path(args.clip) if args.clip else step("find sample clip", find_sample_clip)
        info = step("probe clip", lambda: probe(clip))
        v = info.video
        notes.append(f"clip: {clip.name}, {info.duration:.2f} s" + (
            f", {v.width}x{v.height} @ {float(v.fps):.3f} fps, {v.codec}" if v else ", no video stream"))
        out = out_dir / f"{clip.stem}.selftest.mp4"
        cls = None if args.no_window else find_main_window_class()
        if cls is not None:
            state["path"] = "main window (offscreen) + engine thread"
            out = _window_pipeline(step, cls, clip, out, args, notes, state)
        else:
            state["path"] = "engine directly" + ("" if args.no_window else " (no main window class)")
            out = _engine_pipeline(step, clip, out, args, notes, state)
        check = step("check export", lambda: check_export(clip, out))
    except Exception as exc:  # noqa: BLE001 - a self-test reports every failure, never crashes
        failure = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    total = time.perf_counter() - t_all

    ok = not failure and check is not None and check.ok
    print("\n=== V2A Studio self-test ===")
    print(f"version  : {_version()}   frozen: {bool(getattr(sys, 'frozen', False))}")
    print(f"path     : {state.get('path', '?')}   device: {state.get('device', '?')}")
    for line in notes:
        print(f"  {line}")
    for name, secs in timings.items():
        print(f"  {name:<36s} {secs:7.2f} s")
    if check is not None:
        print(f"  export: {check.size_bytes} bytes, video {check.video_duration:.3f} s "
              f"({check.video_packets} packets copied), audio {check.audio_duration:.3f} s, "
              f"RMS {check.audio_rms_dbfs:.1f} dBFS")
        for p in check.problems:
            print(f"  PROBLEM: {p}")
    if failure:
        print(f"  FAILED: {failure}")
    print(f"result   : {'PASS' if ok else 'FAIL'} in {total:.1f} s")
    if args.keep:
        print(f"output kept in {out_dir}")
    tmp_ctx.cleanup()
    return 0 if ok else 1


def _version() -> str:
    try:
        from app.firstrun import app_version
    except ImportError:  # an older firstrun: say so rather than fail the summary
        return "unknown"
    return app_version()


if __name__ == "__main__":
    sys.exit(run_selftest(sys.argv[1:]))
