"""EXPERIMENTAL options (engine/experimental): measured, not shipped, off unless a pack sets
them. These tests keep them working; none of them is on the shipped path."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from media_helpers import frame_stream_run, synthetic_records

from engine.train.batches import Batcher
from engine.train.data import ClipSet
from engine.train.export import export_run
from engine.train.packio import TINY_NETWORKS, base_manifest
from engine.train.run import prepare_from_clipsets
from engine.train.trainers import TrainConfig, train_stage


# ---- onset head, --stage onset, layout shaping at onsets (engine.experimental.onsets) ----
def test_onset_stage_adds_a_head_trains_only_it_and_the_pack_sharpens(tmp_path):
    import torch

    from engine.engines.diffusion import _run_layout_predictor, load_pack
    from engine.experimental.onset_stage import onset_targets
    from engine.train.run import seed_run_from_pack

    r = frame_stream_run(tmp_path, "tiny-onsets", 4, 2)
    assert not r.nets["layout"].has_onset_head
    before = {k: v.clone() for k, v in r.nets["layout"].state_dict().items()}
    s = train_stage(r, "onset", TrainConfig(out=r.out, steps=4, batch=2, quiet=True, log_every=1, onset_head=8))
    T = r.nets["layout"]
    assert T.has_onset_head and json.loads((r.out / "manifest.json").read_text())["networks"]["layout"]["onset_head"] == 8
    after = T.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the rest of T is frozen
    assert np.isfinite(s["val_bce"]) and 0 <= s["val_shaped_f1"] <= 1 and "val_layout_recall" in s
    logged = [json.loads(line) for line in (r.out / "onset" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in logged] == [1, 2, 3, 4] and all(np.isfinite(e["bce"]) for e in logged)

    # targets: one 1 at the column of each true event's onset
    lay = np.zeros((1, 25, 5), np.float32)
    lay[0, 10:15] = 1.0
    t = onset_targets(lay, 25.0)
    assert t.sum() == 1 and abs(int(np.argmax(t[0])) - 10) <= 1

    # the exported pack carries the head; a run seeded from it continues with the same weights
    pack_dir = export_run(r, tmp_path / "pack", half=False)
    pack = load_pack(pack_dir)
    assert pack.net("layout").has_onset_head
    seeded = seed_run_from_pack(pack_dir, tmp_path / "seeded")
    assert seeded.nets["layout"].has_onset_head
    assert all(torch.equal(seeded.nets["layout"].state_dict()[k], v) for k, v in T.state_dict().items())

    # inference sharpens T's layout at the picked onsets: with a threshold no onset reaches,
    # the layout is T's own; with one every local maximum passes, it changes
    from engine.diffusion.features import ClipFeatures

    rng = np.random.default_rng(0)
    T = pack.net("layout")
    n = 50
    feats = ClipFeatures(
        duration=2.0, frame_rate=25.0, motion=rng.random((n, int(T.config["motion_dim"])), dtype=np.float32),
        sem_rate=5.0, cls=rng.standard_normal((10, int(T.config["cls_dim"])), dtype=np.float32),
        patch=rng.standard_normal((10, int(T.config["patch_dim"])), dtype=np.float32),
        frames=rng.integers(0, 255, (n, 2, 16, 16), dtype=np.uint8),
    )
    def threshold(value: float) -> None:  # a pack setting: set in the pack's parsed config
        pack.config = dataclasses.replace(pack.config, layout=dataclasses.replace(pack.config.layout, onset_threshold=value))

    threshold(2.0)  # no onset can pass
    unsharpened = _run_layout_predictor(pack, feats)
    head, T.onset_head = T.onset_head, None
    plain = _run_layout_predictor(pack, feats)
    T.onset_head = head
    assert np.allclose(unsharpened, plain)
    threshold(0.0)  # every local maximum is an onset
    assert not np.allclose(_run_layout_predictor(pack, feats), plain)


def test_pick_onsets_and_sharpen_layout():
    from engine.experimental.onsets import pick_onsets, sharpen_layout

    assert pick_onsets(np.array([0, 0.2, 0.7, 0.6, 0.1, 0.9, 0.95, 0.2]), 0.5, 3).tolist() == [2, 6]
    assert pick_onsets(np.array([0.9, 0.8, 0.95]), 0.5, 3).tolist() == [2]  # too close: the stronger wins
    assert pick_onsets(np.zeros(0), 0.5).size == 0
    e = np.array([0, 0, 0.1, 0.3, 0.6, 0.9, 1, 1, 0.8, 0.5, 0.2, 0, 0], np.float32)
    v = np.stack([e, e / 2], 1)
    out = sharpen_layout(v, np.array([5]))
    # the smeared rise before the onset drops to its floor, the onset takes the peak level
    assert np.allclose(out[2:5, 0], 0.1) and out[5, 0] == 1.0 and np.allclose(out[6:], v[6:])
    assert np.allclose(out[:, 1], sharpen_layout(v[:, 1:], np.array([5]))[:, 0])  # per band
    assert np.array_equal(sharpen_layout(v, np.zeros(0, int)), v)
    # a second onset right after the first never flattens the first one's column
    two = sharpen_layout(v, np.array([5, 7]))
    assert two[5, 0] == 1.0 and two[7, 0] >= v[7, 0]


def test_apply_onsets_modes():
    from engine.experimental.onsets import apply_onsets

    v = np.zeros((40, 5), np.float32)
    v[8:14] = 0.8  # an event T predicts with an onset picked at 9
    v[25:30] = 0.6  # an event T predicts but no onset supports
    onsets = np.array([9, 34])  # 34: an onset where T has nothing
    sharp = apply_onsets(v, onsets, "sharpen")
    assert sharp[34].max() == 0 and sharp[25:30].min() == 0.6
    inject = apply_onsets(v, onsets, "inject")
    assert inject[34].min() > 0.5 and inject[34:38].mean(1).tolist() == sorted(inject[34:38].mean(1), reverse=True)
    gate = apply_onsets(v, onsets, "gate")
    assert gate[25:30].max() == 0  # the unsupported event is gone
    assert np.allclose(gate[9:14], 0.8) and gate[34].min() > 0.5  # supported and injected ones stay
    assert np.array_equal(apply_onsets(v, np.zeros(0, int), "gate"), v)  # nothing picked: T's layout as is
    with pytest.raises(ValueError):
        apply_onsets(v, onsets, "bogus")


# ---- T's frame stream in colour / per cell, T's input dropout (engine.experimental.frame_stream) ----
def test_color_motion_frames_keep_rgb_and_the_gray_difference():
    from engine.models.visual import motion_frames

    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)
    frames[3] = frames[2]  # a repeat
    col, gray = motion_frames(frames, 8, color=True), motion_frames(frames, 8)
    assert col.shape == (5, 4, 8, 8) and col.dtype == np.uint8
    area = frames.reshape(5, 8, 2, 8, 2, 3).astype(float).mean((2, 4)).transpose(0, 3, 1, 2)
    assert np.abs(col[:, :3].astype(float) - area).max() <= 0.5 + 1e-6  # R, G, B, 2x2 area means
    # the difference channel is the gray one (float rounding may move a value by one step)
    assert np.abs(col[:, 3].astype(int) - gray[:, 1].astype(int)).max() <= 1
    assert np.array_equal(col[3, 3], col[2, 3])  # the repeat carries the last real difference
    # a red square on a green field of the same brightness: no gray contrast, clear colour contrast
    f = np.zeros((2, 16, 16, 3), np.uint8)
    f[..., 1] = 120
    f[:, 4:12, 4:12] = (120, 0, 0)
    c = motion_frames(f, 16, color=True)
    assert np.ptp(motion_frames(f, 16)[0, 0]) == 0 and c[0, 0, 8, 8] == 120 and c[0, 0, 0, 0] == 0


def test_color_cell_frame_stream_trains_and_exports(tmp_path):
    r = frame_stream_run(tmp_path, "tiny-color", 3, 2, frame_color=1, frame_cells=1)
    assert Batcher(r, "train", with_sem=False).crop(np.random.default_rng(0), 2)["mframes"].shape[2] == 4
    before = {k: v.clone() for k, v in r.nets["layout"].frame_stream.cells.state_dict().items()}
    s = train_stage(r, "layout_head", TrainConfig(out=r.out, steps=2, batch=2, quiet=True, log_every=1))
    assert np.isfinite(s["val_l2"])
    after = r.nets["layout"].frame_stream.cells.state_dict()
    assert any(not np.allclose(before[k].numpy(), after[k].numpy()) for k in before)  # the per-cell convs learn
    pack = export_run(r, tmp_path / "pack")
    from engine.generation import load_pack

    T = load_pack(pack).net("layout")
    assert T.frame_color and T.frame_stream.cells is not None


def test_layout_predictor_input_dropout_only_while_training():
    import torch

    from engine.models.layout_predictor import LayoutPredictor

    torch.manual_seed(0)
    T = LayoutPredictor({"patch_dim": 8, "cls_dim": 4, "motion_dim": 5, "dim": 16, "heads": 2,
                         "encoder_layers": 1, "decoder_layers": 1, "input_dropout": 0.5})
    c, p, m = torch.randn(1, 10, 4), torch.randn(1, 10, 8), torch.randn(1, 10, 5)
    T.eval()
    assert torch.equal(T(c, p, m)[0], T(c, p, m)[0])
    T.train()
    assert not torch.equal(T(c, p, m)[0], T(c, p, m)[0])


# ---- S reads the motion colour (engine.experimental.motion_colour) ----
def test_motion_color_histogram_marks_the_colour_of_what_moves():
    from engine.models.visual import motion_color_histogram

    frames = np.full((10, 32, 32, 3), 128, np.uint8)  # a still gray scene
    for t in range(10):
        x = 1 + 2 * t
        frames[t, 10:16, x : x + 6] = (255, 0, 0)  # a red block sliding right
    frames[6] = frames[5]  # a repeated frame (clip decoded above its own rate)
    h = motion_color_histogram(frames, levels=4)
    assert h.shape == (10, 64) and h.dtype == np.float32
    red, gray = (3 * 4 + 0) * 4 + 0, (2 * 4 + 2) * 4 + 2
    assert np.allclose(h.sum(1), 1.0, atol=1e-5)
    assert np.allclose(h[:, red] + h[:, gray], 1.0, atol=1e-5)  # only the block and what it uncovers
    assert (h[1:, red] >= 0.3).all()
    np.testing.assert_array_equal(h[6], h[5])  # the repeat carries the last real histogram
    np.testing.assert_array_equal(h[0], h[1])  # frame 0 copies its successor
    still = motion_color_histogram(np.full((4, 16, 16, 3), 50, np.uint8), levels=2)
    assert still.shape == (4, 8) and not still.any()  # nothing moves: no colour
    s3 = motion_color_histogram(frames, levels=4, stride=3)
    assert s3.shape == (4, 64)  # the ViT's rows: frames 0, 3, 6, 9
    np.testing.assert_allclose(s3[1], h[3:6].mean(0), atol=1e-6)
    np.testing.assert_allclose(s3[3], h[9], atol=1e-6)


def test_condition_encoder_colour_branch_starts_silent_then_reads_the_histogram():
    import torch

    from engine.models.layout_predictor import ConditionEncoder

    base = ConditionEncoder({"cls_dim": 6, "text_dim": 5, "token_dim": 4})
    ext = ConditionEncoder({"cls_dim": 6, "text_dim": 5, "token_dim": 4, "motion_color_levels": 2})
    missing = ext.load_state_dict(base.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["semantic_color.0.bias", "semantic_color.0.weight",
                               "semantic_color.1.bias", "semantic_color.1.weight"]
    g = torch.Generator().manual_seed(0)
    cls, col = torch.randn(2, 3, 6, generator=g), torch.rand(2, 3, 8, generator=g)
    times, text = torch.zeros(2, 3), torch.randn(2, 5, generator=g)
    tb, _ = base.tokens(cls, times, text)
    te, _ = ext.tokens(torch.cat([cls, col], -1), times, text)
    torch.testing.assert_close(te, tb)  # extended from a pack without it: the same tokens
    with torch.no_grad():
        ext.semantic_color[1].weight.normal_(generator=g)
    te2, _ = ext.tokens(torch.cat([cls, col], -1), times, text)
    assert not torch.allclose(te2[:, :3], tb[:, :3])  # now the colour moves the semantic tokens
    torch.testing.assert_close(te2[:, 3], tb[:, 3])  # and not the text token


def test_generator_stage_trains_the_colour_branch_and_exports(tmp_path):
    nets = json.loads(json.dumps(TINY_NETWORKS))
    nets["cond"]["motion_color_levels"] = 2
    man = base_manifest(nets, name="tiny-mc", window_seconds=1.0, overlap_seconds=0.25)
    sets = {"train": ClipSet.from_records(synthetic_records(3), 2), "val": ClipSet.from_records(synthetic_records(2, 1), 2)}
    r = prepare_from_clipsets(tmp_path / "run", man, sets)
    b = Batcher(r, "train", with_sem=True).crop(np.random.default_rng(0), 2)
    assert b["tok"].shape[-1] == int(r.nets["cond"].config["cls_dim"]) + 8
    s = train_stage(r, "generator", TrainConfig(out=r.out, steps=2, batch=2, quiet=True, log_every=1))
    assert np.isfinite(s["val_x0_mse"]) and (r.out / "prep" / "mcolor2_train.npz").is_file()
    w = r.nets["cond"].semantic_color[1].weight
    assert float(w.abs().sum()) > 0  # the zero-initialised branch learned
    pack = export_run(r, tmp_path / "pack")
    from engine.generation import load_pack

    assert load_pack(pack).net("cond").color_bins == 8
