"""The neural (SpeechT5HifiGan) vocoder: pack kind "hifigan", `v2a pack add-vocoder`, and
`v2a train --stage vocoder` on real recordings. Tiny random configs, CPU, no network."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from media_helpers import make_clip

from engine.audio.mel import MelConfig, log_mel
from engine.engines.diffusion import vocoder_for
from engine.errors import OutputError, PackError
from engine.generation import generate, load_pack
from engine.models.hifigan import (
    AUDIOLDM_CONFIG,
    TINY_CONFIG,
    HifiGanVocoder,
    build_hifigan,
    check_compatible,
    clean_config,
    fold_weight_norm,
)
from engine.packs import read_manifest, verify_pack
from engine.progress import run_to_completion
from engine.train.add_vocoder import add_vocoder
from engine.train.packio import random_pack
from engine.types import GenerationRequest


def _vocoder_folder(d: Path, cfg: dict | None = None, seed: int = 0, weights: str = "model.safetensors") -> Path:
    """A fake AudioLDM-style ``vocoder/`` folder: transformers config.json + safetensors."""
    from safetensors.torch import save_file

    cfg = dict(cfg or TINY_CONFIG, normalize_before=False)
    torch.manual_seed(seed)
    model = build_hifigan(cfg)
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps({"architectures": ["SpeechT5HifiGan"], "model_type": "speecht5_hifigan",
                                               "torch_dtype": "float32", **cfg}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(d / weights))
    return d


@pytest.fixture(scope="module")
def base_pack(tmp_path_factory) -> Path:
    return random_pack(tmp_path_factory.mktemp("packs") / "tiny", name="tiny", window_seconds=1.0, overlap_seconds=0.25)


@pytest.fixture(scope="module")
def hifi_pack(base_pack, tmp_path_factory) -> Path:
    src = _vocoder_folder(tmp_path_factory.mktemp("voc") / "vocoder")
    return add_vocoder(base_pack, src, out_dir=base_pack.parent / "tiny-hifi")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "c.mp4", n_frames=31, fps=24, flash_frames=(10,))  # 1.2917 s


def test_config_checks_and_audioldm_shapes():
    mel = MelConfig()
    cfg = clean_config({**AUDIOLDM_CONFIG, "architectures": ["SpeechT5HifiGan"], "model_type": "speecht5_hifigan"}, "c")
    check_compatible(cfg, mel, "c")  # the AudioLDM vocoder reads exactly our mel
    assert "architectures" not in cfg
    with pytest.raises(PackError, match="80 mel bins"):
        check_compatible(clean_config({**TINY_CONFIG, "model_in_dim": 80}, "c"), mel, "c")
    with pytest.raises(PackError, match="256 samples per mel frame"):
        check_compatible(clean_config({**TINY_CONFIG, "upsample_rates": [4, 4, 16]}, "c"), mel, "c")
    with pytest.raises(PackError, match="model_type"):
        clean_config({**TINY_CONFIG, "model_type": "bert"}, "c")


def test_vocoder_length_and_batching():
    torch.manual_seed(0)
    voc = HifiGanVocoder(build_hifigan(clean_config(TINY_CONFIG, "c")), MelConfig(), max_batch=2)
    mel = torch.randn(3, 37, 64) - 4
    out = voc(mel)
    assert out.shape == (3, 37 * 160) and out.dtype == np.float32
    single = voc(mel[1])
    assert single.shape == (37 * 160,)
    assert np.allclose(single, out[1], atol=1e-5)  # a take sounds the same alone or in a batch


def test_weight_norm_checkpoints_are_folded():
    torch.manual_seed(0)
    m = build_hifigan(clean_config(TINY_CONFIG, "c"))
    ref = {k: v.clone() for k, v in m.state_dict().items()}
    m.apply_weight_norm()
    sd = m.state_dict()
    assert any("parametrizations" in k for k in sd)
    folded = fold_weight_norm(sd)
    assert set(folded) == set(ref)
    for k, v in ref.items():
        assert torch.allclose(folded[k], v, atol=1e-5), k


def test_generate_through_hifigan_exact_length_and_differs_from_griffin_lim(base_pack, hifi_pack, clip, tmp_path):
    man = read_manifest(hifi_pack)
    assert man["vocoder"]["kind"] == "hifigan" and man["vocoder"]["file"] == "vocoder.safetensors"
    assert man["vocoder"]["config"]["model_in_dim"] == 64 and man["name"] == "tiny-hifi"
    assert read_manifest(base_pack)["vocoder"]["kind"] == "griffin-lim"  # input pack untouched
    verify_pack(hifi_pack)
    hp, gp = load_pack(hifi_pack), load_pack(base_pack)
    assert isinstance(vocoder_for(hp), HifiGanVocoder)
    req = GenerationRequest(str(clip.path), steps=2, takes=2, seed=3)
    takes = run_to_completion(generate(req, hp, cache_dir=tmp_path))
    gl = run_to_completion(generate(req, gp, cache_dir=tmp_path))
    n = int(round(31 / 24 * 16000))
    for t, g in zip(takes, gl, strict=True):
        assert len(t.audio) == n and t.audio.dtype == np.float32 and np.isfinite(t.audio).all()
        assert np.abs(t.audio).max() <= 1.0
        assert np.allclose(t.meta["log_mel"], g.meta["log_mel"])  # same mel (same U-Net weights, seed)
        assert not np.allclose(t.audio, g.audio, atol=1e-4)  # ... through a different vocoder
    # the batched vocoder gives each take what it gives that take alone
    alone = vocoder_for(hp)(takes[1].meta["log_mel"])[:n]
    peak = np.abs(alone).max()
    expect = alone * (0.98 / peak) if peak > 0.98 else alone
    assert np.allclose(takes[1].audio, expect, atol=1e-5)


def test_broken_vocoder_files_are_refused_naming_the_file(hifi_pack, tmp_path):
    # checksum mismatch
    bad = tmp_path / "sha"
    shutil.copytree(hifi_pack, bad)
    f = bad / "vocoder.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(PackError, match=r"vocoder\.safetensors.*checksum"):
        load_pack(bad)
    # missing file
    gone = tmp_path / "gone"
    shutil.copytree(hifi_pack, gone)
    (gone / "vocoder.safetensors").unlink()
    with pytest.raises(PackError, match=r"vocoder\.safetensors.*missing"):
        load_pack(gone)
    # pack.json pointing the vocoder at a pickle: refused, never loaded
    pk = tmp_path / "pickle"
    shutil.copytree(hifi_pack, pk)
    (pk / "vocoder.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(PackError, match=r"vocoder\.bin.*never loaded|vocoder\.bin.*not allowed"):
        load_pack(pk)
    # weights that do not fit the config in pack.json: refused when the vocoder is built, no fallback
    shape = tmp_path / "shape"
    shutil.copytree(hifi_pack, shape)
    man = json.loads((shape / "pack.json").read_text())
    man["vocoder"]["config"]["upsample_initial_channel"] = 64
    (shape / "pack.json").write_text(json.dumps(man))
    pack = load_pack(shape)
    with pytest.raises(PackError) as e:
        vocoder_for(pack)
    assert "vocoder.safetensors" in e.value.message and "shape" in e.value.message
    # an unknown kind is an error too
    man["vocoder"] = {"kind": "wavenet"}
    (shape / "pack.json").write_text(json.dumps(man))
    with pytest.raises(PackError, match="wavenet"):
        vocoder_for(load_pack(shape))


def test_config_json_listed_beside_the_weights(hifi_pack, tmp_path):
    """``"vocoder": {"kind": "hifigan", "file": ...}`` without an inline config reads the
    (listed, checksummed) config.json next to the weights."""
    from engine.packs import write_pack

    man = read_manifest(hifi_pack)
    cfg = man["vocoder"].pop("config")
    man["vocoder"]["file"] = "vocoder/model.safetensors"
    extra = {r: hifi_pack / r for r in man["files"] if r != "vocoder.safetensors"}
    extra["vocoder/model.safetensors"] = hifi_pack / "vocoder.safetensors"
    extra["vocoder/config.json"] = json.dumps(cfg)
    out = write_pack(tmp_path / "cfgjson", man, {}, extra_files=extra)
    voc = vocoder_for(load_pack(out))
    assert isinstance(voc, HifiGanVocoder) and voc(np.zeros((5, 64), np.float32) - 5).shape == (800,)


def test_add_vocoder_refusals(base_pack, tmp_path):
    src = _vocoder_folder(tmp_path / "voc")
    with pytest.raises(OutputError, match="in-place"):
        add_vocoder(base_pack, src, out_dir=base_pack)
    pk = tmp_path / "pickled"
    pk.mkdir()
    (pk / "config.json").write_text((src / "config.json").read_text())
    (pk / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(PackError, match="pytorch_model.bin.*never loaded"):
        add_vocoder(base_pack, pk, out_dir=tmp_path / "x")
    with pytest.raises(PackError, match=r"\.bin checkpoints are pickles"):
        add_vocoder(base_pack, pk / "pytorch_model.bin", out_dir=tmp_path / "x")
    wrong = _vocoder_folder(tmp_path / "wrong", {**TINY_CONFIG, "model_in_dim": 80})
    with pytest.raises(PackError, match="80 mel bins"):
        add_vocoder(base_pack, wrong, out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()  # nothing half-written


def test_add_vocoder_in_place_only_when_told(base_pack, tmp_path):
    copy = tmp_path / "mine"
    shutil.copytree(base_pack, copy)
    src = _vocoder_folder(tmp_path / "voc")
    assert add_vocoder(copy, src, in_place=True) == copy
    man = read_manifest(copy)
    assert man["vocoder"]["kind"] == "hifigan" and man["name"] == "tiny"  # name kept in place
    verify_pack(copy)
    # replacing the vocoder again keeps one vocoder file
    add_vocoder(copy, _vocoder_folder(tmp_path / "voc2", seed=2), in_place=True)
    assert sorted(read_manifest(copy)["files"]) == sorted(read_manifest(base_pack)["files"] | {"vocoder.safetensors": 0})
    assert not list(tmp_path.glob(".mine*"))  # no temp folders left


def test_cli_add_vocoder_subprocess(base_pack, tmp_path):
    src = _vocoder_folder(tmp_path / "audioldm2" / "vocoder", seed=1, weights="diffusion_pytorch_model.safetensors")
    before = (base_pack / "pack.json").read_bytes()
    out = tmp_path / "with-voc"
    cmd = [sys.executable, "-m", "engine.cli.main", "pack", "add-vocoder", str(base_pack), str(src), "-o", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "wrote pack" in r.stdout
    assert (base_pack / "pack.json").read_bytes() == before
    man = read_manifest(out)
    assert man["vocoder"]["kind"] == "hifigan" and man["name"] == "with-voc" and man["vocoder"]["source"] == "vocoder"
    assert set(read_manifest(base_pack)["files"]) | {"vocoder.safetensors"} == set(man["files"])
    verify_pack(out)
    # again without --force: refused, one line, no traceback
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "already exists" in r.stderr and "Traceback" not in r.stderr
    # a pickle-only folder: one clear line naming the file
    (src / "diffusion_pytorch_model.safetensors").unlink()
    (src / "pytorch_model.bin").write_bytes(b"\x80\x04")
    r = subprocess.run(cmd[:-2] + ["-o", str(tmp_path / "other")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "pytorch_model.bin" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------------ training ----
def test_torch_log_mel_matches_engine_log_mel():
    from engine.train.vocoder import TorchLogMel

    y = np.random.default_rng(0).standard_normal(16037).astype(np.float32) * 0.1
    a = log_mel(y)
    b = TorchLogMel()(torch.from_numpy(y)[None])[0].numpy()
    assert a.shape == b.shape and np.abs(a - b).max() < 1e-3


def test_train_vocoder_stage_loss_decreases_resumes_and_exports(real_media, base_pack, tmp_path, clip):
    from engine.train.vocoder import VocoderTrainConfig, train_vocoder

    files = [real_media("sfx_explode"), real_media("sfx_footstep"), real_media("sfx_snow")]
    cfg = dict(batch=4, segment=3200, lr=2e-3, log_every=1, ckpt_every=10, quiet=True, threads=1)
    s = train_vocoder(VocoderTrainConfig(out=tmp_path / "run", steps=40, **cfg), TINY_CONFIG, files[:2], files[2:])
    d = tmp_path / "run" / "vocoder"
    logs = [json.loads(x) for x in (d / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == list(range(1, 41))
    loss = [r["loss"] for r in logs]
    assert np.all(np.isfinite(loss))
    assert np.mean(loss[-8:]) < 0.9 * np.mean(loss[:8])  # it learns
    assert s["start"] == 0 and np.isfinite(s["val_mel_l1"])
    assert (d / "ckpt" / "ckpt.safetensors").is_file() and (d / "model.safetensors").is_file()
    # resume continues from step 40 with the saved weights and normalisation
    s2 = train_vocoder(VocoderTrainConfig(out=tmp_path / "run", steps=43, **cfg), TINY_CONFIG, files[:2], files[2:])
    assert s2["start"] == 40
    logs = [json.loads(x) for x in (d / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs][-3:] == [41, 42, 43]
    assert logs[-1]["loss"] < np.mean(loss[:8])  # continued training, not a restart
    # the run's vocoder folder is a vocoder folder: it goes into a pack and generates
    out = add_vocoder(base_pack, d, out_dir=tmp_path / "trained-voc")
    man = read_manifest(out)
    assert man["vocoder"]["config"]["normalize_before"] is True
    pack = load_pack(out)
    take = run_to_completion(generate(GenerationRequest(str(clip.path), steps=1), pack, cache_dir=tmp_path))[0]
    assert len(take.audio) == int(round(31 / 24 * 16000))


def test_cli_train_vocoder_and_export_with_run(real_media, tmp_path, monkeypatch):
    """`v2a train --stage vocoder` reads the library manifest; `--stage export` of a run that
    has a vocoder writes a pack with kind hifigan."""
    from engine.cli.main import main
    from engine.train.data import ClipSet, Record
    from engine.train.packio import TINY_NETWORKS, base_manifest
    from engine.train.run import prepare_from_clipsets

    data = tmp_path / "data"
    rows = []
    for i, key in enumerate(["sfx_explode", "sfx_footstep", "sfx_snow"]):
        p = data / "sfx" / "x" / f"{i}.ogg"
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real_media(key), p)
        rows.append({"path": f"x/{i}.ogg", "split": "val" if i == 2 else "train", "class": "x"})
    (data / "sfx" / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    frames = np.full((25, 32, 32, 3), 40, np.uint8)
    mel = np.full((100, 64), np.log(1e-5), np.float32)
    sets = {"train": ClipSet.from_records([Record("a", frames, mel, np.zeros(1, np.float32), "")], 2)}
    prepare_from_clipsets(out, base_manifest(TINY_NETWORKS, window_seconds=1.0), sets)
    rc = main(["train", "--stage", "vocoder", "--data", str(data), "--out", str(out), "--config", "tiny",
               "--steps", "2", "--batch", "2", "--segment", "1600", "--quiet"])
    assert rc == 0
    summary = json.loads((out / "vocoder" / "summary.json").read_text())
    assert summary["train_files"] == 2 and summary["steps"] == 2
    rc = main(["train", "--stage", "export", "--out", str(out), "--pack-out", str(tmp_path / "pack"), "--quiet"])
    assert rc == 0
    man = read_manifest(tmp_path / "pack")
    assert man["vocoder"]["kind"] == "hifigan" and "vocoder" in man["training"]
    assert man["param_counts"]["vocoder"] > 0
    assert isinstance(vocoder_for(load_pack(tmp_path / "pack")), HifiGanVocoder)
