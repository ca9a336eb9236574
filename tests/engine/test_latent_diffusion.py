"""G on the mel VAE's latents (issue 4): a tiny VAE + tiny latent G trained a few steps on
synthetic clips, exported, loaded and sampled; broken VAE files refused; and the mel path
(packs without a "vae" entry) pinned to the output of the code before latents existed.
Tiny configs, CPU, no network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from media_helpers import make_clip, synthetic_records

from engine.errors import PackError
from engine.generation import generate, load_pack
from engine.models.mel_vae import TINY_VAE_CONFIG
from engine.progress import run_to_completion
from engine.timebase import seconds_to_samples
from engine.train.data import ClipSet
from engine.train.export import export_run
from engine.train.packio import TINY_LATENT_NETWORKS, TINY_NETWORKS, base_manifest, random_pack
from engine.train.run import Run, prepare_from_clipsets
from engine.train.trainers import TrainConfig, train_stage
from engine.train.vae import VaeTrainConfig, train_vae
from engine.types import AudioLayout, GenerationRequest

REFERENCE = Path(__file__).parent / "mel_path_reference.json"




def _new_run(path: Path) -> Run:
    nets = json.loads(json.dumps(TINY_NETWORKS))
    nets["layout"]["n_classes"] = 2
    man = base_manifest(nets, name="tiny-latent", classes=["knock", "wood"], window_seconds=1.0, overlap_seconds=0.25)
    sets = {"train": ClipSet.from_records(synthetic_records(6), 2), "val": ClipSet.from_records(synthetic_records(2, 1), 2)}
    return prepare_from_clipsets(path, man, sets)


def _train_run_vae(run: Run, steps: int = 6) -> None:
    cs = run.clipset("train")
    mels = [cs.clip(i)[1] for i in range(len(cs))]
    train_vae(VaeTrainConfig(out=run.out, steps=steps, batch=4, frames=64, lr=2e-3, quiet=True, log_every=1),
              TINY_VAE_CONFIG, [], train_mels=mels, mel_norm=run.manifest["mel_norm"])


@pytest.fixture(scope="module")
def latent_run(tmp_path_factory) -> Run:
    torch.manual_seed(0)
    run = _new_run(tmp_path_factory.mktemp("latent_run"))
    _train_run_vae(run)
    return run


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    # 61 frames at 24 fps = 2.5417 s: an odd length (40667 samples), over two 1 s windows
    return make_clip(tmp_path_factory.mktemp("lclip") / "c.mp4", n_frames=61, fps=24, flash_frames=(12, 36))


def _losses(run: Run, stage: str) -> list[float]:
    return [json.loads(x)["loss"] for x in (run.out / stage / "log.jsonl").read_text().splitlines()]


def test_generator_trains_on_latents_and_exports_a_latent_pack(latent_run, clip, tmp_path, monkeypatch):
    run = latent_run
    cfg = dict(batch=4, log_every=1, ckpt_every=100, quiet=True, lr=3e-3, ema=0.0)
    s = train_stage(run, "generator", TrainConfig(out=run.out, steps=40, **cfg))
    # the run switched to the latent: manifest, G's shape and the frozen VAE copy in nets/
    assert run.latent and (run.out / "nets" / "vae.safetensors").is_file()
    man = json.loads((run.out / "manifest.json").read_text())
    u = man["networks"]["unet"]
    assert (u["in_channels"], u["out_channels"], u["frame_rate"]) == (128, 128, 50.0)
    assert u == {**TINY_LATENT_NETWORKS["unet"], "cond_channels": 6}
    assert man["vae"]["downsample"] == 2 and man["vae"]["latent_channels"] == 4
    lo, hi = man["vae"]["x0_clip"]
    assert lo < 0 < hi
    loss = _losses(run, "generator")
    assert len(loss) == 40 and np.all(np.isfinite(loss))
    assert np.mean(loss[-8:]) < 0.8 * np.mean(loss[:3])  # x0-MSE on latents goes down
    assert np.isfinite(s["val_x0_mse"])
    # the joint stage runs on the same latent
    j = train_stage(run, "joint", TrainConfig(out=run.out, steps=2, **cfg))
    assert np.isfinite(j["train_loss_last"])
    # a fresh Run of the folder is latent too and sees the same G
    again = Run(run.out)
    assert again.latent and again.vae.f == 2

    pack_dir = export_run(again, tmp_path / "pack", half=True)
    pman = json.loads((pack_dir / "pack.json").read_text())
    assert pman["vae"]["kind"] == "autoencoderkl" and pman["vae"]["file"] == "vae.safetensors"
    assert "vae.safetensors" in pman["files"] and pman["vae"]["scaling_factor"] > 0
    pack = load_pack(pack_dir)
    assert pack.vae is not None and pack.vae.f == 2
    for k, v in run.vae.model.state_dict().items():  # the VAE travels unchanged (fp32)
        assert torch.equal(v, pack.vae.model.state_dict()[k])

    # sampling: ceil(n_mel / 2) latent frames at 50 frames/s, in 1 s windows
    import engine.diffusion.sampler as sampler_mod

    plans = []
    real_plan = sampler_mod.plan_windows

    def spy(total, window, overlap, multiple=1):
        out = real_plan(total, window, overlap, multiple)
        plans.append((total, window, overlap, out))
        return out

    monkeypatch.setattr(sampler_mod, "plan_windows", spy)
    req = GenerationRequest(str(clip.path), steps=3, takes=2, seed=4)
    takes = run_to_completion(generate(req, pack, cache_dir=tmp_path / "cache"))
    n = seconds_to_samples(61 / 24, 16000)
    assert n == 40667
    assert [t.seed for t in takes] == [4, 5]
    for t in takes:
        assert len(t.audio) == n and np.isfinite(t.audio).all() and np.abs(t.audio).max() <= 1.0
        assert t.meta["log_mel"].shape == (255, 64)  # ceil(40667 / 160) mel frames from the decoder
    assert not np.allclose(takes[0].audio, takes[1].audio)
    total, window, overlap, (starts, win) = plans[-1]
    assert (total, window, overlap) == (128, 50, 12) and len(starts) >= 3 and win == 50
    # take k is the same sound alone or in a batch
    alone = run_to_completion(generate(GenerationRequest(str(clip.path), steps=3, takes=1, seed=5), pack,
                                       cache_dir=tmp_path / "cache"))
    assert np.allclose(alone[0].audio, takes[1].audio, atol=1e-4)
    # a painted layout on an odd region: the exact sample count, the layout on the latent grid
    painted = AudioLayout(np.full((9, 5), 0.6, np.float32), columns_per_second=10.0)
    reg = (0.3, 1.9371)
    t2 = run_to_completion(generate(GenerationRequest(str(clip.path), steps=2, layout=painted, region=reg), pack,
                                    cache_dir=tmp_path / "cache"))[0]
    assert len(t2.audio) == seconds_to_samples(reg[1], 16000) - seconds_to_samples(reg[0], 16000) == 26194
    total, window, _, _ = plans[-1]
    assert total == int(np.ceil(int(np.ceil(26194 / 160)) / 2)) and window == 50


def test_random_latent_pack_long_clip(tmp_path):
    pack = load_pack(random_pack(tmp_path / "p", name="tl", window_seconds=1.0, overlap_seconds=0.25,
                                 vae_config=TINY_VAE_CONFIG))
    assert pack.net("unet").config["in_channels"] == 128
    c = make_clip(tmp_path / "long.mp4", n_frames=127, fps=25)  # 5.08 s: five 1 s windows
    takes = run_to_completion(generate(GenerationRequest(str(c.path), steps=2, takes=1, seed=0), pack,
                                       cache_dir=tmp_path / "cache"))
    assert len(takes[0].audio) == 81280 and np.isfinite(takes[0].audio).all()


def test_broken_or_mismatched_vae_is_refused_naming_the_file(tmp_path):
    good = random_pack(tmp_path / "good", name="tl", window_seconds=1.0, vae_config=TINY_VAE_CONFIG)
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    f = bad / "vae.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(PackError) as e:
        load_pack(bad)
    assert "vae.safetensors" in str(e.value.path) or "vae.safetensors" in e.value.message
    f.unlink()
    with pytest.raises(PackError) as e:
        load_pack(bad)
    assert "vae.safetensors" in str(e.value.path) or "vae.safetensors" in e.value.message
    # the entry must fit G: a latent of other channels is refused naming pack.json
    odd = tmp_path / "odd"
    shutil.copytree(good, odd)
    man = json.loads((odd / "pack.json").read_text())
    man["vae"]["config"]["latent_channels"] = 8
    man["vae"]["latent_channels"] = 8
    (odd / "pack.json").write_text(json.dumps(man))
    with pytest.raises(PackError) as e:
        load_pack(odd)
    assert "pack.json" in str(e.value.path)
    man["vae"] = {**man["vae"], "kind": "dac"}
    (odd / "pack.json").write_text(json.dumps(man))
    with pytest.raises(PackError):
        load_pack(odd)


def test_mel_run_stays_mel_when_a_vae_arrives_after_g(tmp_path):
    torch.manual_seed(0)
    run = _new_run(tmp_path / "r")
    cfg = dict(batch=2, log_every=1, quiet=True)
    train_stage(run, "generator", TrainConfig(out=run.out, steps=1, **cfg))
    _train_run_vae(run, steps=1)
    train_stage(run, "generator", TrainConfig(out=run.out, steps=2, **cfg))
    assert not run.latent and "vae" not in json.loads((run.out / "manifest.json").read_text())
    pack_dir = export_run(Run(run.out), tmp_path / "pack")
    man = json.loads((pack_dir / "pack.json").read_text())
    assert "vae" not in man and "vae.safetensors" not in man["files"]
    assert man["networks"]["unet"]["in_channels"] == 64 and load_pack(pack_dir).vae is None


def test_mel_path_output_is_pinned(tmp_path):
    """Packs without a "vae" entry give the same sound as before latents existed: the
    reference was produced by the code before this change (tiny random pack, fixed seeds;
    not the shipped starter pack, whose weights change whenever it is retrained). Layout
    guidance, which came later, is off: the reference predates it."""
    ref = json.loads(REFERENCE.read_text())
    c = make_clip(tmp_path / "c.mp4", n_frames=61, fps=24, flash_frames=(12, 36))
    tiny = load_pack(random_pack(tmp_path / "tiny", name="tiny", window_seconds=1.0, overlap_seconds=0.25))
    got = {
        "tiny": run_to_completion(generate(GenerationRequest(str(c.path), steps=3, takes=2, seed=3, layout_guidance=0.0), tiny,
                                           cache_dir=tmp_path / "cache")),
    }
    for name, takes in got.items():
        assert len(takes) == len(ref[name])
        for t, r in zip(takes, ref[name], strict=True):
            assert len(t.audio) == r["n"]
            # tolerances: thread count changes float summation order, and Griffin-Lim's 32
            # iterations amplify that to ~5e-4 in the waveform; a real change is O(0.1)
            np.testing.assert_allclose(t.meta["log_mel"][::23, ::9], np.array(r["mel"]), atol=1e-3, rtol=0)
            np.testing.assert_allclose(t.audio[::997], np.array(r["audio"]), atol=2e-3, rtol=0)
