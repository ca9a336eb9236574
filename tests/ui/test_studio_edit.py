"""Drive the real main window: open, paint, undo, move/nudge a range, bad files."""

from __future__ import annotations

import numpy as np
import pytest
from studio_helpers import open_and_wait


def test_open_clip_shows_frame_timecode_and_layout(qtbot, window, clip):
    open_and_wait(qtbot, window, clip)
    doc = window.doc
    assert doc.timeline.duration == pytest.approx(2.0, abs=0.05)
    lane = doc.active_lane
    assert lane is not None and lane.layout.n_bands >= 1
    # The clip has tone bursts at 0.4 s and 1.2 s: whatever made the layout (predictor or the
    # clip's own audio), it starts from something, and the predicted overlay equals it.
    np.testing.assert_array_equal(lane.layout.values, lane.layout.predicted)
    assert window.viewer.image.width() > 0
    doc.timeline.seek_frame(25)
    assert window.viewer_panel.transport.tc.text() == "00:00:01:00"
    qtbot.waitUntil(lambda: window.viewer.pts == pytest.approx(1.0, abs=1e-3), timeout=5000)


def test_layout_from_clip_audio_when_no_pack(qtbot, window, clip, monkeypatch):
    # No pack installed under this name: the app falls back to the clip's own sound and says so.
    open_and_wait(qtbot, window, clip)
    window.doc.project.params.pack = "no-such-pack"
    window.predict_layout()
    qtbot.waitUntil(lambda: not window.engine.busy, timeout=60000)
    lay = window.doc.active_lane.layout
    energy = lay.values.max(axis=1)
    burst = int(0.45 * lay.columns_per_second)
    quiet = int(0.9 * lay.columns_per_second)
    assert energy[burst] > energy[quiet] + 0.2
    assert "clip's own audio" in window.statusBar().currentMessage()


def test_paint_stroke_is_one_undo_step(qtbot, window, silent_clip, mouse):
    open_and_wait(qtbot, window, silent_clip)
    doc = window.doc
    lane = doc.active_lane
    before = lane.layout.values.copy()
    doc.tools.set("tool", "brush")
    doc.tools.set("intensity", 1.0)
    doc.tools.set("softness", 0.0)
    mouse.drag(window, lane.id, [(0.5, 2.5), (0.6, 2.5), (0.8, 2.5), (1.0, 2.5), (1.2, 2.5)])
    assert doc.undo.count() == 1
    after = lane.layout.values.copy()
    c = lane.layout.columns_per_second
    assert after[int(0.9 * c), 2] == pytest.approx(1.0)
    assert after[int(1.6 * c), 2] == before[int(1.6 * c), 2]
    doc.undo.undo()
    np.testing.assert_array_equal(lane.layout.values, before)
    doc.undo.redo()
    np.testing.assert_array_equal(lane.layout.values, after)
    # Alt erases along the same path (a second, separate undo step)
    from PySide6.QtCore import Qt

    mouse.drag(window, lane.id, [(0.5, 2.5), (0.7, 2.5), (0.9, 2.5), (1.1, 2.5)], Qt.KeyboardModifier.AltModifier)
    assert doc.undo.count() == 2
    assert lane.layout.values[int(0.8 * c), 2] == 0.0


def test_event_tool_stamps_snapped_decay(qtbot, window, clip, mouse):
    open_and_wait(qtbot, window, clip)
    doc = window.doc
    lane = doc.active_lane
    lane.layout.values[:] = 0
    doc.tools.set("tool", "event")
    doc.tools.set("snap", "frames")
    doc.tools.set("intensity", 1.0)
    doc.tools.set("decay", 0.2)
    mouse.click(window, lane.id, 1.013, 1.5)
    vals = lane.layout.values.max(axis=1)
    c0 = int(np.argmax(vals > 0))
    assert c0 / lane.layout.columns_per_second == pytest.approx(1.0, abs=1 / lane.layout.columns_per_second + 1e-6)
    assert vals[c0] == pytest.approx(1.0) and vals[c0 + 3] < vals[c0 + 1] < vals[c0]
    assert doc.undo.count() == 1


def test_move_region_by_drag_and_nudge(qtbot, window, silent_clip, mouse):
    open_and_wait(qtbot, window, silent_clip)
    doc = window.doc
    lane = doc.active_lane
    lay = lane.layout
    cps = lay.columns_per_second
    lay.values[:] = 0
    lay.values[int(0.5 * cps) : int(0.7 * cps)] = 0.9
    doc.tools.set("tool", "select")
    doc.tools.set("snap", "off")
    mouse.drag(window, lane.id, [(0.3, 2.0), (0.4, 2.0), (0.6, 2.0), (0.8, 2.0), (0.9, 2.0)])
    assert doc.timeline.selection == pytest.approx((0.3, 0.9), abs=0.02)
    original = lay.values.copy()
    # Drag inside the selection: move the content 0.5 s later, live, then one undo step.
    mouse.drag(window, lane.id, [(0.6, 2.0), (0.7, 2.0), (0.9, 2.0), (1.1, 2.0)])
    assert doc.undo.count() == 1
    e = lay.values.max(axis=1)
    assert e[int(0.55 * cps)] == 0.0
    assert e[int(1.05 * cps)] == pytest.approx(0.9, abs=0.05)
    assert doc.timeline.selection[0] == pytest.approx(0.8, abs=0.03)
    doc.undo.undo()
    np.testing.assert_array_equal(lay.values, original)
    # Nudge by one frame (Alt+Right) moves by exactly 1001/30000 s.
    doc.timeline.set_selection((0.4, 0.8))
    sel0 = doc.timeline.selection
    window.edit.nudge(1)
    assert doc.timeline.selection[0] == pytest.approx(sel0[0] + 1001 / 30000)
    assert doc.undo.count() == 1
    # copy / paste / delete / reset are undoable range edits too
    window.edit.copy_range()
    doc.timeline.seek(1.2)
    window.edit.paste_range()
    assert lay.values[int(1.4 * cps)].max() > 0.5
    window.edit.delete_range()
    assert lay.values[int(1.4 * cps)].max() == 0.0
    assert doc.undo.count() == 3


def test_stretch_range_with_keys(qtbot, window, silent_clip):
    open_and_wait(qtbot, window, silent_clip)
    doc = window.doc
    lay = doc.active_lane.layout
    cps = lay.columns_per_second
    lay.values[:] = 0
    lay.values[int(0.5 * cps) : int(0.9 * cps)] = 0.8
    doc.tools.set("snap", "off")
    doc.timeline.set_selection((0.5, 0.9))
    window.edit.stretch(1.5)
    assert np.count_nonzero(lay.values.max(axis=1)) == pytest.approx(0.6 * cps, abs=2)
    doc.undo.undo()
    assert np.count_nonzero(lay.values.max(axis=1)) == pytest.approx(0.4 * cps, abs=2)


def test_bad_files_show_a_dialog_naming_the_file(qtbot, window, tmp_path, dialogs, clip):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    assert not window.open_path(str(bad))
    assert dialogs and "broken.mp4" in dialogs[-1][1]
    missing = tmp_path / "gone.mov"
    assert not window.open_path(str(missing))
    assert "gone.mov" in dialogs[-1][1]
    proj = tmp_path / "junk.v2aproj"
    proj.write_text("{")
    assert not window.open_path(str(proj))
    assert "junk.v2aproj" in dialogs[-1][1]
    audio_only = tmp_path / "sound.wav"
    import soundfile as sf

    sf.write(str(audio_only), np.zeros(8000, np.float32), 16000)
    assert not window.open_path(str(audio_only))
    assert "sound.wav" in dialogs[-1][1] and "no video" in dialogs[-1][1]
    # the window still works afterwards
    open_and_wait(qtbot, window, clip)
    assert window.doc.has_clip


def test_keyboard_transport_and_zoom(qtbot, window, clip):
    open_and_wait(qtbot, window, clip)
    tl = window.doc.timeline
    from PySide6.QtCore import Qt

    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert tl.frame_of(tl.playhead) == 2
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert tl.frame_of(tl.playhead) == 1
    span = tl.visible[1] - tl.visible[0]
    qtbot.keyClick(window, Qt.Key.Key_Equal)
    assert tl.visible[1] - tl.visible[0] == pytest.approx(span / 2, rel=0.05)
    # the timeline rows follow the shared view
    x0, x1 = window.timeline.ruler.vb.viewRange()[0]
    assert (x0, x1) == pytest.approx(tl.visible, abs=1e-6)


def test_drop_a_file_opens_it(qtbot, window, clip):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(clip))])
    ev = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(ev)
    qtbot.waitUntil(lambda: window.doc.has_clip and window.viewer.has_frame, timeout=20000)
    assert window.doc.info.path.endswith("tones.mp4")
    assert str(clip.resolve()) in window.files.recent.load()


def test_takes_pick_ab_delete_are_undoable(qtbot, window, clip):
    from app.model.project import TakeRecord
    from app.ui import commands as cmd

    open_and_wait(qtbot, window, clip)
    doc = window.doc
    lane = doc.active_lane
    takes = [TakeRecord(np.full(32000, v, np.float32), 16000, i, "diffusion") for i, v in enumerate((0.1, 0.2, 0.3))]
    doc.undo.push(cmd.AddTakesCommand(lane, takes, "gen"))
    assert lane.picked == 0 and window.takes_panel.list.count() == 3
    window.takes_panel.list.setCurrentRow(2)
    window.takes_panel._pick()
    assert lane.picked == 2 and lane.previous_pick == 0
    window.generation.ab_switch()
    assert lane.picked == 0
    window.generation.ab_switch()
    assert lane.picked == 2
    doc.undo.undo()
    assert lane.picked == 0
    window.takes_panel.list.setCurrentRow(1)
    window.takes_panel._delete()
    assert len(lane.takes) == 2 and lane.picked == 0
    doc.undo.undo()
    assert len(lane.takes) == 3 and lane.takes[1] is takes[1]
    # the mel row shows the picked take (redrawn once per event-loop pass)
    qtbot.waitUntil(lambda: window.timeline.mel_img.image is not None, timeout=5000)
    assert not window.timeline.mel_hint.isVisible()


def test_lane_edits_and_params_are_undoable(qtbot, window, clip):
    open_and_wait(qtbot, window, clip)
    doc = window.doc
    panel = window.lanes_panel
    panel.prompt.setText("glass breaking")
    panel.prompt.editingFinished.emit()
    assert doc.active_lane.prompt == "glass breaking"
    panel._add()
    assert len(doc.project.lanes) == 2 and doc.project.active_lane == 1
    assert doc.active_lane.layout.values.shape == doc.project.lanes[0].layout.values.shape
    window.gen_panel.steps.setValue(40)
    window.gen_panel.steps.setValue(41)  # merges with the previous change: one step
    assert doc.project.params.steps == 41
    n = doc.undo.count()
    doc.undo.undo()
    assert doc.project.params.steps == 25 and window.gen_panel.steps.value() == 25
    doc.undo.undo()
    assert len(doc.project.lanes) == 1
    doc.undo.undo()
    assert doc.active_lane.prompt == ""
    assert n == 3
    window.gen_panel.layout_guidance.setValue(2.0)  # undoable, and what the engine is asked for
    assert doc.project.params.layout_guidance == 2.0
    assert window.generation.request(doc.active_lane, None).layout_guidance == 2.0
    doc.undo.undo()
    assert doc.project.params.layout_guidance == 1.0 and window.gen_panel.layout_guidance.value() == 1.0
    gp = window.gen_panel
    gp.engine.setCurrentIndex(gp.engine.findData("ar"))  # settings the AR engine does not use grey out
    assert doc.project.params.engine == "ar"
    assert not gp.steps.isEnabled() and not gp.strength.isEnabled() and not gp.layout_guidance.isEnabled()
    assert gp.guidance.isEnabled() and gp.seed.isEnabled() and gp.takes.isEnabled()
    doc.undo.undo()
    assert gp.steps.isEnabled() and gp.layout_guidance.isEnabled()


def test_export_dialog_refuses_the_source(qtbot, clip, tmp_path):
    from PySide6.QtWidgets import QDialogButtonBox

    from app.ui.export_dialog import ExportDialog

    dlg = ExportDialog(str(clip))
    qtbot.addWidget(dlg)
    ok = dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dlg.out.text().endswith("tones_v2a.mp4") and ok.isEnabled()
    assert dlg.spec().sample_rate == 48000 and dlg.spec().kind == "video"
    dlg.out.setText(str(clip))
    assert not ok.isEnabled() and "source" in dlg.warn.text()
    dlg.kind.setCurrentIndex(dlg.kind.findData("flac"))
    assert dlg.out.text() == str(clip)  # a path the user typed is kept
    dlg.out.setText(str(tmp_path / "mix.wav"))
    assert not ok.isEnabled()  # FLAC chosen, .wav name
    dlg.out.setText(str(tmp_path / "mix.flac"))
    assert ok.isEnabled() and dlg.spec().kind == "flac"
    dlg.kind.setCurrentIndex(dlg.kind.findData("video"))
    dlg.out.setText(str(tmp_path / "mix.avi"))  # mux cannot write it: refused here, not after the render
    assert not ok.isEnabled() and ".webm" in dlg.warn.text()
    dlg.out.setText(str(tmp_path / "mix.webm"))
    assert ok.isEnabled()


def test_click_and_drag_in_ruler_seeks(qtbot, window, clip, mouse):
    from PySide6.QtCore import QEvent, QPointF, Qt

    open_and_wait(qtbot, window, clip)
    tl = window.timeline
    view = tl.glw

    def px(t):
        return view.mapFromScene(tl.ruler.vb.mapViewToScene(QPointF(t, 0.5)))

    L, N = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mods = Qt.KeyboardModifier.NoModifier
    mouse._send(view, QEvent.Type.MouseButtonPress, px(1.2), L, L, mods)
    mouse._send(view, QEvent.Type.MouseButtonRelease, px(1.2), L, N, mods)
    assert window.doc.timeline.playhead == pytest.approx(1.2, abs=0.02)
    mouse._send(view, QEvent.Type.MouseButtonPress, px(0.4), L, L, mods)
    for t in (0.5, 0.7, 0.9):
        mouse._send(view, QEvent.Type.MouseMove, px(t), N, L, mods)
        qtbot.wait(20)
        assert 0.4 < window.doc.timeline.playhead <= t + 0.02  # follows the drag
    mouse._send(view, QEvent.Type.MouseButtonRelease, px(0.9), L, N, mods)
    assert window.doc.timeline.playhead == pytest.approx(0.9, abs=0.02)


def test_view_follows_the_playhead():
    from fractions import Fraction

    from app.model.timeline import TimelineState

    tl = TimelineState(20.0, Fraction(25))
    tl.set_view(0.0, 4.0)
    tl.seek(5.0)
    tl.follow()
    assert tl.visible[0] <= 5.0 <= tl.visible[1]
    assert tl.visible[1] - tl.visible[0] == pytest.approx(4.0)


def test_a_pack_brings_its_recommended_sampling(qtbot, window, clip, monkeypatch):
    import engine.packs
    from engine.api import SamplingConfig
    from engine.packs.config import resolve

    recommended = {"starter": {"steps": 30, "guidance": 5.0, "layout_guidance": 2.5},
                   "alt": {"steps": 12, "guidance": 3.5, "layout_guidance": 0.0}}
    monkeypatch.setattr(engine.packs, "sampling_defaults", lambda name=None: recommended[name])
    open_and_wait(qtbot, window, clip)  # a new project starts at its pack's recommendation
    doc, panel = window.doc, window.gen_panel
    p = doc.project.params
    assert (p.pack, p.steps, p.guidance, p.layout_guidance) == ("starter", 30, 5.0, 2.5)
    assert panel.layout_guidance.value() == 2.5 and panel.steps.value() == 30
    panel.pack.addItem("alt", "alt")
    panel.pack.setCurrentIndex(panel.pack.findData("alt"))  # picking a pack takes up its settings
    assert (p.pack, p.steps, p.guidance, p.layout_guidance) == ("alt", 12, 3.5, 0.0)
    assert panel.guidance.value() == 3.5
    # the request leaves the pack's own settings to the pack: the engine resolves them to its values
    req = window.generation.request(doc.active_lane, None)
    assert (req.steps, req.guidance, req.layout_guidance) == (None, None, None)
    assert resolve(req, SamplingConfig(**recommended["alt"])).layout_guidance == 0.0
    doc.undo.undo()  # ... as one step
    assert (p.pack, p.steps, p.guidance, p.layout_guidance) == ("starter", 30, 5.0, 2.5)
    assert panel.pack.currentData() == "starter" and panel.steps.value() == 30
