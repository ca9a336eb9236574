"""The engine runs in one worker process behind the engine thread (docs/STUDIO.md): warm
start, errors with their own message, a killed worker, quitting, and no torch in the GUI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from studio_helpers import open_and_wait

ROOT = Path(__file__).resolve().parents[2]


def _running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _run_script(code: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))


def _lines(out: str, key: str) -> list[str]:
    return [ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith(key + " ")]


def test_start_warms_the_engine_and_quit_stops_the_worker(qtbot, window):
    states: list[tuple[str, str]] = []
    window.engine.engine_state.connect(lambda s, m: states.append((s, m)))
    with qtbot.waitSignal(window.engine.engine_state, check_params_cb=lambda s, _m: s != "loading", timeout=300000):
        window.engine.start(window.doc.project.params.pack)
        assert window.statusBar().currentMessage() == "Loading engine…"  # shown at once
    assert states[0] == ("loading", "Loading engine…")
    kind, message = states[-1]
    assert kind == "ready" and message.startswith("Engine ready"), states
    assert window.statusBar().currentMessage() == message
    assert "starter" in window.engine.devices  # the pack was loaded in the worker
    proc, pid = window.engine.worker.process, window.engine.worker_pid
    assert proc.is_alive() and pid != os.getpid()
    window.engine.shutdown()
    assert proc.exitcode == 0  # it left on its own when asked
    assert not _running(pid)


def test_killed_worker_fails_the_job_once_and_the_next_job_restarts_it(qtbot, window, silent_clip, tiny_pack,
                                                                        dialogs):
    open_and_wait(qtbot, window, silent_clip, timeout=300000)
    doc = window.doc
    doc.project.params.pack = str(tiny_pack)
    doc.project.params.steps = 400
    doc.project.params.takes = 1
    lane = doc.active_lane
    stages: list[str] = []
    window.engine.job_progress.connect(lambda _i, s, _f: stages.append(s))
    window.generate_lane()
    qtbot.waitUntil(lambda: any("sampling" in s for s in stages), timeout=300000)
    pid = window.engine.worker_pid
    with qtbot.waitSignal(window.job_failed, timeout=60000) as failed:
        os.kill(pid, signal.SIGKILL)  # a crash in the middle of sampling
    message = failed.args[0]
    assert "engine process stopped unexpectedly" in message and "signal 9" in message
    qtbot.wait(1500)  # the idle watchdog must not report the same loss again
    assert dialogs == [("Engine", message)]
    assert not window.engine.busy and lane.takes == []
    assert not _running(pid)
    # The next job starts a fresh worker and works.
    doc.project.params.steps = 2
    with qtbot.waitSignal(window.takes_added, timeout=300000) as added:
        window.generate_lane()
    assert added.args == [1] and len(lane.takes) == 1
    assert window.engine.worker_pid not in (None, pid)
    assert len(dialogs) == 1


def test_worker_errors_arrive_with_their_own_message(qtbot, window, silent_clip, tiny_pack, dialogs, tmp_path):
    from engine.errors import PackError
    from engine.generation import load_pack

    broken = tmp_path / "broken"
    shutil.copytree(tiny_pack, broken)
    weights = sorted(broken.glob("*.safetensors"))[0]
    data = bytearray(weights.read_bytes())
    data[-8:] = bytes(b ^ 0xFF for b in data[-8:])  # same size, other bytes: the checksum fails
    weights.write_bytes(bytes(data))
    with pytest.raises(PackError) as in_process:
        load_pack(str(broken))
    open_and_wait(qtbot, window, silent_clip, timeout=300000)
    window.doc.project.params.pack = str(broken)
    window.doc.project.params.steps = 2
    with qtbot.waitSignal(window.job_failed, timeout=300000) as failed:
        window.generate_lane()
    assert failed.args == [in_process.value.message]
    assert weights.name in failed.args[0]
    assert dialogs == [("Engine", in_process.value.message)]
    assert not window.engine.busy


GUI_SCRIPT = r"""
import os, sys, time
from PySide6.QtWidgets import QApplication
from app.ui.main_window import MainWindow

clip, pack = sys.argv[1], sys.argv[2]
app = QApplication([])
win = MainWindow(autosave=False, interactive=False)
win.show()
win.engine.start(win.doc.project.params.pack)
got = []
win.takes_added.connect(got.append)
win.job_failed.connect(lambda m: (print("FAILED", m, flush=True), os._exit(3)))

def wait(cond):
    t0 = time.monotonic()
    while not cond():
        app.processEvents()
        time.sleep(0.005)
        if time.monotonic() - t0 > 500:
            print("TIMEOUT", flush=True)
            os._exit(4)

assert win.open_path(clip)
wait(lambda: win.doc.layout_ready and not win.engine.busy)
win.doc.project.params.pack = pack
win.doc.project.params.steps = 2
win.doc.project.params.takes = 1
win.generate_lane()
wait(lambda: bool(got) and not win.engine.busy)
print("TAKES", got[0], flush=True)
print("TORCH", "torch" in sys.modules, flush=True)
print("PID", win.engine.worker_pid, flush=True)
win.close()  # the user quits: closeEvent shuts the engine down
app.processEvents()
"""


def test_gui_process_never_imports_torch_and_quitting_leaves_no_worker(silent_clip, tiny_pack, studio_home):
    res = _run_script(GUI_SCRIPT, str(silent_clip), str(tiny_pack))
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert _lines(res.stdout, "TAKES") == ["1"]  # a real generation went through the studio
    assert _lines(res.stdout, "TORCH") == ["False"]  # ... without torch in the GUI process
    pid = int(_lines(res.stdout, "PID")[0])
    assert not _running(pid)  # no orphan worker after quitting


KILLED_GUI_SCRIPT = r"""
import os, signal, time
from PySide6.QtWidgets import QApplication
from app.ui.main_window import MainWindow

app = QApplication([])
win = MainWindow(autosave=False, interactive=False)
win.show()
win.engine.start("starter")
t0 = time.monotonic()
while win.engine.worker_pid is None and time.monotonic() - t0 < 120:
    app.processEvents()
    time.sleep(0.01)
print("PID", win.engine.worker_pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the GUI crashes hard, no shutdown at all
"""


def test_worker_ends_when_the_gui_process_is_killed(qtbot, studio_home):
    res = _run_script(KILLED_GUI_SCRIPT)
    assert res.returncode == -signal.SIGKILL, res.stderr[-3000:]
    pid = int(_lines(res.stdout, "PID")[0])
    qtbot.waitUntil(lambda: not _running(pid), timeout=60000)
