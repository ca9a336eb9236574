"""One pipeline (issue 23): settings resolved once from the pack, every engine behind one
protocol, one Take contract (a take covers the requested region and says where it starts)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.engines import ENGINES, get_engine
from engine.errors import PackError
from engine.packs.config import AR_SAMPLING, SamplingConfig, pack_config, resolve, sampling_fields
from engine.progress import run_to_completion
from engine.types import AudioLayout, GenerationRequest

ROOT = Path(__file__).resolve().parents[2]


def test_every_sampling_setting_is_a_request_field_left_none():
    req = GenerationRequest("x.mp4")
    for f in sampling_fields():
        assert hasattr(req, f.name), f"GenerationRequest lacks {f.name}"
        assert getattr(req, f.name) is None, f"{f.name} must default to None (= the pack's)"


def test_resolve_fills_only_what_the_user_left_unset():
    pack = SamplingConfig(steps=12, text_guidance=4.5, scheduler="ddim")
    got = resolve(GenerationRequest("x.mp4", guidance=7.0), pack)
    assert (got.steps, got.text_guidance, got.scheduler, got.guidance) == (12, 4.5, "ddim", 7.0)
    assert resolve(got, SamplingConfig()) == got  # resolving twice changes nothing


def test_pack_config_reads_the_manifest_once_into_typed_settings(tmp_path):
    man = {"name": "p", "engine": "diffusion", "sampling": {"steps": "40", "text_guidance": 2},
           "layout": {"columns_per_second": 25, "onset_threshold": 0.4}, "window_seconds": 3}
    cfg = pack_config(man, tmp_path)
    assert cfg.sampling.steps == 40 and isinstance(cfg.sampling.steps, int)
    assert cfg.sampling.text_guidance == 2.0 and cfg.sampling.guidance == SamplingConfig().guidance
    assert cfg.layout.columns_per_second == 25.0 and cfg.layout.onset_threshold == 0.4
    assert cfg.window_seconds == 3.0
    with pytest.raises(TypeError):
        cfg.manifest["name"] = "changed"  # read-only: settings are changed per request
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.sampling.steps = 3  # type: ignore[misc]
    with pytest.raises(PackError, match=r"sampling\.steps"):
        pack_config({"sampling": {"steps": "many"}}, tmp_path)


def test_ar_pack_defaults_are_v_auras():
    cfg = pack_config({"engines": {"ar": {"sampling": {"top_k": 64}}}}, Path("."))
    assert cfg.engine == "ar" and cfg.sampling.guidance == AR_SAMPLING.guidance == 6.0
    assert cfg.sampling.top_k == 64


def test_engines_keep_one_protocol():
    assert set(ENGINES) == {"diffusion", "ar", "library"}
    for name in ENGINES:
        eng = get_engine(name)
        assert eng.name == name
        for method in ("load", "predict_layout", "generate", "continue_"):
            assert callable(getattr(eng, method)), f"{name} lacks {method}"
    with pytest.raises(ValueError, match="diffusion, ar, library"):
        get_engine("nope")


def test_cli_offers_every_sampling_setting():
    res = subprocess.run([sys.executable, "-m", "engine.cli.main", "generate", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    for f in sampling_fields():
        assert "--" + f.name.replace("_", "-") in res.stdout


def test_region_takes_cover_the_region_and_start_at_it(cfr_clip):
    """The Take contract, on the engine that needs no trained networks (the library engine
    with a given layout); the diffusion and AR engines' region tests are in their files."""
    from engine.library import load_library

    lay = AudioLayout(np.tile(np.array([[0.9] * 5] + [[0.0] * 5] * 4, np.float32), (10, 1)), 25.0)
    req = GenerationRequest(str(cfr_clip.path), layout=lay, engine="library", prompt="footsteps", region=(0.5, 1.25))
    eng = get_engine("library")
    (take,) = run_to_completion(eng.generate(req, load_library(None)))
    assert take.start == 0.5 and take.end == pytest.approx(1.25, abs=1e-4)
    assert len(take.audio) == round(1.25 * take.sample_rate) - round(0.5 * take.sample_rate)
    (whole,) = run_to_completion(eng.generate(dataclasses.replace(req, region=None), load_library(None)))
    assert whole.start == 0.0
    # the region is that stretch of the whole take (same seed, same draw; levels may differ)
    s0 = round(0.5 * whole.sample_rate)
    part = whole.audio[s0 : s0 + len(take.audio)]
    corr = float(np.dot(part, take.audio) / (np.linalg.norm(part) * np.linalg.norm(take.audio) + 1e-12))
    assert corr > 0.999


def test_pack_files_record_the_engines_sampling_block():
    from engine.packs import read_manifest

    man = read_manifest(ROOT / "resources" / "packs" / "starter")
    assert set(man["sampling"]) <= {f.name for f in sampling_fields()}
    assert json.loads(json.dumps(pack_config(man, ROOT).sampling.to_dict()))["steps"] == man["sampling"]["steps"]


def test_stage_timer_gives_each_stage_the_time_before_its_reports(monkeypatch):
    """The benches' timing hook (no copied pipeline): checked on a fake clock."""
    import engine.progress as progress
    from engine.progress import Progress, StageTimer

    clock = iter([0.0, 1.0, 3.0, 3.5, 10.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    timer = StageTimer()  # t = 0

    def job():
        yield Progress("features", 1, 1)  # t = 1
        yield Progress("sampling", 0, 2)  # t = 3
        yield Progress("sampling", 2, 2)  # t = 3.5
        yield Progress("vocoder", 1, 1)  # t = 10
        return "take"

    assert run_to_completion(job(), timer) == "take"
    assert timer.seconds == {"features": 1.0, "sampling": 2.5, "vocoder": 6.5}


def test_continue_joins_the_context_inside_the_region(cfr_clip):
    """``continue_`` (here the library engine, no torch): a regenerated range meets the kept
    audio at both edges; a take extended after the context's end starts at full level."""
    from engine.audio.dsp import join_edges
    from engine.library import load_library

    lay = AudioLayout(np.full((50, 5), 0.7, np.float32), 25.0)
    req = GenerationRequest(str(cfr_clip.path), layout=lay, engine="library", prompt="rain", region=(0.5, 1.5))
    lib = load_library(None)
    (plain,) = run_to_completion(get_engine("library").generate(req, lib))
    sr = plain.sample_rate
    context = (0.2 * np.random.default_rng(0).standard_normal(2 * sr)).astype(np.float32)
    (joined,) = run_to_completion(get_engine("library").continue_(dataclasses.replace(req, context_audio=(context, sr)), lib))
    a, b = round(0.5 * sr), round(1.5 * sr)
    assert joined.start == 0.5 and len(joined.audio) == b - a and joined.meta["continued"]
    assert joined.audio[0] == pytest.approx(context[a], abs=1e-6)  # starts on the kept audio
    assert joined.audio[-1] == pytest.approx(context[b - 1], abs=1e-3)  # and ends back on it
    x = round(0.04 * sr)
    np.testing.assert_array_equal(joined.audio[x:-x], plain.audio[x:-x])  # the middle is the new take
    # extending after the context's end: nothing to fade from, the new audio is untouched at its start
    y = np.ones(1000, np.float32)
    out = join_edges(y, np.zeros(300, np.float32), 400, 100)
    np.testing.assert_array_equal(out, y)
