"""Generate (tiny random pack), cancel, export muxed video, save/reopen, recover, play."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from studio_helpers import open_and_wait

from app.model.project import TakeRecord


def _sha(p) -> str:
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


def _video_packets(path) -> list[bytes]:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [bytes(p) for p in c.demux(s) if p.size]


def _add_take(window, seconds=None, sr=16000, seed=1):
    from app.ui import commands as cmd

    lane = window.doc.active_lane
    n = int((seconds or window.doc.duration) * sr)
    t = np.arange(n) / sr
    audio = (0.3 * np.sin(2 * np.pi * 330 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    window.doc.undo.push(cmd.AddTakesCommand(lane, [TakeRecord(audio, sr, seed, "diffusion")], "test take"))
    return lane


def test_generate_with_tiny_pack_then_cancel(qtbot, window, silent_clip, tiny_pack):
    open_and_wait(qtbot, window, silent_clip, timeout=120000)
    doc = window.doc
    doc.project.params.pack = str(tiny_pack)
    doc.project.params.steps = 2
    doc.project.params.takes = 2
    lane = doc.active_lane
    with qtbot.waitSignal(window.takes_added, timeout=300000) as blocker:
        window.generate_lane()
        assert window.engine.busy  # returned at once; the engine thread works
    assert blocker.args == [2]
    assert len(lane.takes) == 2 and lane.picked == 0
    assert lane.takes[0].duration == pytest.approx(doc.duration, abs=0.05)
    assert lane.takes[0].seed + 1 == lane.takes[1].seed
    qtbot.waitUntil(lambda: window.timeline.mel_img.image is not None, timeout=5000)
    # one undo step removes both takes, redo brings them back
    doc.undo.undo()
    assert lane.takes == [] and lane.picked is None
    doc.undo.redo()
    assert len(lane.takes) == 2
    # regenerate only a selected range: the rest of the picked take is kept sample for sample
    base = lane.picked_take.audio.copy()
    doc.timeline.set_selection((0.5, 1.0))
    with qtbot.waitSignal(window.takes_added, timeout=300000):
        window.generation.regenerate_selection()
    new = lane.picked_take
    assert new.region == (0.5, 1.0) and len(new.audio) == len(base)
    sr = new.sample_rate
    np.testing.assert_array_equal(new.audio[: int(0.4 * sr)], base[: int(0.4 * sr)])
    np.testing.assert_array_equal(new.audio[int(1.1 * sr) :], base[int(1.1 * sr) :])
    # cancel: the job stops, no take is added, the engine stays usable
    count = len(lane.takes)
    doc.project.params.steps = 200
    with qtbot.waitSignal(window.job_cancelled, timeout=300000):
        window.generate_lane()
        qtbot.wait(50)
        window.generation.cancel_job()
    assert len(lane.takes) == count
    assert not window.engine.busy


def test_export_muxed_video_copies_picture(qtbot, window, clip, tmp_path, dialogs):
    open_and_wait(qtbot, window, clip)
    _add_take(window)
    src_hash = _sha(clip)
    from app.services.jobs import ExportSpec

    out = tmp_path / "out.mp4"
    spec = ExportSpec(source=str(clip), out=str(out), kind="video", mode="replace", sample_rate=48000,
                      normalize=True, target_lufs=-23.0, stems=True)
    with qtbot.waitSignal(window.export_done, timeout=120000) as blocker:
        window.export(spec)
    paths = blocker.args[0]
    assert str(out) in paths and out.exists()
    assert any(".stem-" in p for p in paths)
    from engine.media import probe, read_audio

    info = probe(out)
    assert info.video is not None and len(info.audio) == 1
    assert info.audio[0].sample_rate == 48000
    assert _video_packets(out) == _video_packets(clip)  # picture copied bit-exact
    audio, sr = read_audio(out)
    assert np.abs(audio).max() > 0.01
    assert _sha(clip) == src_hash  # source untouched
    # "add" keeps the original track as well
    out2 = tmp_path / "out_add.mp4"
    with qtbot.waitSignal(window.export_done, timeout=120000):
        window.export(ExportSpec(source=str(clip), out=str(out2), kind="video", mode="add"))
    assert len(probe(out2).audio) == 2
    # exporting onto the source is refused with a message, and the source survives
    with qtbot.waitSignal(window.job_failed, timeout=60000):
        window.export(ExportSpec(source=str(clip), out=str(clip), kind="video"))
    assert dialogs and "overwrite" in dialogs[-1][1]
    assert _sha(clip) == src_hash


def test_export_wav(qtbot, window, clip, tmp_path):
    open_and_wait(qtbot, window, clip)
    _add_take(window)
    from app.services.jobs import ExportSpec

    out = tmp_path / "mix.wav"
    with qtbot.waitSignal(window.export_done, timeout=60000):
        window.export(ExportSpec(source=str(clip), out=str(out), kind="wav", sample_rate=44100))
    import soundfile as sf

    data, sr = sf.read(str(out))
    assert sr == 44100 and len(data) == pytest.approx(2.0 * 44100, abs=50)


def test_save_and_reopen_project(qtbot, window, clip, tmp_path, studio_home):
    open_and_wait(qtbot, window, clip)
    doc = window.doc
    lane = _add_take(window)
    lane.layout.values[3:6, 1] = 0.77
    doc.undo.push(__import__("app.ui.commands", fromlist=["x"]).lane_attr(lane, "prompt", "door slam", "p"))
    path = tmp_path / "scene.v2aproj"
    assert window.files.save_to(path)
    assert doc.undo.isClean()
    values = lane.layout.values.copy()
    audio = lane.picked_take.audio.copy()

    from app.ui.main_window import MainWindow

    w2 = MainWindow(autosave=False, interactive=False)
    qtbot.addWidget(w2)
    try:
        w2.show()
        assert w2.open_path(str(path))
        qtbot.waitUntil(lambda: w2.viewer.has_frame, timeout=20000)
        l2 = w2.doc.active_lane
        assert l2.prompt == "door slam"
        np.testing.assert_array_equal(l2.layout.values, values)
        np.testing.assert_allclose(l2.picked_take.audio, audio, atol=1e-5)
        assert w2.doc.project.path == path
        assert str(path.resolve()) in w2.files.recent.load()
    finally:
        w2.shutdown()


def test_autosave_and_crash_recovery(qtbot, clip, studio_home, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from app.ui.main_window import MainWindow

    w1 = MainWindow(autosave=True, interactive=False)
    qtbot.addWidget(w1)
    open_and_wait(qtbot, w1, clip)
    lane = w1.doc.active_lane
    from app.ui import commands as cmd

    w1.doc.undo.push(cmd.lane_attr(lane, "prompt", "rain on a tin roof", "p"))
    slot = w1.files.autosave()
    assert slot is not None and slot.exists()
    note = w1.files.autosave_slot.note
    # Simulate a crash: the process that wrote the slot is gone.
    import json

    meta = json.loads(note.read_text())
    meta["pid"] = 2**22 + 12345
    note.write_text(json.dumps(meta))
    w1.files.autosave_slot = None  # a crashed process never cleans up
    w1.shutdown()

    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Yes))
    w2 = MainWindow(autosave=True, interactive=False)
    qtbot.addWidget(w2)
    try:
        assert w2.offer_recovery()
        assert asked
        assert w2.doc.active_lane.prompt == "rain on a tin roof"
        assert not w2.doc.undo.isClean()  # recovered work is unsaved work
        assert not slot.exists()
    finally:
        w2.shutdown()


def test_import_layout_from_reference_recording(qtbot, window, silent_clip, tmp_path):
    import soundfile as sf

    open_and_wait(qtbot, window, silent_clip)
    sr = 16000
    t = np.arange(int(0.6 * sr)) / sr
    cue = np.zeros_like(t)
    cue[(t > 0.1) & (t < 0.2)] = 0.8 * np.sin(2 * np.pi * 500 * t[(t > 0.1) & (t < 0.2)])
    ref = tmp_path / "cue.wav"
    sf.write(str(ref), cue.astype(np.float32), sr)
    doc = window.doc
    lay = doc.active_lane.layout
    lay.values[:] = 0
    doc.tools.set("snap", "off")
    doc.timeline.seek(1.0)
    window.edit.import_reference_from(str(ref))
    qtbot.waitUntil(lambda: doc.undo.count() == 1, timeout=30000)
    e = lay.values.max(axis=1)
    cps = lay.columns_per_second
    assert e[int(1.15 * cps)] > 0.3
    assert e[: int(0.95 * cps)].max() == 0.0
    assert doc.timeline.selection[0] == pytest.approx(1.0)


def _output_device_reason() -> str | None:
    try:
        import sounddevice as sd
    except OSError as e:
        return f"PortAudio library missing: {e}"
    try:
        sd.query_devices(kind="output")
    except Exception as e:  # noqa: BLE001
        return f"no audio output device: {e}"
    return None


def test_playback_through_portaudio(qtbot, window, clip):
    reason = _output_device_reason()
    if reason:
        pytest.skip(reason)
    open_and_wait(qtbot, window, clip)
    _add_take(window)
    pb = window.playback
    assert pb.player.has_device
    pb.play(1.0)
    qtbot.waitUntil(lambda: window.doc.timeline.playhead > 0.3, timeout=10000)
    assert pb.player._consumed > 0  # the device pulled samples from the mix
    assert window.doc.timeline.playing
    qtbot.waitUntil(lambda: not window.doc.timeline.playing, timeout=15000)  # stops at the end
    assert window.doc.timeline.playhead == pytest.approx(window.doc.duration, abs=0.05)
    # J/K/L shuttle: L twice = 2x forward, K stops
    window.doc.timeline.seek(0)
    pb.shuttle("l")
    pb.shuttle("l")
    assert pb.speed == 2.0
    pb.shuttle("k")
    assert pb.speed == 0 and not window.doc.timeline.playing


def test_mute_solo_change_the_played_mix(qtbot, window, clip):
    open_and_wait(qtbot, window, clip)
    lane = _add_take(window)
    pb = window.playback
    assert np.abs(pb.render_mix()).max() > 0.1
    from app.ui import commands as cmd

    window.doc.undo.push(cmd.lane_attr(lane, "mute", True, "mute"))
    assert np.abs(pb.render_mix()).max() == 0.0
    window.doc.undo.undo()
    assert np.abs(pb.render_mix()).max() > 0.1


def test_mix_row_draws_the_visible_range_at_any_zoom(qtbot, window, clip):
    """Zoomed in, the Mix row shows the visible stretch at full detail (it used to keep 3,000
    min/max pairs over the whole clip, a few blocks per screen when zoomed in)."""
    open_and_wait(qtbot, window, clip)
    _add_take(window)  # a 330 Hz tone gated on and off every 0.25 s
    tl = window.timeline
    x, _ = tl.wave.getData()
    assert x is not None and x.min() < 0.05 and x.max() > window.doc.duration - 0.1
    window.doc.timeline.set_view(0.10, 0.12)  # 20 ms: 320 samples
    qtbot.waitUntil(lambda: tl.wave.getData()[0] is not None and tl.wave.getData()[0].min() >= 0.099, timeout=2000)
    x, y = tl.wave.getData()
    assert x.max() <= 0.121 and len(x) > 100
    # the samples themselves: the tone's cycles (3 ms) are resolved, both half-waves drawn
    assert y.max() > 0.2 and y.min() < -0.2
    crossings = np.count_nonzero(np.diff(np.sign(y)) != 0)
    assert 8 <= crossings <= 20  # 330 Hz over 20 ms: about 13 zero crossings
    window.doc.timeline.set_view(0.0, window.doc.duration)
    qtbot.waitUntil(lambda: tl.wave.getData()[0].max() > window.doc.duration - 0.1, timeout=2000)


@pytest.mark.slow
def test_screenshot_cli(tmp_path, clip, studio_home):
    import subprocess
    import sys

    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-m", "app.main", str(clip), "--screenshot", str(out)],
                         capture_output=True, text=True, timeout=300, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert res.returncode == 0, res.stderr[-2000:]
    from PySide6.QtGui import QImage

    img = QImage(str(out))
    assert (img.width(), img.height()) == (1600, 900)


def test_late_first_frame_after_shutdown_starts_nothing(qtbot, window, clip):
    # A window shut down before its clip's first frame arrived used to start the filmstrip
    # decoder and motion analyzer afterwards; their results then reached deleted widgets.
    assert window.open_path(str(clip))
    window.shutdown()
    window.files.on_first_frame(0.0)
    qtbot.wait(50)
    assert window.files.analyzer is None
    assert window.files.thumbs is None
    assert window.files.pending_start is None
