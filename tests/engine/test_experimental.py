"""EXPERIMENTAL options (engine/experimental): measured, not shipped, off unless a pack sets
them. These tests keep them working; none of them is on the shipped path."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from media_helpers import synthetic_records

from engine.train.data import ClipSet
from engine.train.export import export_run
from engine.train.packio import TINY_NETWORKS, base_manifest
from engine.train.run import Run, prepare_from_clipsets
from engine.train.trainers import TrainConfig, train_stage


def _frame_stream_run(tmp_path, name: str, n_train: int, n_val: int, same_seed: bool = False, **layout) -> Run:
    """A tiny run whose T has a learned frame stream (``layout``: more T config, e.g. frame_color)."""
    nets = json.loads(json.dumps(TINY_NETWORKS))
    nets["layout"].update(n_classes=2, frame_stream=8, frame_size=16, **layout)
    man = base_manifest(nets, name=name, classes=["knock", "wood"], window_seconds=1.0, overlap_seconds=0.25)
    val = synthetic_records(n_val) if same_seed else synthetic_records(n_val, 1)
    sets = {"train": ClipSet.from_records(synthetic_records(n_train), 2), "val": ClipSet.from_records(val, 2)}
    return prepare_from_clipsets(tmp_path / "run", man, sets)


# ---- onset head, --stage onset, layout shaping at onsets (engine.experimental.onsets) ----
def test_onset_stage_adds_a_head_trains_only_it_and_the_pack_sharpens(tmp_path):
    import torch

    from engine.engines.diffusion import _run_layout_predictor, load_pack
    from engine.experimental.onset_stage import onset_targets
    from engine.train.run import seed_run_from_pack

    r = _frame_stream_run(tmp_path, "tiny-onsets", 4, 2)
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
