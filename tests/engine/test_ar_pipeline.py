"""AR engine end to end with a tiny random pack: pack I/O, generate(), exact durations,
takes vs seeds, continuation / region regeneration."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

import engine.ar as ar
from engine.ar.codec import CodecConfig, MelRVQCodec
from engine.ar.model import ARConfig, ARTransformer
from engine.ar.pack import load_ar_pack, save_ar_pack
from engine.ar.pipeline import ARModels, codes_to_audio, generate_codes
from engine.ar.sampling import SampleSettings
from engine.ar.visual import DEFAULT_VISUAL, feature_dim, features_for_video
from engine.errors import PackError
from engine.media import probe
from engine.progress import run_to_completion
from engine.types import AudioLayout, GenerationRequest


def tiny_models(seed: int = 0) -> ARModels:
    torch.manual_seed(seed)
    codec = MelRVQCodec(CodecConfig(hidden=16, latent=8, n_codebooks=3, codebook_size=32, n_res=1)).eval()
    cfg = ARConfig(n_codebooks=3, codebook_size=32, d_model=32, n_layers=2, n_heads=2, ffn_hidden=48,
                   visual_dim=feature_dim(DEFAULT_VISUAL), d_visual=8, d_layout=8, text_dim=384, context=24)
    return ARModels(codec, ARTransformer(cfg).eval(), griffin_lim_iters=2)


@pytest.fixture(scope="module")
def tiny_pack(tmp_path_factory):
    d = tmp_path_factory.mktemp("packs") / "tiny-ar"
    save_ar_pack(d, tiny_models(), DEFAULT_VISUAL, {"guidance": 6.0, "top_k": 16, "stride": 6}, name="tiny-ar")
    return d


@pytest.fixture(autouse=True)
def only_tmp_packs(tiny_pack, monkeypatch):
    # hermetic: no installed pack (e.g. the diffusion starter's layout predictor) is used
    monkeypatch.setenv("V2A_PACKS", str(tiny_pack.parent))


@dataclasses.dataclass(frozen=True)
class ContextRequest(GenerationRequest):
    context_audio: tuple | None = None


def test_pack_round_trip_and_refusals(tiny_pack, tmp_path):
    assert ar.can_load(tiny_pack)
    assert not ar.can_load(tmp_path)
    models, sec = load_ar_pack(tiny_pack)
    ref = tiny_models()
    for a, b in zip(models.model.state_dict().values(), ref.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert sec["sampling"]["top_k"] == 16
    man = json.loads((tiny_pack / "pack.json").read_text())
    assert "ar" in man["engines"]
    # a corrupted weight file is refused, naming the file
    bad = tmp_path / "bad"
    save_ar_pack(bad, tiny_models(), DEFAULT_VISUAL, {})
    with open(bad / "ar_model.safetensors", "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(PackError, match="ar_model.safetensors"):
        load_ar_pack(bad)


def test_generate_exact_duration_with_sliding_window(tiny_pack, ntsc_clip):
    # 29.97 fps clip of 2.002 s; the tiny model's window is 24 steps (< 1 s), so it slides.
    dur = probe(ntsc_clip.path).video.duration
    lay = AudioLayout(np.random.default_rng(0).random((20, 5)).astype(np.float32), 10.0)
    req = GenerationRequest(str(ntsc_clip.path), layout=lay, engine="ar", takes=2, seed=5, prompt="door slam")
    stages = []
    takes = run_to_completion(ar.generate(req, str(tiny_pack)), lambda p: stages.append(p.stage))
    assert {"features", "sampling", "decoding"} <= set(stages)
    assert len(takes) == 2 and [t.seed for t in takes] == [5, 6]
    for t in takes:
        assert t.engine == "ar" and t.sample_rate == 16000
        assert len(t.audio) == round(dur * 16000)
        assert np.all(np.isfinite(t.audio)) and t.audio.dtype == np.float32
        assert t.meta["token_frames"] == int(np.ceil(dur * 25 - 1e-6))
        assert t.meta["token_frames"] + 2 > 24  # really longer than one window
    assert not np.array_equal(takes[0].audio, takes[1].audio)


def test_take_k_equals_its_seed_alone(tiny_pack, cfr_clip):
    models, _ = load_ar_pack(tiny_pack)
    vis = features_for_video(cfr_clip.path)
    lay = AudioLayout(np.random.default_rng(1).random((20, 5)).astype(np.float32), 10.0)
    st = SampleSettings(guidance=6.0, top_k=16, stride=6)
    both = generate_codes(models, 2.0, lay, vis, settings=st, seed=10, takes=2)
    alone = generate_codes(models, 2.0, lay, vis, settings=st, seed=11, takes=1)
    assert torch.equal(both[1], alone[0])
    y = codes_to_audio(models, both[0], 1.234)
    assert len(y) == round(1.234 * 16000)


def test_region_regeneration_keeps_audio_outside(tiny_pack, cfr_clip):
    sr = 16000
    rng = np.random.default_rng(2)
    dur = probe(cfr_clip.path).video.duration
    context = (0.1 * rng.standard_normal(int(round(dur * sr)))).astype(np.float32)
    lay = AudioLayout(rng.random((20, 5)).astype(np.float32), 10.0)
    req = ContextRequest(str(cfr_clip.path), layout=lay, engine="ar", region=(0.8, 1.5), context_audio=(context, sr))
    (take,) = run_to_completion(ar.generate(req, str(tiny_pack)))
    # the Take contract: the take covers exactly the region and says where it starts
    assert take.start == 0.8 and len(take.audio) == round(1.5 * sr) - round(0.8 * sr)
    a, b = round(0.8 * sr), round(1.5 * sr)
    # it joins the kept audio: its first and last samples are the context's there
    assert take.audio[0] == pytest.approx(context[a], abs=1e-6)
    assert take.audio[-1] == pytest.approx(context[b - 1], abs=1e-3)
    x = int(0.04 * sr)
    assert not np.allclose(take.audio[x : len(take.audio) - x], context[a + x : b - x])
    assert take.meta["continued"] and take.meta["sampled_frames"] < take.meta["token_frames"]


def test_extend_take_after_its_end(tiny_pack, cfr_clip):
    sr = 16000
    context = (0.05 * np.random.default_rng(3).standard_normal(int(1.0 * sr))).astype(np.float32)
    req = ContextRequest(str(cfr_clip.path), engine="ar", context_audio=(context, sr))
    (take,) = run_to_completion(ar.generate(req, str(tiny_pack)))
    dur = probe(cfr_clip.path).video.duration
    # the new sound runs from the context's end to the clip's end, and starts there
    assert take.start == pytest.approx(1.0) and len(take.audio) == round(dur * sr) - sr
    assert np.all(np.isfinite(take.audio)) and np.abs(take.audio).max() > 0
    assert take.meta["layout_source"] == "none"


def test_load_pack_object_drives_generate(tiny_pack, cfr_clip):
    pack = ar.load_pack(str(tiny_pack))
    assert pack.sampling["guidance"] == 6.0 and pack.engine == "ar" and pack.device == "cpu"
    assert ar.resolve_pack_dir(pack) == tiny_pack
    lay = AudioLayout(np.ones((20, 5), np.float32), 10.0)
    req = GenerationRequest(str(cfr_clip.path), layout=lay, engine="ar", guidance=1.5, seed=1)
    (take,) = run_to_completion(ar.generate(req, pack))
    assert take.meta["guidance"] == 1.5 and take.meta["pack"] == "tiny-ar"
    with pytest.raises(PackError):
        ar.load_pack(str(tiny_pack.parent / "missing-pack"))


def test_ar_guidance_5_is_honoured_and_unset_is_the_packs_6(tiny_pack, cfr_clip):
    """An explicit 5.0 used to be taken for "the diffusion default" and replaced by 6.0."""
    lay = AudioLayout(np.full((10, 5), 0.5, np.float32), 10.0)
    base = GenerationRequest(str(cfr_clip.path), layout=lay, engine="ar")
    (five,) = run_to_completion(ar.generate(dataclasses.replace(base, guidance=5.0), str(tiny_pack)))
    (unset,) = run_to_completion(ar.generate(base, str(tiny_pack)))
    assert five.meta["guidance"] == 5.0
    assert unset.meta["guidance"] == 6.0
    (seven,) = run_to_completion(ar.generate(dataclasses.replace(base, guidance=7.0, top_k=3), str(tiny_pack)))
    assert (seven.meta["guidance"], seven.meta["top_k"]) == (7.0, 3)
