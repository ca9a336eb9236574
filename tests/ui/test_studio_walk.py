"""The editor's whole workflow, scripted (issue 22): open a clip, mark five hits from the
keyboard on their frames, type a prompt, generate (library engine, real recordings), audition,
export a muxed video with its credits. Real window, real engine worker, offscreen."""

from __future__ import annotations

import numpy as np
import pytest
from studio_helpers import open_and_wait


def test_open_mark_five_hits_prompt_generate_audition_export(qtbot, window, clip, tmp_path, dialogs, monkeypatch):
    from PySide6.QtCore import Qt

    from app.services.jobs import ExportSpec
    from engine.media import probe, read_audio

    monkeypatch.setenv("V2A_LIBRARY", str(tmp_path / "no-user-library"))  # the embedded library
    open_and_wait(qtbot, window, clip, timeout=120000)  # 2 s, 25 fps
    doc = window.doc
    lane = doc.active_lane
    lane.layout.values[:] = 0  # only the hits marked below
    window.activateWindow()
    window.focus_timeline()
    view = window.timeline.glw
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert doc.timeline.playhead == 0.0
    for step in (5, 8, 8, 9, 10):  # step to each contact frame, press H
        for _ in range(step):
            qtbot.keyClick(view, Qt.Key.Key_Right)
        qtbot.keyClick(view, Qt.Key.Key_H)
    hits = lane.layout.event_times()
    assert len(hits) == 5
    assert hits == pytest.approx([0.2, 0.52, 0.84, 1.2, 1.6], abs=0.021)  # frames 5, 13, 21, 30, 40
    assert doc.undo.count() == 5 and doc.undo.undoText() == "Mark hit"

    prompt = window.lanes_panel.prompt
    prompt.setFocus()
    qtbot.keyClicks(prompt, "footsteps on gravel")
    qtbot.keyClick(prompt, Qt.Key.Key_Return)
    assert lane.prompt == "footsteps on gravel"
    gp = window.gen_panel
    gp.engine.setCurrentIndex(gp.engine.findData("library"))
    gp.takes.setValue(1)
    gp.seed.setValue(0)  # the CLI's default seed, locked: the same draw of recordings every run
    gp.lock.setChecked(True)

    with qtbot.waitSignal(window.takes_added, timeout=300000):
        window.generate_lane()
    assert not dialogs
    take = lane.picked_take
    assert take.engine == "library" and take.meta["class"] == "footstep"
    # one real footstep per marked hit, each transient on its hit (the layout's event time)
    placed = take.meta["placed_onsets"]
    assert len(placed) == 5
    assert all(abs(p - h) <= 0.04 for p, h in zip(placed, hits, strict=True))

    doc.timeline.seek(0.0)
    window.generation.audition(0)
    qtbot.waitUntil(lambda: doc.timeline.playhead > 0.2, timeout=10000)  # it plays
    if window.playback.player.has_device:
        assert window.playback.player._consumed > 0  # PortAudio pulled the take's samples
    window.playback.stop()

    out = tmp_path / "dubbed.mp4"
    with qtbot.waitSignal(window.export_done, timeout=120000) as done:
        window.export(ExportSpec(source=str(clip), out=str(out), kind="video", mode="replace", sample_rate=48000))
    assert done.args[0] == [str(out), str(tmp_path / "dubbed.credits.txt")]
    info = probe(out)
    assert info.video is not None and len(info.audio) == 1
    audio, sr = read_audio(out)
    # the exported track has its hits where they were marked
    env = np.abs(audio[: int(2.0 * sr)])
    for h in hits:
        a, b = int((h - 0.03) * sr), int((h + 0.06) * sr)
        assert env[a:b].max() > 2 * (env[max(0, a - int(0.05 * sr)) : a].max() + 1e-4), h  # a new attack
    assert "footstep" in (tmp_path / "dubbed.credits.txt").read_text(encoding="utf-8")
