"""A lane's sound (the library engine's reference) and a take's credits: saved with the
project, checked on load, kept through a region splice, written beside every export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.model.layout import LayoutDoc
from app.model.mix import spliced_take
from app.model.project import Lane, Project, ProjectError, TakeRecord
from app.services import jobs
from engine.progress import CancelToken, run_to_completion

CREDIT_A = "step_01.ogg (footstep/gravel) — some-package: a/step_01.ogg — CC0-1.0 — Jane Doe"
CREDIT_B = "door_02.ogg (door/wood) — other-package: b/door_02.ogg — CC-BY-4.0 — John Roe, https://example.org"


def _project(tmp_path: Path, reference) -> Project:
    p = Project(str(tmp_path / "clip.mp4"))
    lane = Lane("steps", LayoutDoc(np.full((20, 5), 0.5, np.float32), 25.0), prompt="footsteps")
    lane.reference = reference
    lane.takes.append(TakeRecord(np.zeros(4410, np.float32), 44100, 3, "library",
                                 meta={"credits": [CREDIT_A], "notice": "prompt names footstep", "class": "footstep",
                                       "recordings": [{"path": "/x/step_01.ogg", "license": "CC0-1.0"}]}))
    lane.picked = 0
    p.add_lane(lane)
    p.add_lane(Lane("room", LayoutDoc(np.zeros((20, 5), np.float32), 25.0)))
    return p


def test_reference_and_credits_round_trip(tmp_path):
    ref = str(tmp_path / "sounds" / "my knock.wav")  # stored as given, even before it exists
    path = _project(tmp_path, ref).save(tmp_path / "p.v2aproj")
    back = Project.load(path)
    assert back.lanes[0].reference == ref
    assert back.lanes[1].reference is None
    take = back.lanes[0].takes[0]
    assert take.meta["credits"] == [CREDIT_A]
    assert take.meta["notice"] == "prompt names footstep" and take.sample_rate == 44100


@pytest.mark.parametrize("bad", [3, ["a.wav"], {"path": "a.wav"}, True])
def test_a_reference_that_is_not_a_path_is_refused(tmp_path, bad):
    path = _project(tmp_path, None).save(tmp_path / "p.v2aproj")
    doc = json.loads(path.read_text())
    doc["lanes"][0]["reference"] = bad
    path.write_text(json.dumps(doc))
    with pytest.raises(ProjectError) as e:
        Project.load(path)
    assert "lanes[0].reference" in e.value.message and "file path" in e.value.message


def test_region_regeneration_keeps_the_base_takes_credits():
    base = TakeRecord(np.zeros(44100, np.float32), 44100, 1, "library", meta={"credits": [CREDIT_A]})
    new = TakeRecord(np.ones(22050, np.float32) * 0.1, 44100, 2, "library", meta={"credits": [CREDIT_B, CREDIT_A]})
    out = spliced_take(base, new, (0.25, 0.75), start=0.25)
    assert out.meta["credits"] == [CREDIT_A, CREDIT_B]


def test_export_writes_the_credits_file_per_lane(tmp_path):
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"not read: audio exports only check they never overwrite it")
    out = tmp_path / "mix.wav"
    spec = jobs.ExportSpec(source=str(src), out=str(out), kind="wav", sample_rate=44100, stems=True)
    a = np.full(4410, 0.1, np.float32)
    sources = [("Steps", a, 44100, 0.0), ("Doors", a, 44100, 0.0), ("Synth", a, 44100, 0.0)]
    credits = [("Steps", [CREDIT_A]), ("Doors", [CREDIT_B]), ("Synth", [])]
    written = run_to_completion(jobs.export_job(spec, sources, 0.1, credits)(None, CancelToken()))
    cred = tmp_path / "mix.credits.txt"
    assert written[0] == str(out) and written[-1] == str(cred)
    text = cred.read_text(encoding="utf-8")
    assert "Steps:\n  " + CREDIT_A in text and "Doors:\n  " + CREDIT_B in text
    assert "CC0-1.0" in text and "CC-BY-4.0" in text and "Synth" not in text
    assert not list(tmp_path.glob(".mix*"))  # the temporary file was renamed, none left
    assert sf.info(str(out)).samplerate == 44100
    # no library take, no credits file
    out2 = tmp_path / "plain.wav"
    written = run_to_completion(jobs.export_job(jobs.ExportSpec(source=str(src), out=str(out2), kind="wav"),
                                                sources[:1], 0.1, [("Steps", [])])(None, CancelToken()))
    assert written == [str(out2)] and not (tmp_path / "plain.credits.txt").exists()


def test_read_sound_and_the_app_side_extension_list_match_the_engine():
    from engine.api import SOUND_EXTENSIONS, read_sound
    from engine.library.records import AUDIO_EXTENSIONS

    assert SOUND_EXTENSIONS == AUDIO_EXTENSIONS
    from engine.library.index import starter_library_dir

    first = max(sorted((starter_library_dir() / "sounds").rglob("*.ogg")), key=lambda p: p.stat().st_size)
    y, sr = read_sound(str(first), 0.0, 0.5)
    assert y.dtype == np.float32 and y.ndim == 1 and len(y) == pytest.approx(0.5 * sr, abs=2) and sr >= 8000


def test_the_worker_reads_the_library_once_and_survives_a_missing_layout_pack(tmp_path, monkeypatch):
    from app.services.engine_worker import EngineContext
    from engine.errors import PackError

    monkeypatch.setenv("V2A_LIBRARY", str(tmp_path / "no-user-library"))  # the starter library
    ctx = EngineContext()

    def no_pack(name):
        raise PackError("not installed", name)

    monkeypatch.setattr(ctx, "pack", no_pack)
    a, b = ctx.library(), ctx.library("missing-pack")
    from engine.library.index import load_index, starter_library_dir

    starter = load_index(starter_library_dir())
    assert a.index is b.index and len(a.index.records) == len(starter) and "footstep" in a.index.classes
    assert b._layout_pack is None  # left to the library's own default: a painted layout needs none
    sentinel = type("P", (), {"engine": "diffusion"})()
    monkeypatch.setattr(ctx, "pack", lambda name: sentinel)
    assert ctx.library("starter")._layout_pack is sentinel and ctx.library().index is a.index


def test_the_worker_loads_a_pack_by_the_engine_it_declares(sample_clip):
    """Choosing the AR pack in the studio loads it as an AR pack (it was loaded as a diffusion
    pack and refused), and an AR take runs through the worker's job on it."""
    import numpy as np

    from app.services import jobs
    from app.services.engine_worker import EngineContext
    from engine.api import AudioLayout, CancelToken, GenerationRequest, run_to_completion

    ctx = EngineContext()
    assert ctx.pack("starter-ar").engine == "ar"
    assert ctx.pack("starter").engine == "diffusion"
    lay = AudioLayout(np.full((25, 5), 0.4, np.float32), 25.0)
    req = GenerationRequest(str(sample_clip), layout=lay, engine="ar", region=(0.0, 1.0))
    out = run_to_completion(jobs._generate_raw([("l1", "Lane 1", req)], "starter-ar", ctx, CancelToken()))
    (take,) = out["l1"]
    assert take.engine == "ar" and take.start == 0.0 and take.duration == 1.0
    assert take.meta["guidance"] == 6.0  # unset: the AR pack's own
