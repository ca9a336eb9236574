"""Project save/load round trip, mixing with mute/solo, splicing, loudness (no Qt)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.model.layout import LayoutDoc
from app.model.mix import integrated_loudness, mix, normalize_loudness, render_stems, splice
from app.model.project import Lane, Project, ProjectError, TakeRecord


def _project(tmp_path):
    p = Project(str(tmp_path / "clip.mp4"))
    rng = np.random.default_rng(1)
    for name in ("steps", "door"):
        lay = LayoutDoc(rng.random((30, 5)).astype(np.float32), 10.0)
        lane = Lane(name, lay, prompt=f"{name} sound", negative_prompt="music")
        lane.gain_db = -3.0
        lane.takes.append(TakeRecord(rng.uniform(-0.5, 0.5, 16000 * 3).astype(np.float32), 16000, 7, "diffusion"))
        lane.takes.append(TakeRecord(rng.uniform(-0.5, 0.5, 16000 * 3).astype(np.float32), 16000, 8, "ar", region=(0.5, 1.0)))
        lane.picked = 1
        p.add_lane(lane)
    p.params.steps = 13
    p.params.seed_locked = True
    return p


def test_save_load_round_trip(tmp_path):
    p = _project(tmp_path)
    p.lanes[0].layout.values[3, 2] = 0.25
    out = p.save(tmp_path / "proj.v2aproj")
    doc = json.loads(out.read_text())
    assert doc["format"] == "v2a-studio-project" and len(doc["lanes"]) == 2
    q = Project.load(out)
    assert q.clip_path == p.clip_path and q.params.steps == 13 and q.params.seed_locked
    for a, b in zip(p.lanes, q.lanes, strict=True):
        assert (a.name, a.prompt, a.negative_prompt, a.gain_db, a.picked) == (b.name, b.prompt, b.negative_prompt, b.gain_db, b.picked)
        np.testing.assert_array_equal(a.layout.values, b.layout.values)
        np.testing.assert_array_equal(a.layout.predicted, b.layout.predicted)
        assert [t.seed for t in a.takes] == [t.seed for t in b.takes]
        assert b.takes[1].region == (0.5, 1.0)
        np.testing.assert_allclose(a.takes[0].audio, b.takes[0].audio, atol=1e-5)


def test_save_removes_deleted_takes(tmp_path):
    p = _project(tmp_path)
    out = p.save(tmp_path / "proj.v2aproj")
    gone = p.lanes[0].remove_take(0)
    p.save(out)
    assert not (tmp_path / "proj.v2aproj.data" / f"take_{gone.id}.flac").exists()
    assert len(Project.load(out).lanes[0].takes) == 1


def test_bad_project_files(tmp_path):
    bad = tmp_path / "x.v2aproj"
    bad.write_text("{not json")
    with pytest.raises(ProjectError, match="x.v2aproj"):
        Project.load(bad)
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ProjectError, match="not a V2A Studio project"):
        Project.load(bad)


def test_mute_solo_and_gain():
    sr = 1000
    lanes = []
    for i, v in enumerate((0.1, 0.2, 0.4)):
        ln = Lane(f"l{i}", LayoutDoc(np.zeros((10, 5), np.float32)))
        ln.takes.append(TakeRecord(np.full(sr, v, np.float32), sr, 0, "diffusion"))
        ln.picked = 0
        lanes.append(ln)
    assert mix(lanes, sr, 1.0)[0] == pytest.approx(0.7)
    lanes[1].mute = True
    assert mix(lanes, sr, 1.0)[0] == pytest.approx(0.5)
    lanes[2].solo = True
    assert mix(lanes, sr, 1.0)[0] == pytest.approx(0.4)
    lanes[2].gain_db = -6.0206
    assert mix(lanes, sr, 1.0)[0] == pytest.approx(0.2, rel=1e-3)
    stems = render_stems(lanes, 2 * sr, 1.0)
    assert list(stems) == ["l2"] and len(stems["l2"]) == 2 * sr


def test_splice_keeps_outside_region():
    sr = 1000
    a = np.ones(2000, np.float32)
    b = -np.ones(2000, np.float32)
    out = splice(a, b, sr, (0.5, 1.0), fade=0.01)
    assert out[100] == pytest.approx(1.0) and out[1900] == pytest.approx(1.0)
    assert out[750] == pytest.approx(-1.0)


def test_loudness_normalisation_hits_target():
    sr = 48000
    t = np.arange(sr * 3) / sr
    x = (0.05 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    y, gain = normalize_loudness(x, sr, -23.0)
    assert integrated_loudness(y, sr) == pytest.approx(-23.0, abs=0.2)
    assert gain > 0


def test_region_take_is_spliced_at_its_offset():
    from app.model.mix import spliced_take

    sr = 1000
    base = TakeRecord(np.ones(3000, np.float32), sr, 1, "diffusion")
    region_only = TakeRecord(-np.ones(500, np.float32), sr, 2, "diffusion")  # covers 1.0–1.5 s
    out = spliced_take(base, region_only, (1.0, 1.5), start=1.0)
    assert len(out.audio) == 3000 and out.region == (1.0, 1.5) and out.seed == 2
    assert out.audio[500] == pytest.approx(1.0) and out.audio[1250] == pytest.approx(-1.0)
    assert out.audio[2500] == pytest.approx(1.0)
    # placed by its start, not guessed from its length: a take that starts later lands later
    late = spliced_take(base, TakeRecord(-np.ones(1500, np.float32), sr, 3, "ar"), (1.0, 1.5), start=0.5)
    assert late.audio[700] == pytest.approx(1.0)  # outside the region: the base
    assert late.audio[1250] == pytest.approx(-1.0)


def test_pack_changes_lists_only_differing_pack_settings_typed():
    from app.model.project import GenerationParams

    p = GenerationParams(steps=25, guidance=5.0, layout_guidance=1.0, seed=7)
    sampling = {"steps": 40.0, "guidance": 5, "layout_guidance": "2.5", "scheduler": "ddim", "seed": 1}
    changes = p.pack_changes(sampling)
    assert changes == {"steps": 40, "layout_guidance": 2.5}  # guidance equal; scheduler/seed not the pack's
    assert type(changes["steps"]) is int and p.steps == 25  # nothing applied
    assert p.pack_changes({}) == {}
