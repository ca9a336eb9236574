"""``v2a-studio [FILE] [--screenshot PNG]``.

With ``--screenshot`` the app opens FILE, waits until the clip, its layout (and the picked
take, if any) are on screen, renders the main window at 1600×900 into PNG and exits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

SHOT_SIZE = (1600, 900)


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="v2a-studio", description="V2A Studio: sound for silent video")
    ap.add_argument("file", nargs="?", help="a video clip or a .v2aproj project")
    ap.add_argument("--screenshot", metavar="PNG", help="save a 1600x900 render of the window and exit")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for --screenshot")
    ap.add_argument("--select", metavar="T0,T1", help="with --screenshot: show a selection (seconds)")
    ap.add_argument("--playhead", type=float, help="with --screenshot: put the playhead here (seconds)")
    ap.add_argument("--view", metavar="T0,T1", help="with --screenshot: show this time range (seconds)")
    ap.add_argument("--tool", choices=("select", "brush", "eraser", "event"), help="with --screenshot: active tool")
    ap.add_argument("--pointer", metavar="T,BAND",
                    help="with --screenshot: show the brush outline as if the pointer hovered the active lane there")
    return ap.parse_args(argv)


def _ready(win) -> bool:
    doc = win.doc
    if not doc.has_clip or not win.viewer.has_frame or not doc.layout_ready:
        return False
    if win.engine.busy:
        return False
    want_take = any(ln.picked_take is not None for ln in doc.project.lanes)
    return not want_take or win.timeline.mel_img.image is not None


def _install_excepthook() -> None:
    """A bug in a slot must not take the editor's work down: log it, say so, keep running."""
    import logging
    import traceback

    log = logging.getLogger("v2a-studio")

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("unexpected error:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        from PySide6.QtWidgets import QApplication, QMainWindow

        for w in QApplication.topLevelWidgets():
            if isinstance(w, QMainWindow):
                w.statusBar().showMessage(f"Internal error (logged): {exc_type.__name__}: {exc}", 15000)

    sys.excepthook = hook


def _show_startup_messages(win) -> None:
    """First-run / no pack / no audio device notes (app.firstrun), most severe first."""
    try:
        from app.firstrun import startup_messages

        msgs = startup_messages()
    except Exception:  # noqa: BLE001 - start-up notes must never stop the editor
        return
    if msgs:
        win.statusBar().showMessage(str(msgs[0]), 20000)
        win.statusBar().setToolTip("\n".join(str(m) for m in msgs))


def _selftest_preflight(argv: list[str]) -> str | None:
    """What a self-test would otherwise only find after opening the window: a ``--clip`` that
    is not a usable video, a ``--pack`` that is not there. Light: no Qt, no torch."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--clip")
    ap.add_argument("--pack")
    known, _ = ap.parse_known_args(argv)
    from engine.api import V2AError

    try:
        if known.clip:
            from engine.api import probe

            if probe(known.clip).video is None:
                raise V2AError("has no video stream — the self-test needs a video clip", known.clip)
        if known.pack:
            from engine.api import find_pack

            find_pack(known.pack)
    except V2AError as e:
        return " ".join(e.message.split())
    return None


def schedule_engine_start(win: Any, with_clip: bool) -> None:
    """Start the engine worker process without blocking, so the first generation is warm.

    With a clip being opened it waits for the clip's first frame (or 5 s): on two cores the
    worker's torch import would otherwise compete with the first decode."""
    from PySide6.QtCore import QTimer

    started = False

    def start(*_args: object) -> None:
        nonlocal started
        if not started:
            started = True
            win.engine.start(win.doc.project.params.pack)

    if with_clip:
        win.viewer.frame_shown.connect(start)
        QTimer.singleShot(5000, start)  # a clip that never shows a frame must not keep it cold
    else:
        QTimer.singleShot(0, start)


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if "--selftest" in raw:  # offscreen end-to-end check of this install (packaging/smoke_test.sh)
        from app.selftest import run_selftest

        rest = [a for a in raw if a != "--selftest"]
        problem = _selftest_preflight(rest)
        if problem:  # one line, no window, no half-run pipeline
            print(f"v2a-studio --selftest: {problem}", file=sys.stderr, flush=True)
            return 2
        return run_selftest(rest)
    args = parse_args(raw)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.ui.main_window import MainWindow, load_style

    # Hand the GIL over more often so the GUI thread stays smooth while the engine thread runs
    # Python-heavy work (the default 5 ms lets a busy worker hold it for long stretches).
    sys.setswitchinterval(0.001)
    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    qapp.setApplicationName("V2A Studio")
    qapp.setOrganizationName("V2A")
    load_style(qapp)
    from PySide6.QtGui import QIcon

    from app.firstrun import app_version
    from engine.api import app_icon_path

    if (icon := app_icon_path()) is not None:
        qapp.setWindowIcon(QIcon(str(icon)))
    qapp.setApplicationVersion(app_version())
    qapp.setDesktopFileName("v2a-studio")
    _install_excepthook()
    shot = args.screenshot is not None
    win = MainWindow(autosave=not shot, interactive=not shot)
    if shot:
        win.resize(*SHOT_SIZE)
    else:  # last session's window, or one that fits this screen (1600×900 where it can)
        win.restore_window_state()
    win.show()
    state = {"rc": 1, "settled": None, "failed": False}
    if shot:
        def fail(_title: str, message: str) -> None:
            # Nobody can click a dialog in a scripted run: one line on stderr, no PNG, exit 2.
            print(f"v2a-studio: {' '.join(message.split())}", file=sys.stderr, flush=True)
            state["rc"], state["failed"] = 2, True
            win.shutdown()
            qapp.exit(2)

        win.error_sink = fail
    if not shot:
        QTimer.singleShot(0, win.offer_recovery)
        QTimer.singleShot(0, lambda: _show_startup_messages(win))
    schedule_engine_start(win, with_clip=bool(args.file))
    if args.file:
        QTimer.singleShot(0, lambda: win.open_path(args.file))
    if not shot:
        return qapp.exec()

    out = Path(args.screenshot)
    t0 = time.monotonic()

    def poll() -> None:
        if state["failed"]:
            return
        if time.monotonic() - t0 > args.timeout:
            print(f"v2a-studio: timed out waiting for the window to be ready ({args.timeout:.0f} s)", file=sys.stderr)
            win.shutdown()
            qapp.exit(2)
            return
        if not _ready(win):
            QTimer.singleShot(50, poll)
            return
        if state["settled"] is None:
            # Give thumbnails and the motion curve a moment, then apply view options.
            state["settled"] = time.monotonic()
            if args.select:
                a, b = (float(x) for x in args.select.split(","))
                win.doc.timeline.set_selection((a, b))
            if args.playhead is not None:
                win.doc.timeline.seek(args.playhead)
            if args.view:
                a, b = (float(x) for x in args.view.split(","))
                win.doc.timeline.set_view(a, b)
            if args.tool:
                win.doc.tools.set("tool", args.tool)
            if args.pointer and win.doc.active_lane is not None:
                t, band = (float(x) for x in args.pointer.split(","))
                row = win.timeline.lane_rows.get(win.doc.active_lane.id)
                if row is not None:
                    row.box.show_outline(t, band)
        waiting = not win.timeline.thumbs.settled or not len(win.doc.motion_curve)
        if (waiting and time.monotonic() - state["settled"] < 10) or time.monotonic() - state["settled"] < 0.6:
            QTimer.singleShot(50, poll)
            return
        win.resize(*SHOT_SIZE)
        qapp.processEvents()
        img = win.grab()
        if (img.width(), img.height()) != SHOT_SIZE:
            from PySide6.QtCore import Qt

            img = img.scaled(*SHOT_SIZE, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
        ok = img.save(str(out), "PNG")
        print(f"v2a-studio: screenshot {'saved to' if ok else 'FAILED for'} {out}")
        state["rc"] = 0 if ok else 1
        win.shutdown()
        qapp.exit(state["rc"])

    QTimer.singleShot(100, poll)
    qapp.exec()
    return state["rc"]


if __name__ == "__main__":
    sys.exit(main())
