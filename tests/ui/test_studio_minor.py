"""Issue 22, minor bugs: export options and folder remembered, Audio track off for WAV/FLAC,
Open starts in the last clip's folder, the whole PortAudio message reachable, the docks do
not jump when the shuttle speed shows, the Seed field shows the seed a run drew."""

from __future__ import annotations

from pathlib import Path

import pytest
from studio_helpers import open_and_wait


def test_export_dialog_remembers_options_and_folder(qtbot, window, clip, tmp_path):
    from app.ui.export_dialog import ExportDialog

    open_and_wait(qtbot, window, clip)
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    dlg = ExportDialog(str(clip), window)
    qtbot.addWidget(dlg)
    assert dlg.kind.currentData() == "video" and Path(dlg.out.text()).parent == Path(clip).parent
    dlg.kind.setCurrentIndex(dlg.kind.findData("flac"))
    dlg.rate.setCurrentIndex(dlg.rate.findData(44100))
    dlg.normalize.setChecked(True)
    dlg.lufs.setValue(-16.0)
    dlg.stems.setChecked(True)
    dlg.out.setText(str(out_dir / "mine.flac"))
    dlg._accept()
    assert dlg.result() == dlg.DialogCode.Accepted
    again = ExportDialog(str(clip), window)
    qtbot.addWidget(again)
    assert again.kind.currentData() == "flac" and again.rate.currentData() == 44100
    assert again.normalize.isChecked() and again.lufs.value() == pytest.approx(-16.0) and again.stems.isChecked()
    assert Path(again.out.text()) == out_dir / f"{Path(clip).stem}_v2a.flac"
    # a cancelled dialog changes nothing
    again.kind.setCurrentIndex(again.kind.findData("wav"))
    again.reject()
    third = ExportDialog(str(clip), window)
    qtbot.addWidget(third)
    assert third.kind.currentData() == "flac"


def test_audio_track_choice_is_off_for_audio_files(qtbot, window, clip):
    from app.ui.export_dialog import ExportDialog

    open_and_wait(qtbot, window, clip)
    dlg = ExportDialog(str(clip), window)
    qtbot.addWidget(dlg)
    dlg.show()
    for kind, on in (("video", True), ("wav", False), ("flac", False), ("video", True)):
        dlg.kind.setCurrentIndex(dlg.kind.findData(kind))
        assert dlg.mode.isEnabled() is on and dlg.mode_label.isEnabled() is on, kind
        assert ("Only for video" in dlg.mode.toolTip()) is (not on)


def test_open_dialog_starts_in_the_last_clips_folder(qtbot, window, clip, monkeypatch, studio_home):
    from PySide6.QtWidgets import QFileDialog

    from app.ui.main_window import MainWindow

    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda _p, _t, d="", _f="": (asked.append(d), ("", ""))[1]))
    window.open_dialog()
    open_and_wait(qtbot, window, clip)
    window.open_dialog()
    assert asked[-1] == str(Path(clip).resolve().parent)
    # a new session (no clip open yet) starts there too
    other = MainWindow(autosave=False, interactive=False)
    qtbot.addWidget(other)
    try:
        other.open_dialog()
        assert asked[-1] == str(Path(clip).resolve().parent)
    finally:
        other.shutdown()


LONG = ("No sound: the output device could not be opened (Error opening OutputStream: Invalid sample rate "
        "[PaErrorCode -9997]; ALSA lib pcm.c:2664:(snd_pcm_open_noupdate) Unknown PCM default; device hw:0,0 busy)")


def test_the_whole_portaudio_message_is_reachable(qtbot, window, clip):
    open_and_wait(qtbot, window, clip)
    window.playback.player.problem = LONG
    window.playback.status.emit(LONG)
    lbl = window.sound_label
    assert lbl.full == LONG and LONG in lbl.toolTip()
    assert lbl.text().startswith("No sound: the output device could not be opened")
    assert window.statusBar().currentMessage().startswith("No sound: the output device could not be opened")
    assert lbl.width() <= lbl.maximumWidth()
    window.show_sound_details()
    box = window.sound_details
    assert box.detailedText() == LONG
    assert "could not be opened" in box.text()
    lbl.clicked.emit()  # a click on the note opens the same details
    assert window.sound_details.detailedText() == LONG


def test_docks_do_not_jump_when_the_shuttle_speed_shows(qtbot, window, clip):
    from PySide6.QtWidgets import QDockWidget

    window.resize(1280, 720)
    open_and_wait(qtbot, window, clip)
    qtbot.wait(50)
    lanes = window.findChild(QDockWidget, "LanesDock")
    gen = window.findChild(QDockWidget, "GenerateDock")
    before = (lanes.width(), gen.width(), window.transport_width() if hasattr(window, "transport_width") else 0)
    pb = window.playback
    pb.shuttle("l")
    pb.shuttle("l")  # forward 2×
    assert "2×" in window.viewer_panel.transport.speed_lbl.text()
    qtbot.wait(50)
    assert (lanes.width(), gen.width()) == before[:2]
    pb.shuttle("j")
    pb.shuttle("j")  # reverse 2×
    qtbot.wait(50)
    assert (lanes.width(), gen.width()) == before[:2]
    pb.stop()


def test_seed_field_shows_the_seed_a_run_drew(qtbot, window, clip, monkeypatch):
    open_and_wait(qtbot, window, clip)
    gp = window.gen_panel
    sent = []
    monkeypatch.setattr(window.engine, "submit", lambda label, job, done, failed=None: sent.append(job) or 1)
    monkeypatch.setattr(window.generation, "request", lambda lane, region, orig=window.generation.request: sent.append(orig(lane, region))
                        or sent[-1])
    assert not gp.lock.isChecked()
    gp.seed.setValue(7)
    window.generate_lane()
    req = [r for r in sent if hasattr(r, "seed")][-1]
    assert req.seed != 7  # a new seed was drawn for the run…
    assert gp.seed.value() == req.seed  # …and the field shows it
    gp.lock.setChecked(True)
    window.generate_lane()
    req2 = [r for r in sent if hasattr(r, "seed")][-1]
    assert req2.seed == req.seed == gp.seed.value()
