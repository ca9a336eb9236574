"""generation.load_pack / predict_layout / generate and the CLI, with a tiny random pack."""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from media_helpers import make_clip

from engine.cli.main import main
from engine.engines.diffusion import fit_layout
from engine.errors import LayoutError, PackError
from engine.generation import generate, load_pack, predict_layout
from engine.progress import run_to_completion
from engine.train.packio import random_pack
from engine.types import AudioLayout, GenerationRequest


@pytest.fixture(scope="module")
def tiny_pack_dir(tmp_path_factory) -> Path:
    return random_pack(tmp_path_factory.mktemp("packs") / "tiny", name="tiny", window_seconds=1.0, overlap_seconds=0.25)


@pytest.fixture(scope="module")
def pack(tiny_pack_dir):
    return load_pack(tiny_pack_dir)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    return make_clip(d / "c.mp4", n_frames=60, fps=24, flash_frames=(12, 36))  # 2.5 s at 24 fps


def test_pack_device_and_vocoder_built_once(pack):
    from app.services.engine_worker import pack_device
    from engine.engines.diffusion import vocoder_for

    assert pack.device == "cpu" and pack_device(pack) == "cpu" and pack_device(object()) == "?"
    voc = vocoder_for(pack)
    assert pack.vocoder is voc and vocoder_for(pack) is voc  # built once, then the pack's


def test_predict_layout_grid(pack, clip, tmp_path):
    lay = run_to_completion(predict_layout(clip.path, pack, cache_dir=tmp_path))
    assert lay.values.shape == (63, 5)  # ceil(2.5 s * 25 columns/s)
    assert abs(lay.duration - 2.5) < 1e-6
    assert lay.values.min() >= 0 and lay.values.max() <= 1


def test_generate_takes_cover_the_clip(pack, clip, tmp_path):
    req = GenerationRequest(str(clip.path), steps=2, takes=2, seed=5)
    takes = run_to_completion(generate(req, pack, cache_dir=tmp_path))
    assert [t.seed for t in takes] == [5, 6]
    for t in takes:
        assert t.sample_rate == 16000 and len(t.audio) == 40000  # exactly 2.5 s
        assert np.isfinite(t.audio).all() and np.abs(t.audio).max() <= 1.0
        assert t.engine == "diffusion" and t.layout.values.shape == (63, 5)
    assert not np.allclose(takes[0].audio, takes[1].audio)
    again = run_to_completion(generate(req, pack, cache_dir=tmp_path))
    assert np.allclose(again[0].audio, takes[0].audio)  # seeds reproduce


def test_painted_layout_any_length_and_region(pack, clip, tmp_path):
    painted = AudioLayout(np.zeros((7, 3), np.float32) + 0.5, columns_per_second=10.0)
    req = GenerationRequest(str(clip.path), layout=painted, steps=2, prompt="a door slams", negative_prompt="speech")
    take = run_to_completion(generate(req, pack, cache_dir=tmp_path))[0]
    assert take.layout.values.shape == (63, 5) and np.allclose(take.layout.values, 0.5, atol=1e-5)
    assert take.meta["layout_guidance"] == 1.0 and take.meta["layout_guidance_steps"] == 0.5  # the defaults
    unguided = run_to_completion(generate(replace(req, layout_guidance=0.0), pack, cache_dir=tmp_path))[0]
    assert unguided.meta["layout_guidance"] == 0.0 and not np.allclose(unguided.audio, take.audio)
    reg = GenerationRequest(str(clip.path), steps=2, region=(0.5, 1.75))
    t2 = run_to_completion(generate(reg, pack, cache_dir=tmp_path))[0]
    assert len(t2.audio) == 20000 and t2.meta["region"] == (0.5, 1.75)
    with pytest.raises(LayoutError):
        fit_layout(AudioLayout(np.full((4, 5), np.nan, np.float32)), 2.0, pack)


def test_features_are_cached_by_content(pack, clip, tmp_path, monkeypatch):
    run_to_completion(predict_layout(clip.path, pack, cache_dir=tmp_path))
    assert len(list(tmp_path.glob("*.npz"))) == 1
    import engine.media

    def boom(*a, **k):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(engine.media, "read_frames_array", boom)
    run_to_completion(predict_layout(clip.path, pack, cache_dir=tmp_path))


def test_broken_pack_is_refused_naming_the_file(tiny_pack_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_pack_dir, bad)
    f = bad / "unet.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(PackError) as e:
        load_pack(bad)
    assert "unet.safetensors" in e.value.message
    man = json.loads((tiny_pack_dir / "pack.json").read_text())
    assert man["engine"] == "diffusion" and "networks" in man and man["text_encoder"]["dim"] == 384


def test_pack_with_an_unknown_scheduler_is_refused_at_load(tiny_pack_dir, tmp_path):
    import shutil

    bad = tmp_path / "sched"
    shutil.copytree(tiny_pack_dir, bad)
    man = json.loads((bad / "pack.json").read_text())
    man["sampling"] = {**man.get("sampling", {}), "scheduler": "nope"}
    (bad / "pack.json").write_text(json.dumps(man))
    with pytest.raises(PackError) as e:
        load_pack(bad)
    assert "pack.json" in e.value.message and "nope" in e.value.message


def test_cli_generate_wav_mp4_and_layouts(tiny_pack_dir, clip, tmp_path, capsys):
    from engine.audio import load_layout
    from engine.media import probe, read_audio

    wav = tmp_path / "o.wav"
    lay = tmp_path / "l.npy"
    rc = main(["generate", str(clip.path), "-o", str(wav), "--pack", str(tiny_pack_dir), "--steps", "2",
               "--save-layout", str(lay), "--cache-dir", str(tmp_path / "c"), "--quiet"])
    assert rc == 0 and wav.is_file() and lay.is_file()
    a, sr = read_audio(wav)
    assert sr == 16000 and len(a) == 40000
    assert load_layout(lay).values.shape == (63, 5)
    mp4 = tmp_path / "o.mp4"
    rc = main(["generate", str(clip.path), "-o", str(mp4), "--pack", str(tiny_pack_dir), "--steps", "1",
               "--layout", str(lay), "--takes", "2", "--cache-dir", str(tmp_path / "c"), "--quiet"])
    assert rc == 0
    for p in (mp4, tmp_path / "o_take2.mp4"):
        info = probe(p)
        assert info.video is not None and len(info.audio) == 1
        assert abs(info.audio[0].duration - 2.5) < 0.05
    pl = tmp_path / "p.npy"
    assert main(["predict-layout", str(clip.path), "-o", str(pl), "--pack", str(tiny_pack_dir), "--quiet",
                 "--cache-dir", str(tmp_path / "c")]) == 0
    assert np.allclose(load_layout(pl).values, load_layout(lay).values, atol=1e-6)
    out = capsys.readouterr().out
    assert "wrote" in out


def test_cli_layout_guidance_defaults_to_the_pack_and_can_be_set(tiny_pack_dir, clip, tmp_path, monkeypatch):
    import engine.generation as generation

    seen = []
    real = generation.generate

    def spy(req, pack, **kw):  # records the guidance the takes were made with
        takes = yield from real(req, pack, **kw)
        seen.append(takes[0].meta["layout_guidance"])
        return takes

    monkeypatch.setattr(generation, "generate", spy)
    pack_dir = tmp_path / "pack"
    shutil.copytree(tiny_pack_dir, pack_dir)
    manifest = json.loads((pack_dir / "pack.json").read_text())
    manifest["sampling"]["layout_guidance"] = 2.5
    (pack_dir / "pack.json").write_text(json.dumps(manifest))
    base = ["generate", str(clip.path), "--pack", str(pack_dir), "--steps", "1", "--quiet",
            "--cache-dir", str(tmp_path / "c")]
    assert main([*base, "-o", str(tmp_path / "a.wav")]) == 0
    assert main([*base, "-o", str(tmp_path / "b.wav"), "--layout-guidance", "0"]) == 0
    assert seen == [2.5, 0.0]
    bad = tmp_path / "c.wav"
    assert main([*base, "-o", str(bad), "--layout-guidance", "-1"]) == 2  # one line, nothing written
    assert not bad.exists() and seen == [2.5, 0.0]


def test_cli_errors_are_one_line(tiny_pack_dir, tmp_path, capsys):
    rc = main(["generate", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "x.wav"), "--pack", str(tiny_pack_dir)])
    assert rc == 2
    assert "missing.mp4" in capsys.readouterr().err
    rc = main(["generate", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "x.wav"), "--pack", str(tmp_path / "nopack")])
    assert rc == 2


def test_cli_unusable_device_is_one_line_and_writes_nothing(tiny_pack_dir, clip, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a machine without a GPU
    out = tmp_path / "x.wav"
    for dev, words in (("cuda", "no usable CUDA GPU"), ("tpu", "unknown device 'tpu'")):
        rc = main(["generate", str(clip.path), "-o", str(out), "--pack", str(tiny_pack_dir), "--device", dev, "--quiet"])
        err = capsys.readouterr().err
        assert rc == 2 and words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not out.exists()
    # "auto" falls back to the CPU
    rc = main(["generate", str(clip.path), "-o", str(out), "--pack", str(tiny_pack_dir), "--device", "auto",
               "--steps", "1", "--cache-dir", str(tmp_path / "c"), "--quiet"])
    assert rc == 0 and out.is_file()


def test_demo_command(tiny_pack_dir, clip, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--pack", str(tiny_pack_dir), "--clip", str(clip.path), "--steps", "1", "--quiet"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert "c_v2a.mp4" in names and "c_v2a.wav" in names and "c_v2a_layout.png" in names
    assert str(out / "c_v2a.mp4") in capsys.readouterr().out


@pytest.mark.parametrize("extra", [{}, {"frame_color": 1, "frame_cells": 1}])
def test_frame_stream_pack_predicts_from_motion_frames_and_caches_them(clip, tmp_path, monkeypatch, extra):
    import copy

    from engine.train.packio import TINY_NETWORKS

    nets = copy.deepcopy(TINY_NETWORKS)
    nets["layout"].update(frame_stream=8, frame_size=16, **extra)
    p = load_pack(random_pack(tmp_path / "fs", nets, name="fs", window_seconds=1.0, overlap_seconds=0.25))
    assert p.net("layout").uses_frames
    lay = run_to_completion(predict_layout(clip.path, p, cache_dir=tmp_path / "cache"))
    assert lay.values.shape == (63, 5)
    import engine.media

    monkeypatch.setattr(engine.media, "read_frames_array", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded again")))
    again = run_to_completion(predict_layout(clip.path, p, cache_dir=tmp_path / "cache"))
    np.testing.assert_allclose(again.values, lay.values, atol=1e-6)  # the cached motion frames feed T


def test_motion_colour_pack_feeds_s_the_histograms_and_caches_them(clip, tmp_path, monkeypatch):
    # A pack whose S reads motion-colour histograms: generate works, the features cache keeps
    # the histograms (a second take decodes nothing), and they reach S's colour branch.
    import copy

    import torch

    from engine.train.packio import TINY_NETWORKS

    nets = copy.deepcopy(TINY_NETWORKS)
    nets["cond"]["motion_color_levels"] = 2
    p = load_pack(random_pack(tmp_path / "mc", nets, name="mc", window_seconds=1.0, overlap_seconds=0.25))
    cond = p.net("cond")
    assert cond.color_bins == 8
    with torch.no_grad():  # random_pack keeps the zero init; make the branch say something
        cond.semantic_color[1].weight.normal_()
    seen = []
    cond.semantic_color.register_forward_hook(lambda m, i, o: seen.append(i[0].detach().clone()))
    req = GenerationRequest(str(clip.path), steps=2, takes=1, seed=1)
    takes = run_to_completion(generate(req, p, cache_dir=tmp_path / "cache"))
    assert takes and np.isfinite(takes[0].audio).all()
    x = torch.cat([s.reshape(-1, 8) for s in seen])
    assert x.shape[0] > 0 and float(x.sum(1).max()) == pytest.approx(1.0, abs=1e-4)  # histograms, not zeros
    import engine.media

    monkeypatch.setattr(engine.media, "read_frames_array", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded again")))
    again = run_to_completion(generate(req, p, cache_dir=tmp_path / "cache"))
    np.testing.assert_allclose(again[0].audio, takes[0].audio, atol=1e-5)


def test_guidance_rescale_reaches_the_sampler_from_request_and_cli(pack, clip, tmp_path, tiny_pack_dir):
    """The sampling parameter added in three files (config, request, sampler) works end to end."""
    base = GenerationRequest(str(clip.path), steps=2, seed=3, guidance=9.0)
    plain = run_to_completion(generate(base, pack, cache_dir=tmp_path))[0].audio
    off = run_to_completion(generate(dataclasses.replace(base, guidance_rescale=0.0), pack, cache_dir=tmp_path))[0].audio
    full = run_to_completion(generate(dataclasses.replace(base, guidance_rescale=1.0), pack, cache_dir=tmp_path))[0].audio
    assert np.array_equal(plain, off)  # unset = the pack's 0 = plain CFG
    assert not np.allclose(plain, full)
    out = tmp_path / "r.wav"
    cli = ["generate", str(clip.path), "--pack", str(tiny_pack_dir), "--steps", "1", "--quiet",
           "--cache-dir", str(tmp_path / "c"), "-o", str(out)]
    assert main([*cli, "--guidance-rescale", "1.5"]) == 2 and not out.exists()  # out of 0..1
    assert main([*cli, "--guidance-rescale", "0.7"]) == 0 and out.is_file()
