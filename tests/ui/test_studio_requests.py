"""What the studio asks the engine for: sampling settings only where the editor changed them
from the pack's recommendation (None = the pack's value)."""

from __future__ import annotations

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
