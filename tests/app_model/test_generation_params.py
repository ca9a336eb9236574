"""GenerationParams → GenerationRequest: the studio passes only the sampling settings the
editor changed from what the pack recommends (None = "the pack's value", filled by
``engine.packs.config.resolve`` from the pack that runs). No Qt."""

from __future__ import annotations

from app.model.project import GenerationParams
from engine.api import GenerationRequest, SamplingConfig, sampling_defaults
from engine.packs.config import resolve


def _params_of(pack: str) -> GenerationParams:
    """A new project's settings: its pack's recommendations (as the studio opens a clip)."""
    p = GenerationParams(pack=pack)
    for k, v in p.pack_changes(sampling_defaults(pack)).items():
        setattr(p, k, v)
    return p


def test_only_settings_that_differ_from_the_pack_go_into_the_request():
    rec = {"steps": 25, "guidance": 5.0, "layout_guidance": 1.0, "text_guidance": 3.0}
    p = GenerationParams(steps=25, guidance=5.0, layout_guidance=1.0)
    assert p.sampling_overrides(rec) == {}
    p.guidance = 4.0
    assert p.sampling_overrides(rec) == {"guidance": 4.0}
    p.steps = 40
    assert p.sampling_overrides(rec) == {"guidance": 4.0, "steps": 40}
    # an int recommendation given as a float (JSON) still compares equal
    assert GenerationParams(steps=25, guidance=5.0, layout_guidance=1.0).sampling_overrides(
        {"steps": 25.0, "guidance": 5, "layout_guidance": 1}) == {}
    # a pack that cannot be read: every setting as shown (nothing to compare against)
    assert p.sampling_overrides(None) == {"steps": 40, "guidance": 4.0, "layout_guidance": 1.0}
    # a recommendation the pack does not make: the editor's value goes in
    assert GenerationParams(steps=25, guidance=5.0, layout_guidance=1.0).sampling_overrides(
        {"steps": 25}) == {"guidance": 5.0, "layout_guidance": 1.0}


def test_an_ar_lane_gets_the_ar_packs_guidance_unless_the_user_changed_it():
    ar = SamplingConfig(**sampling_defaults("starter-ar"))
    assert ar.guidance == 6.0 and SamplingConfig(**sampling_defaults("starter")).guidance == 5.0
    for pack in ("starter", "starter-ar"):  # the project's pack, whichever it is
        p = _params_of(pack)
        p.engine = "ar"
        req = GenerationRequest(video_path="clip.mp4", engine="ar", **p.sampling_overrides(sampling_defaults(pack)))
        assert (req.guidance, req.steps, req.layout_guidance) == (None, None, None)
        assert resolve(req, ar).guidance == 6.0  # what the AR engine samples with
        p.guidance = 4.5  # the editor's own choice wins
        req = GenerationRequest(video_path="clip.mp4", engine="ar", **p.sampling_overrides(sampling_defaults(pack)))
        assert req.guidance == 4.5 and resolve(req, ar).guidance == 4.5


def test_auto_picks_the_engine_per_lane_like_the_cli():
    p = GenerationParams()
    assert p.engine == "auto"  # a new project's default
    assert p.engine_for("", None) == "diffusion"
    assert p.engine_for("   ", None) == "diffusion"
    assert p.engine_for("footsteps on gravel", None) == "library"  # a prompt: real recordings
    assert p.engine_for("", "/sounds/knock.wav") == "library"  # a Sound: real recordings
    for explicit in ("diffusion", "ar", "library"):  # an explicit choice is kept on every lane
        p.engine = explicit
        assert p.engine_for("footsteps", "/sounds/knock.wav") == explicit
        assert p.engine_for("", None) == explicit


def test_the_engine_choice_is_saved_and_older_projects_keep_theirs(tmp_path):
    import json

    import numpy as np

    from app.model.layout import LayoutDoc
    from app.model.project import Lane, Project

    p = Project(str(tmp_path / "clip.mp4"))
    p.add_lane(Lane("steps", LayoutDoc(np.zeros((30, 5), np.float32), 10.0)))
    out = p.save(tmp_path / "auto.v2aproj")
    assert json.loads(out.read_text())["params"]["engine"] == "auto"
    assert Project.load(out).params.engine == "auto"
    p.params.engine = "ar"
    assert Project.load(p.save(tmp_path / "ar.v2aproj")).params.engine == "ar"
    # a project from before "auto": its engine as saved, or diffusion where it names none
    doc = json.loads(out.read_text())
    for params, want in (({**doc["params"], "engine": "diffusion"}, "diffusion"),
                         ({k: v for k, v in doc["params"].items() if k != "engine"}, "diffusion"),
                         (None, "diffusion")):
        old = tmp_path / f"old_{want}_{params is None}.v2aproj"
        old.write_text(json.dumps({**doc, "params": params}))
        assert Project.load(old).params.engine == want
