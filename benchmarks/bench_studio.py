"""Studio responsiveness: launch → first frame, seek latency, paint-stroke latency, playback
frame rate on a 1080p clip, and the longest GUI event-loop stall while the engine generates.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_studio.py
        -> table on stdout, benchmarks/results/studio.json

Clips are made here with PyAV (H.264, 25 fps): 1920×1080 for 10 s and 1280×720 for 10 s,
with keyframes every 2 s (a typical camera/export GOP, so random seeks decode up to 49 frames).

- launch: a fresh process (`python -c`), timed from before `import PySide6` to the first
  decoded frame painted in the viewer, with the clip given on the command line path; the
  engine worker process starts after the clip's first frame, as in app.main.
- seek: random playhead jumps; time until the viewer shows the frame (decode + convert +
  paint), median and p95; and sequential single-frame steps (→ key).
- paint: one mouse-move event of a brush drag on a layout lane, dispatched through the real
  scene (dab + heatmap update) plus the event-loop pass that repaints the dirty region;
  target < 16 ms.
- playback: the transport playing the 1080p clip for 6 s; frames shown per second (the clip is
  25 fps; audio device: whatever PortAudio has, else the system clock) and skipped frames.
- stall: the longest gap between 10 ms timer ticks on the GUI thread while the engine works.
  "first": from a freshly shown window — the engine worker process starts (as app.main does
  right after show: spawn, torch import, default pack load), the clip's layout is predicted,
  then the first generation (tiny random pack of the real classes, CPU, 10 steps, loaded on
  first use); "warm": a second generation. Target < 100 ms for both.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
OUT = ROOT / "benchmarks" / "results" / "studio.json"


def make_clip(path: Path, size: tuple[int, int], seconds: float = 10.0, fps: int = 25) -> Path:
    import av

    if path.exists():
        return path
    with av.open(str(path), "w") as oc:
        vs = oc.add_stream("libx264", rate=Fraction(fps))
        vs.width, vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.options = {"preset": "ultrafast", "g": str(2 * fps), "crf": "23"}
        w, h = size
        yy, xx = np.mgrid[0:h:4, 0:w:4]
        for i in range(int(seconds * fps)):
            # moving gradient texture + a bright square: real motion for the encoder
            base = ((xx + 3 * i) % 256).astype(np.uint8)
            img = np.repeat(np.repeat(np.stack([base, (yy + i) % 256, 255 - base], -1), 4, 0), 4, 1)[:h, :w]
            img = np.ascontiguousarray(img.astype(np.uint8))
            x = int(i / (seconds * fps) * (w - 200))
            img[h // 3 : h // 3 + 200, x : x + 200] = 240
            for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                oc.mux(p)
        for p in vs.encode():
            oc.mux(p)
    return path


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def bench_launch(clip: Path, repeats: int = 3) -> dict:
    code = (
        "import time; t0=time.perf_counter()\n"
        f"import os, sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from PySide6.QtCore import QTimer\n"
        "app = QApplication([])\n"
        "from app.ui.main_window import MainWindow, load_style\n"
        "load_style(app)\n"
        "w = MainWindow(autosave=False, interactive=False); w.resize(1600, 900); w.show()\n"
        "t_win = time.perf_counter()\n"
        "from app.main import schedule_engine_start\n"
        "schedule_engine_start(w, with_clip=True)\n"  # as app.main: the worker starts after the first frame
        f"w.open_path({str(clip)!r})\n"
        "def poll():\n"
        "    if w.viewer.has_frame:\n"
        "        app.processEvents(); w.viewer.repaint()\n"
        "        print('RESULT', t_win - t0, time.perf_counter() - t0, flush=True); w.shutdown(); app.exit(0)\n"
        "    else: QTimer.singleShot(1, poll)\n"
        "QTimer.singleShot(0, poll); app.exec()\n"
    )
    wins, firsts = [], []
    for _ in range(repeats):
        d = tempfile.mkdtemp()
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", V2A_STATE_DIR=d, V2A_CONFIG_DIR=d)
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
        line = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT")]
        if not line:
            raise RuntimeError(res.stderr[-2000:])
        a, b = (float(x) for x in line[0].split()[1:])
        wins.append(a)
        firsts.append(b)
    return {"window_shown_s": round(min(wins), 3), "first_frame_s": round(min(firsts), 3),
            "first_frame_median_s": round(statistics.median(firsts), 3), "repeats": repeats}


def wait_for(app, cond, timeout=30.0) -> bool:
    t0 = time.perf_counter()
    while not cond():
        app.processEvents()
        if time.perf_counter() - t0 > timeout:
            return False
        time.sleep(0.0005)
    return True


def bench_seek(app, win, n: int = 30) -> dict:
    doc = win.doc
    rnd = random.Random(0)
    lat = []
    for _ in range(n):
        frame = rnd.randrange(0, doc.timeline.last_frame)
        want = doc.timeline.frame_of(doc.timeline.playhead)
        while frame == want:
            frame = rnd.randrange(0, doc.timeline.last_frame)
        t_req = doc.timeline.fps and frame / float(doc.timeline.fps)
        t0 = time.perf_counter()
        doc.timeline.seek_frame(frame)
        ok = wait_for(app, lambda f=frame: win.viewer.pts >= 0 and doc.timeline.frame_of(win.viewer.pts + 1e-6) == f)
        win.viewer.repaint()
        if ok:
            lat.append((time.perf_counter() - t0) * 1000)
        del t_req
    step = []
    doc.timeline.seek_frame(10)
    wait_for(app, lambda: doc.timeline.frame_of(win.viewer.pts + 1e-6) == 10)
    for k in range(11, 41):
        t0 = time.perf_counter()
        doc.timeline.step_frames(1)
        wait_for(app, lambda k=k: doc.timeline.frame_of(win.viewer.pts + 1e-6) == k)
        win.viewer.repaint()
        step.append((time.perf_counter() - t0) * 1000)
    return {"random_seek_ms_median": round(statistics.median(lat), 1), "random_seek_ms_p95": round(pct(lat, 95), 1),
            "frame_step_ms_median": round(statistics.median(step), 1), "frame_step_ms_p95": round(pct(step, 95), 1),
            "seeks": len(lat)}


def bench_paint(app, win) -> dict:
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    doc = win.doc
    lane = doc.active_lane
    doc.tools.set("tool", "brush")
    doc.timeline.fit()
    app.processEvents()
    view = win.timeline.glw
    vp = view.viewport()
    L, N = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mods = Qt.KeyboardModifier.NoModifier

    def send(kind, t, band, button, buttons):
        p = QPointF(view.mapFromScene(win.timeline.lane_view_to_scene(lane.id, t, band)))
        QApplication.sendEvent(vp, QMouseEvent(kind, p, QPointF(vp.mapToGlobal(p.toPoint())), button, buttons, mods))

    from app.ui import timeline

    dab_ms: list[float] = []
    timeline.dab_timer = dab_ms.append
    lat = []
    d = doc.duration
    for stroke in range(6):
        band = 0.5 + stroke % 5
        send(QEvent.Type.MouseButtonPress, 0.05 * d, band, L, L)
        for k in range(1, 60):
            t = (0.05 + 0.9 * k / 60) * d
            t0 = time.perf_counter()
            send(QEvent.Type.MouseMove, t, band + 0.3 * np.sin(k / 5), N, L)
            app.processEvents()  # the pending (dirty-region) repaint: the heatmap on screen
            lat.append((time.perf_counter() - t0) * 1000)
        send(QEvent.Type.MouseButtonRelease, 0.95 * d, band, L, N)
        app.processEvents()
    timeline.dab_timer = None
    return {"paint_event_to_repaint_ms_median": round(statistics.median(lat), 2),
            "paint_event_to_repaint_ms_p95": round(pct(lat, 95), 2),
            "paint_event_to_repaint_ms_max": round(max(lat), 2),
            "model_dab_ms_median": round(statistics.median(dab_ms), 3),
            "dabs": len(lat), "undo_steps": doc.undo.count(),
            "layout_grid": list(lane.layout.values.shape), "target_ms": 16.0}


def bench_playback(app, win, seconds: float = 6.0) -> dict:
    doc = win.doc
    shown = []
    win.viewer.frame_shown.connect(lambda pts: shown.append((time.perf_counter(), pts)))
    doc.timeline.seek(0)
    wait_for(app, lambda: win.viewer.pts == 0 or doc.timeline.frame_of(win.viewer.pts + 1e-6) == 0)
    shown.clear()
    dec0 = len(win.viewer.server.decode_ms)
    win.playback.play(1.0)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds and doc.timeline.playing:
        app.processEvents()
        time.sleep(0.001)
    played = doc.timeline.playhead
    win.playback.stop()
    el = time.perf_counter() - t0
    frames = {round(p * float(doc.timeline.fps)) for _, p in shown}
    expected = int(played * float(doc.timeline.fps))
    dec = win.viewer.server.decode_ms[dec0:]
    return {"wall_s": round(el, 2), "played_s": round(played, 2), "frames_shown": len(frames),
            "frames_expected": expected, "shown_fps": round(len(frames) / el, 1),
            "clip_fps": float(doc.timeline.fps), "skipped_frames": max(0, expected - len(frames)),
            "decode_convert_ms_median": round(statistics.median(dec), 1) if dec else None,
            "clock": win.playback.player.clock_source,
            "audio_note": win.playback.player.problem or "audio clock"}


class GapMeter:
    """Gaps between 10 ms timer ticks on the GUI thread, per labelled phase."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: dict[str, list[float]] = {}
        self.phase = ""
        self.last = self.t0 = time.perf_counter()
        self.long: list[tuple[float, float, str]] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self.last) * 1000
        self.gaps.setdefault(self.phase, []).append(gap)
        if gap > 50:  # when the long ones happened (seconds since start), to find their cause
            self.long.append((round(now - self.t0, 2), round(gap, 1), self.phase))
        self.last = now

    def start(self, phase: str) -> None:
        self.phase = phase
        self.last = self.t0 = time.perf_counter()
        self.timer.start()

    def summary(self, *phases: str) -> dict:
        gaps = [g for p in phases for g in self.gaps.get(p, [])]
        return {"gui_max_gap_ms": round(max(gaps), 1) if gaps else None,
                "gui_gap_p99_ms": round(pct(gaps, 99), 1), "ticks": len(gaps)}


def _generate_and_wait(app, win, meter: GapMeter, phase: str) -> dict:
    done = []
    conns = [win.takes_added.connect(lambda n: done.append(n)), win.job_failed.connect(lambda m: done.append(m))]
    t0 = time.perf_counter()
    meter.phase = phase
    win.generate_lane()
    while not done and time.perf_counter() - t0 < 600:
        app.processEvents()
        time.sleep(0.001)
    for c in conns:
        QObject_disconnect(c)
    return {"generation_wall_s": round(time.perf_counter() - t0, 2), "result": str(done[0]) if done else "timeout"}


def QObject_disconnect(conn) -> None:  # noqa: N802 - mirrors QObject.disconnect
    from PySide6.QtCore import QObject

    QObject.disconnect(conn)


def bench_open_control(app, clip: Path) -> dict:
    """The same clip opening with no engine at all (no worker, no prediction): the GUI stalls
    that opening a clip causes by itself, to tell them apart from the engine's."""
    from app.ui.main_window import MainWindow

    win = MainWindow(autosave=False, interactive=False)
    win.resize(1600, 900)
    win.show()
    app.processEvents()
    win.generation.predict_layout = lambda *a, **k: None
    meter = GapMeter()
    meter.start("opening")
    win.open_path(str(clip))
    meter.last = time.perf_counter()
    wait_for(app, lambda: False, 4.0)
    meter.timer.stop()
    win.shutdown()
    win.deleteLater()
    app.processEvents()
    return {**meter.summary("opening"), "gaps_over_50ms": meter.long, "window_s": 4.0,
            "worker_started": False}


def make_tiny_pack(path: Path) -> Path | None:
    """A tiny random pack of the real classes, made in a subprocess so that this (GUI) process
    never imports torch — as in the app."""
    code = f"from engine.train.packio import random_pack; random_pack({str(path)!r}, name='tiny')"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    return path if res.returncode == 0 else None


def bench_stall(app, clip: Path, pack: Path) -> tuple[object, dict]:
    """GUI stalls from launch on: a fresh window starts the engine worker (as app.main does right
    after show), opens the clip (layout prediction with the default pack), then generates with
    ``pack`` (loaded on first use) — the first generation of a session. Then a warm one."""
    from app.ui.main_window import MainWindow

    win = MainWindow(autosave=False, interactive=False)
    win.resize(1600, 900)
    win.show()
    app.processEvents()
    states: list[tuple[float, str, str]] = []
    win.engine.engine_state.connect(lambda s, m: states.append((time.perf_counter(), s, m)))
    meter = GapMeter()
    t0 = time.perf_counter()
    from PySide6.QtCore import QTimer

    # Opening a 1080p clip costs the GUI thread ~200 ms right after its first frame (viewer,
    # timeline, analyzer set-up) with or without an engine (see bench_open_control): that
    # stretch is "opening"; from 0.5 s after the first frame on, the GUI only waits for the engine.
    first_frame: list[float] = []

    def on_frame(_pts) -> None:
        if not first_frame:
            first_frame.append(time.perf_counter())
            QTimer.singleShot(500, lambda: setattr(meter, "phase", "predict") if meter.phase == "opening" else None)

    win.viewer.frame_shown.connect(on_frame)
    meter.start("opening")  # then "predict": worker start (spawn, torch import, pack load) + prediction
    win.engine.start(win.doc.project.params.pack)
    t_open = time.perf_counter()
    win.open_path(str(clip))  # GUI-thread work of opening a clip (probe, set up): not engine work
    open_ms = (time.perf_counter() - t_open) * 1000
    meter.last = time.perf_counter()  # that call's own duration is reported as open_clip_call_ms
    wait_for(app, lambda: win.viewer.has_frame and win.doc.layout_ready and not win.engine.busy, 600)
    t_pred = time.perf_counter() - t0
    doc = win.doc
    doc.project.params.pack = str(pack)
    doc.project.params.steps = 10
    doc.project.params.takes = 1
    first = _generate_and_wait(app, win, meter, "first_generation")  # includes loading the tiny pack
    warm = _generate_and_wait(app, win, meter, "warm_generation")
    meter.timer.stop()
    ready = [t - t0 for t, s, _m in states if s != "loading"]
    out = {
        "first_after_launch": {
            **meter.summary("predict", "first_generation"), **first,
            "including_clip_opening": meter.summary("opening", "predict", "first_generation"),
            "first_frame_s": round(first_frame[0] - t0, 2) if first_frame else None,
            "launch_to_layout_predicted_s": round(t_pred, 2),
            "engine_ready_s": round(ready[0], 2) if ready else None,
            "engine_state": states[-1][2] if states else None,
            "open_clip_call_ms": round(open_ms, 1),
            "gaps_over_50ms": meter.long,  # (s since window shown, ms, phase)
            "engine_states": [(round(t - t0, 2), s, m) for t, s, m in states],
            "note": "from 0.5 s after the clip's first frame (the worker was started when the window was "
                    "shown): worker process start + torch import + default pack load + layout prediction "
                    "+ first generation (tiny pack loaded on first use); including_clip_opening adds the "
                    "GUI-thread work of opening the clip (open_path itself reported as open_clip_call_ms)",
        },
        "first_generation_only": meter.summary("first_generation"),
        "warm": {**meter.summary("warm_generation"), **warm},
        "timer_interval_ms": 10, "target_ms": 100,
        "engine": "worker process behind the engine thread (app.services.engine_worker)",
    }
    return win, out


def main() -> None:
    from PySide6.QtWidgets import QApplication

    tmp = Path(tempfile.mkdtemp(prefix="bench_studio_"))
    os.environ["V2A_STATE_DIR"] = os.environ["V2A_CONFIG_DIR"] = str(tmp / "home")
    clips = {"1080p": make_clip(tmp / "clip_1080p.mp4", (1920, 1080)), "720p": make_clip(tmp / "clip_720p.mp4", (1280, 720))}
    results: dict = {
        "benchmark": "studio",
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
                    "qt_platform": os.environ.get("QT_QPA_PLATFORM"),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                    "note": "shared 2-core machine, offscreen Qt platform (software raster); other jobs may have been running"},
        "clips": {k: "H.264 25 fps 10 s, GOP 50, made with PyAV" for k in clips},
    }
    results["launch_1080p"] = bench_launch(clips["1080p"])
    print("launch", results["launch_1080p"], flush=True)
    sys.setswitchinterval(0.001)  # as app.main does
    app = QApplication.instance() or QApplication([])
    from app.ui.main_window import MainWindow, load_style

    load_style(app)
    for name, clip in clips.items():
        if name == "1080p":
            results["gui_stall_opening_clip_without_engine"] = bench_open_control(app, clip)
            print("open control", results["gui_stall_opening_clip_without_engine"], flush=True)
            pack = make_tiny_pack(tmp / "tinypack")
            if pack is not None:
                win, results["gui_stall_during_generation"] = bench_stall(app, clip, pack)
                results["gui_stall_during_generation"]["torch_in_gui_process"] = "torch" in sys.modules
                print("stall", results["gui_stall_during_generation"], flush=True)
            else:
                results["gui_stall_during_generation"] = {"skipped": "generation not available in this build"}
                win = None
        else:
            win = None
        if win is None:
            win = MainWindow(autosave=False, interactive=False)
            win.resize(1600, 900)
            win.show()
            win.open_path(str(clip))
        wait_for(app, lambda w=win: w.viewer.has_frame and w.doc.layout_ready and not w.engine.busy, 300)
        results[f"seek_{name}"] = bench_seek(app, win)
        print("seek", name, results[f"seek_{name}"], flush=True)
        if name == "1080p":
            results["paint_1080p_window"] = bench_paint(app, win)
            print("paint", results["paint_1080p_window"], flush=True)
            results["playback_1080p"] = bench_playback(app, win)
            print("playback", results["playback_1080p"], flush=True)
        win.shutdown()
        win.deleteLater()
        app.processEvents()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {OUT}")
    rows = [
        ("launch → first frame (1080p)", f"{results['launch_1080p']['first_frame_s']:.2f} s"),
        ("seek 1080p median / p95", f"{results['seek_1080p']['random_seek_ms_median']} / {results['seek_1080p']['random_seek_ms_p95']} ms"),
        ("seek 720p median / p95", f"{results['seek_720p']['random_seek_ms_median']} / {results['seek_720p']['random_seek_ms_p95']} ms"),
        ("frame step 1080p median", f"{results['seek_1080p']['frame_step_ms_median']} ms"),
        ("paint event→repaint median / p95", f"{results['paint_1080p_window']['paint_event_to_repaint_ms_median']} / {results['paint_1080p_window']['paint_event_to_repaint_ms_p95']} ms"),
        ("playback 1080p shown fps", f"{results['playback_1080p']['shown_fps']} of {results['playback_1080p']['clip_fps']:g}"),
    ]
    st = results.get("gui_stall_during_generation", {})
    if "warm" in st:
        f = st["first_after_launch"]
        rows.append(("GUI max stall, launch → first generation (worker start, pack loads)",
                     f"{f['gui_max_gap_ms']} ms (p99 {f['gui_gap_p99_ms']} ms)"))
        rows.append(("  … including opening the 1080p clip / opening it with no engine",
                     f"{f['including_clip_opening']['gui_max_gap_ms']} / "
                     f"{results['gui_stall_opening_clip_without_engine']['gui_max_gap_ms']} ms"))
        rows.append(("GUI max stall, warm generation", f"{st['warm']['gui_max_gap_ms']} ms (p99 {st['warm']['gui_gap_p99_ms']} ms)"))
        rows.append(("engine ready after launch", f"{f['engine_ready_s']} s"))
    w = max(len(r[0]) for r in rows)
    for a, b in rows:
        print(f"{a:<{w}}  {b}")


if __name__ == "__main__":
    main()
