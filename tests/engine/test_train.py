"""Training smoke test: every stage for a few steps on tiny synthetic clips, checkpoints,
resume, export -> a pack that generates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from media_helpers import frame_stream_run, synthetic_records

from engine.audio.layout import LayoutConfig
from engine.train.batches import handdrawn
from engine.train.data import ClipSet, layout_target
from engine.train.export import export_run
from engine.train.packio import TINY_NETWORKS, base_manifest
from engine.train.run import Run, prepare_from_clipsets
from engine.train.trainers import TrainConfig, train_stage


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    nets = json.loads(json.dumps(TINY_NETWORKS))
    nets["layout"]["n_classes"] = 2
    man = base_manifest(nets, name="tiny-trained", classes=["knock", "wood"], window_seconds=1.0, overlap_seconds=0.25)
    sets = {"train": ClipSet.from_records(synthetic_records(6), 2), "val": ClipSet.from_records(synthetic_records(2, 1), 2)}
    return prepare_from_clipsets(tmp_path_factory.mktemp("run"), man, sets)


def test_clipset_round_trip(tmp_path):
    cs = ClipSet.from_records(synthetic_records(3), 2)
    cs.save(tmp_path / "x.npz")
    back = ClipSet.load(tmp_path / "x.npz")
    assert back.ids == cs.ids and back.texts == cs.texts
    f, m, mo = back.clip(2)
    assert f.shape == (50, 32, 32, 3) and m.shape == (200, 64) and mo.shape == (50, 5)


def test_layout_target_and_handdrawn():
    mel = np.full((100, 64), np.log(1e-5), np.float32)
    mel[40:60] = 2.5
    lay = layout_target(mel, LayoutConfig(columns_per_second=25), 25)
    assert lay.shape == (25, 5) and lay[:9].max() == 0 and np.allclose(lay[11:14], 1)
    rng = np.random.default_rng(0)
    for _ in range(20):
        h = handdrawn(lay, rng)
        assert h.shape == lay.shape and h.min() >= 0 and h.max() <= 1
        assert np.argmax(h.mean(1) > 0.5) in (9, 10, 11)  # the event stays within a column


def test_all_stages_checkpoint_resume_export(run, tmp_path):
    cfg = dict(batch=3, log_every=1, ckpt_every=2, quiet=True)
    out = {}
    for stage in ("layout", "generator", "layout_head", "joint"):
        s = train_stage(run, stage, TrainConfig(out=run.out, steps=3, **cfg))
        out[stage] = s
        assert np.isfinite(s["train_loss_last"])
        assert (run.out / stage / "ckpt" / "ckpt.safetensors").is_file()
        logs = [json.loads(x) for x in (run.out / stage / "log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in logs] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in logs)
    assert "val_l2" in out["layout"] and "val_x0_mse" in out["generator"]
    # resume: a longer run continues from step 3, not from 0
    s = train_stage(run, "generator", TrainConfig(out=run.out, steps=4, **cfg))
    assert s["start"] == 3
    logs = [json.loads(x) for x in (run.out / "generator" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs][-1] == 4
    # the trained weights reach a new Run (nets/ folder) and an exported pack
    again = Run(run.out)
    import torch

    for k, v in run.nets["unet"].state_dict().items():
        assert torch.allclose(v, again.nets["unet"].state_dict()[k])
    pack_dir = export_run(again, tmp_path / "pack", half=True)
    from engine.generation import load_pack

    pack = load_pack(pack_dir)
    assert pack.name == "tiny-trained" and pack.manifest["classes"] == ["knock", "wood"]
    assert pack.manifest["param_counts"]["unet"] > 0


def test_training_is_deterministic_in_seed(tmp_path):
    man = base_manifest(TINY_NETWORKS, window_seconds=1.0)
    sets = {"train": ClipSet.from_records(synthetic_records(4), 2)}
    losses = []
    for k in range(2):
        import torch

        torch.manual_seed(0)
        r = prepare_from_clipsets(tmp_path / f"r{k}", man, sets)
        train_stage(r, "generator", TrainConfig(out=r.out, steps=2, batch=2, log_every=1, quiet=True, ema=0))
        losses.append([json.loads(x)["loss"] for x in (r.out / "generator" / "log.jsonl").read_text().splitlines()])
    assert losses[0] == losses[1]


def test_motion_frames_carry_differences_over_repeated_frames():
    from engine.models.visual import motion_frames

    rng = np.random.default_rng(0)
    src = rng.integers(0, 255, (6, 16, 16, 3), dtype=np.uint8)
    # A 3-frame source decoded at 5 frames per 3: frames 1 and 3 repeat their predecessor.
    frames = src[[0, 0, 1, 1, 2, 3]]
    mf = motion_frames(frames, 8)
    assert mf.shape == (6, 2, 8, 8) and mf.dtype == np.uint8
    d = mf[:, 1].astype(float).mean(axis=(1, 2))
    assert d[2] > 10  # a real change
    assert d[3] == d[2]  # the repeat keeps the last real difference, not zero
    assert d[1] == d[0]  # frame 0 copies its successor


@pytest.mark.parametrize("cells", [False, True])
def test_frame_stream_is_local_in_time_and_per_sample(cells):
    import torch

    from engine.models.layout_predictor import FrameStream

    torch.manual_seed(0)
    fs = FrameStream(8, color=True, cells=cells).eval()
    x = torch.randint(0, 255, (2, 80, 4, 32, 32), dtype=torch.uint8)
    y = x.clone()
    y[0, 40] = 255 - y[0, 40]  # change one frame of the first clip
    with torch.no_grad():
        a, b = fs(x), fs(y)
    assert a.shape == (2, 80, 8)
    assert torch.equal(a[1], b[1])  # the other clip of the batch is untouched
    # receptive field: prev/next differences (1) + per-cell convs (1+2+1) + temporal stack (16)
    reach = 1 + (4 if cells else 0) + 16
    changed = (a[0] - b[0]).abs().amax(-1) > 0
    assert changed[40 - 8 : 40 + 9].all()
    assert not changed[: 40 - reach].any() and not changed[40 + reach + 1 :].any()


def test_gray_frame_stream_keeps_the_shipped_parameter_names():
    from engine.models.layout_predictor import LayoutPredictor

    cfg = {"patch_dim": 8, "cls_dim": 4, "motion_dim": 5, "dim": 16, "heads": 2, "encoder_layers": 1,
           "decoder_layers": 1, "frame_stream": 8, "frame_size": 16}
    old = set(LayoutPredictor(cfg).state_dict())
    assert {k for k in old if k.startswith("frame_stream.cnn.")} == {
        f"frame_stream.cnn.{i}.{w}" for i in (0, 2, 4) for w in ("weight", "bias")}
    new = LayoutPredictor({**cfg, "frame_color": 1, "frame_cells": 1})
    assert new.frame_color and new.frame_stream.cnn[0].in_channels == 6  # R, G, B, diff, prev/next diff
    assert old < set(new.state_dict())  # the new parts are additions, nothing renamed


def test_layout_predictor_frame_stream_needs_and_uses_frames():
    import torch

    from engine.models.layout_predictor import LayoutPredictor

    T = LayoutPredictor({"patch_dim": 8, "cls_dim": 4, "motion_dim": 5, "dim": 16, "heads": 2,
                         "encoder_layers": 1, "decoder_layers": 1, "frame_stream": 8, "frame_size": 16})
    assert T.uses_frames
    c, p, m = torch.zeros(1, 10, 4), torch.zeros(1, 10, 8), torch.zeros(1, 10, 5)
    with pytest.raises(ValueError, match="motion frames"):
        T(c, p, m)
    f = torch.zeros(1, 10, 2, 16, 16, dtype=torch.uint8)
    a, _ = T(c, p, m, f)
    f[0, 5, 1] = 255  # a flash of motion at frame 5 changes the layout around it
    b, _ = T(c, p, m, f)
    assert a.shape == (1, 10, 5) and not torch.allclose(a, b)


def test_layout_head_stage_trains_a_frame_stream_predictor(tmp_path):
    r = frame_stream_run(tmp_path, "tiny-frames", 4, 2)
    before = {k: v.clone() for k, v in r.nets["layout"].frame_stream.state_dict().items()}
    s = train_stage(r, "layout_head", TrainConfig(out=r.out, steps=3, batch=2, quiet=True, log_every=1))
    assert np.isfinite(s["val_l2"])
    after = r.nets["layout"].frame_stream.state_dict()
    assert any(not np.allclose(before[k].numpy(), after[k].numpy()) for k in before)
    pack = export_run(r, tmp_path / "pack")
    from engine.generation import load_pack

    assert load_pack(pack).net("layout").uses_frames


def test_frame_stream_batches_are_augmented_in_train_only(tmp_path):
    from engine.models.visual import motion_frames
    from engine.train.batches import Batcher

    r = frame_stream_run(tmp_path, "tiny-aug", 3, 3, same_seed=True)
    for split, augmented in (("train", True), ("val", False)):
        b = Batcher(r, split, with_sem=False, augment=True)
        changed = 0
        for k in range(6):
            out = b.crop(np.random.default_rng(k), 2)
            for j, (i, s) in enumerate(zip(out["idx"], out["start"], strict=True)):
                raw = motion_frames(b.cs.clip(int(i))[0], 16)[s : s + b.win_f]
                changed += not np.array_equal(out["mframes"][j][: len(raw)], raw)
        assert (changed > 0) == augmented, split
    assert not Batcher(r, "train", with_sem=False).augment  # off unless asked for (--augment-frames)


def test_seed_run_from_a_broken_pack_names_the_file_and_writes_nothing(tmp_path):
    import shutil

    from engine.errors import PackError
    from engine.paths import bundled_packs_dir
    from engine.train.run import seed_run_from_pack

    pack = tmp_path / "pack"
    shutil.copytree(bundled_packs_dir() / "starter", pack)
    with open(pack / "unet.safetensors", "ab") as f:
        f.write(b"xx")
    with pytest.raises(PackError, match="unet.safetensors"):
        seed_run_from_pack(pack, tmp_path / "run")
    assert not (tmp_path / "run").exists()
