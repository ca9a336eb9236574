"""The library engine in the studio (issue 19): engine menu, a lane's Sound (search, Use,
audition, drop), library takes with their notice and credits, credits beside the export.
Runs on the embedded starter library (real recordings), in the real engine worker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from studio_helpers import open_and_wait


@pytest.fixture
def starter_library(tmp_path, monkeypatch):
    """No user index: the engine reads the embedded starter library."""
    monkeypatch.setenv("V2A_LIBRARY", str(tmp_path / "no-user-library"))


def _drop(window, path: Path, lane_id: str | None) -> None:
    """A file dropped from the desktop onto a lane (or onto the ruler when lane_id is None)."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    tl = window.timeline
    if lane_id is None:
        scene = tl.ruler.sceneBoundingRect().center()
    else:
        scene = tl.lane_view_to_scene(lane_id, 1.0, 2.5)
    pos = QPointF(tl.glw.mapFromScene(scene))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    no_button, no_mods = Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, no_button, no_mods)
    QApplication.sendEvent(tl.glw.viewport(), enter)
    assert enter.isAccepted()  # the lane area takes files
    ev = QDropEvent(pos, Qt.DropAction.CopyAction, mime, no_button, no_mods)
    QApplication.sendEvent(tl.glw.viewport(), ev)


def test_library_engine_generates_a_footstep_take_and_exports_credits(qtbot, starter_library, window, clip,
                                                                      tmp_path, dialogs):
    from app.model.project import Project
    from app.services.jobs import ExportSpec
    from app.ui.panels import NOT_FOR_LIBRARY

    open_and_wait(qtbot, window, clip, timeout=120000)
    doc, gp = window.doc, window.gen_panel
    gp.engine.setCurrentIndex(gp.engine.findData("library"))
    assert doc.project.params.engine == "library"
    for w in (gp.steps, gp.guidance, gp.strength, gp.layout_guidance):
        assert not w.isEnabled() and w.toolTip() == NOT_FOR_LIBRARY
    assert gp.seed.isEnabled() and gp.takes.isEnabled()
    doc.undo.undo()  # the engine choice is one undo step; the controls come back
    assert doc.project.params.engine == "auto" and gp.steps.isEnabled() and gp.guidance.toolTip() != NOT_FOR_LIBRARY
    doc.undo.redo()
    assert gp.engine.currentData() == "library" and not gp.steps.isEnabled()
    gp.takes.setValue(1)
    lane = doc.active_lane
    window.lanes_panel.prompt.setText("footsteps")
    window.lanes_panel.prompt.editingFinished.emit()
    assert lane.prompt == "footsteps"
    for t in (0.4, 1.2):  # two hits, so the take is not silent whatever the prediction was
        doc.timeline.seek(t)
        window.edit.mark_hit()
    with qtbot.waitSignal(window.takes_added, timeout=300000) as blocker:
        window.generate_lane()
    assert blocker.args == [1] and not dialogs
    take = lane.picked_take
    assert take.engine == "library" and take.sample_rate in (44100, 48000)
    assert take.meta["class"] == "footstep"
    assert take.duration == pytest.approx(doc.duration, abs=0.05)
    assert float(np.max(np.abs(take.audio))) > 1e-3
    notice = take.meta["notice"]
    assert "footstep" in notice
    assert notice in window.statusBar().currentMessage()
    assert notice in window.takes_panel.note.text() and window.takes_panel.note.isVisibleTo(window.takes_panel)
    credits = take.meta["credits"]
    licenses = {r["license"] for r in take.meta["recordings"]}
    assert credits and licenses and all(r["cls"] == "footstep" for r in take.meta["recordings"])

    out = tmp_path / "dub.wav"
    with qtbot.waitSignal(window.export_done, timeout=120000) as exported:
        window.export(ExportSpec(source=str(clip), out=str(out), kind="wav", sample_rate=48000))
    cred = tmp_path / "dub.credits.txt"
    assert exported.args[0] == [str(out), str(cred)]
    assert "dub.credits.txt" in window.statusBar().currentMessage()  # listed with the results
    text = cred.read_text(encoding="utf-8")
    assert f"{lane.name}:" in text and all(c in text for c in credits)
    assert all(lic in text for lic in licenses)

    # the take's credits survive save and reopen
    saved = Project.load(doc.project.save(tmp_path / "lib.v2aproj"))
    assert saved.lanes[0].takes[0].meta["credits"] == credits
    assert saved.params.engine == "library"


def test_search_use_audition_and_a_search_that_matches_nothing(qtbot, starter_library, window, clip, dialogs):
    from PySide6.QtCore import Qt

    open_and_wait(qtbot, window, clip, timeout=120000)
    panel, lane, doc = window.library_panel, window.doc.active_lane, window.doc
    panel.query.setText("footsteps")
    qtbot.keyClick(panel.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=120000)
    rows = panel.rows
    assert len(rows) == 20 == panel.table.rowCount()
    assert [r["class"] for r in rows[:5]] == ["footstep"] * 5
    assert panel.table.item(0, 0).text().startswith("footstep")
    assert panel.table.item(0, 1).text() == f"{rows[0]['duration']:.1f} s"
    assert panel.table.item(0, 2).text() == rows[0]["source"] and panel.table.item(0, 3).text() == rows[0]["license"]
    assert {"id", "class", "subclass", "source", "license", "duration", "sample_rate", "path", "start"} <= set(rows[0])

    # Audition plays the recording itself through the player (the mix is rendered again on Play)
    panel.table.selectRow(1)
    panel.play.click()
    y, sr = sf.read(rows[1]["path"], dtype="float32", always_2d=True)
    assert window.playback.player.playing
    assert len(window.playback.player._buf) == pytest.approx(len(y) * 48000 / sr, abs=4)
    assert "Auditioning" in window.statusBar().currentMessage()

    # Use sets the lane's sound (one undo step each); undo clears it
    panel.use.click()
    assert lane.reference == rows[1]["path"]
    assert window.lanes_panel.sound.text() == Path(rows[1]["path"]).name
    panel.table.selectRow(0)
    panel.use.click()
    assert lane.reference == rows[0]["path"]
    doc.undo.undo()
    assert lane.reference == rows[1]["path"]
    doc.undo.undo()
    assert lane.reference is None and window.lanes_panel.sound.text() == ""
    req = window.generation.request(lane, None)
    assert req.reference is None
    doc.undo.redo()
    assert window.generation.request(lane, None).reference == rows[1]["path"]

    # nothing matches: the engine's one line, listing the classes, in the panel — no dialog
    panel.query.setText("quarterly spreadsheet totals")
    with qtbot.waitSignal(window.job_failed, timeout=120000):
        qtbot.keyClick(panel.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "classes:" in panel.message.text(), timeout=5000)
    assert "footstep" in panel.message.text() and panel.table.rowCount() == 0
    assert not panel.use.isEnabled() and not dialogs


def test_dropping_files_on_a_lane(qtbot, window, clip, tmp_path, monkeypatch):
    open_and_wait(qtbot, window, clip)
    doc = window.doc
    from app.model.project import Lane
    from app.ui import commands as cmd

    doc.undo.push(cmd.AddLaneCommand(doc.project, Lane("Room", doc.new_lane_layout())))
    first, second = doc.project.lanes
    doc.set_active_lane(0)
    qtbot.waitUntil(lambda: second.id in window.timeline.lane_rows, timeout=2000)
    wav = tmp_path / "my knock.wav"
    sf.write(str(wav), (0.5 * np.sin(np.arange(4800) / 5.0)).astype(np.float32), 48000)
    _drop(window, wav, second.id)  # onto the second lane, not the active one
    assert second.reference == str(wav) and first.reference is None
    assert "my knock.wav" in window.statusBar().currentMessage()
    doc.undo.undo()
    assert second.reference is None

    txt = tmp_path / "notes.txt"
    txt.write_text("not a sound")
    opened: list[str] = []
    monkeypatch.setattr(window.files, "open_path", lambda p: opened.append(str(p)) or True)
    _drop(window, txt, first.id)
    qtbot.wait(20)
    assert first.reference is None and opened == []
    assert "notes.txt is not an audio recording" in window.statusBar().currentMessage()

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")
    _drop(window, broken, first.id)
    assert first.reference is None and "broken.wav" in window.statusBar().currentMessage()

    _drop(window, clip, first.id)  # a video still opens, as anywhere in the window
    qtbot.waitUntil(lambda: opened == [str(clip)], timeout=2000)
    assert first.reference is None
