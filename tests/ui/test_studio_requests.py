"""What the studio asks the engine for: sampling settings only where the editor changed them
from the pack's recommendation (None = the pack's value), and the engine — Auto decides per
lane (library for a lane with a prompt or a Sound, else diffusion)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from studio_helpers import open_and_wait

from engine.api import SamplingConfig, sampling_defaults
from engine.packs.config import resolve


def test_the_request_leaves_the_packs_settings_to_the_pack(qtbot, window, clip):
    open_and_wait(qtbot, window, clip)
    doc, gp, gen = window.doc, window.gen_panel, window.generation
    lane = doc.active_lane
    req = gen.request(lane, None)
    assert (req.steps, req.guidance, req.layout_guidance) == (None, None, None)
    starter = SamplingConfig(**sampling_defaults("starter"))
    assert resolve(req, starter).guidance == starter.guidance == gp.guidance.value()  # what the panel shows
    assert req.layout_strength == 1.0 and req.seed == doc.project.params.seed and req.takes == doc.project.params.takes
    gp.guidance.setValue(7.0)  # the editor's own value goes in; the others stay the pack's
    req = gen.request(lane, None)
    assert req.guidance == 7.0 and req.steps is None and req.layout_guidance is None
    gp.steps.setValue(starter.steps + 5)
    assert gen.request(lane, None).steps == starter.steps + 5
    doc.undo.undo()
    doc.undo.undo()
    assert gen.request(lane, None).guidance is None
    # the AR pack brings its guidance (6.0); the request still leaves it to the pack
    gp.pack.setCurrentIndex(gp.pack.findData("starter-ar"))
    gp.engine.setCurrentIndex(gp.engine.findData("ar"))
    assert doc.project.params.guidance == 6.0
    req = gen.request(lane, None)
    assert req.engine == "ar" and req.guidance is None
    assert resolve(req, SamplingConfig(**sampling_defaults("starter-ar"))).guidance == 6.0
    gp.guidance.setValue(4.5)
    assert gen.request(lane, None).guidance == 4.5


@pytest.fixture
def starter_library(tmp_path, monkeypatch):
    """No user index: the engine reads the embedded starter library."""
    monkeypatch.setenv("V2A_LIBRARY", str(tmp_path / "no-user-library"))


def test_auto_engine_is_decided_per_lane_and_the_take_names_the_engine_used(qtbot, starter_library, window, clip,
                                                                           dialogs):
    from app.ui.panels import AUTO_TIP

    open_and_wait(qtbot, window, clip, timeout=120000)
    doc, gp, gen = window.doc, window.gen_panel, window.generation
    params = doc.project.params
    assert params.engine == "auto" and gp.engine.currentData() == "auto" and gp.engine.currentIndex() == 0
    assert gp.engine.itemData(0, Qt.ItemDataRole.ToolTipRole) == AUTO_TIP
    assert gp.steps.isEnabled() and gp.guidance.isEnabled() and gp.layout_guidance.isEnabled()  # lanes may diffuse
    lane = doc.active_lane
    assert gen.request(lane, None).engine == "diffusion"  # no prompt, no sound
    window.lanes_panel.prompt.setText("footsteps")
    window.lanes_panel.prompt.editingFinished.emit()
    assert gen.request(lane, None).engine == "library"  # a prompt: real recordings
    window.lanes_panel._add()  # a second lane, nothing said about it
    second = doc.active_lane
    assert second is not lane and gen.request(second, None).engine == "diffusion"
    second.reference = str(clip)  # a Sound (set directly: only the rule is under test here)
    assert gen.request(second, None).engine == "library"
    doc.undo.undo()  # the second lane goes
    # an explicit choice is kept whatever the lane says; undo gives Auto back
    gp.engine.setCurrentIndex(gp.engine.findData("diffusion"))
    assert params.engine == "diffusion" and gen.request(lane, None).engine == "diffusion"
    doc.undo.undo()
    assert params.engine == "auto" and gp.engine.currentData() == "auto"

    gp.takes.setValue(1)
    for t in (0.4, 1.2):  # two hits, so the take is not silent whatever the prediction was
        doc.timeline.seek(t)
        window.edit.mark_hit()
    with qtbot.waitSignal(window.takes_added, timeout=300000):
        window.generate_lane()
    assert not dialogs
    take = lane.picked_take
    assert take.engine == "library" and take.meta["class"] == "footstep"
    assert params.engine == "auto"  # the choice stays Auto; the take says what ran
    assert "library · seed" in window.takes_panel.list.item(lane.picked).text()
