"""Clip features are decoded and encoded in chunks (bounded memory on long clips, issue 21):
chunk borders must give exactly the numbers of one pass over the whole clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine.diffusion.features as features
from engine.engines.diffusion import layout_for_clip, load_pack
from engine.models.visual import (
    motion_color_histogram,
    motion_color_histogram_carry,
    motion_frames,
    motion_frames_carry,
)
from engine.progress import run_to_completion

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "big_buck_bunny_excerpt.mp4"


def _frames_with_repeats(n: int = 47, seed: int = 0) -> np.ndarray:
    """Moving noise with held frames (a clip decoded above its rate, a still passage), so the
    carried difference/histogram crosses chunk borders."""
    rng = np.random.default_rng(seed)
    f = rng.integers(0, 256, (n, 24, 24, 3), dtype=np.uint8)
    for t in (5, 6, 7, 10, 11, 20, 21, 22, 23, 24, 25, 35):
        f[t] = f[t - 1]
    return f


@pytest.mark.parametrize("color", [False, True])
def test_motion_frames_in_pieces_equal_one_pass(color):
    f = _frames_with_repeats()
    whole = motion_frames(f, 16, color)
    for step in (5, 6, 10):
        out, carry = motion_frames_carry(f[:step], 16, color)
        parts = [out]
        for a in range(step, len(f), step):
            out, carry = motion_frames_carry(f[a - 1 : a + step], 16, color, carry)
            parts.append(out[1:])
        np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_motion_color_histogram_in_pieces_equal_one_pass():
    f = _frames_with_repeats()
    stride = 5
    whole = motion_color_histogram(f, 4, stride, top=0.2)
    for step in (5, 10, 15):  # pieces start on a multiple of the stride
        out, carry = motion_color_histogram_carry(f[:step], 4, stride, top=0.2)
        parts = [out]
        for a in range(step, len(f), step):
            out, carry = motion_color_histogram_carry(f[a - 1 : a + step], 4, stride, top=0.2, carry=carry)
            parts.append(out)
        np.testing.assert_array_equal(np.concatenate(parts), whole)


def _features(pack, monkeypatch, batches: int):
    monkeypatch.setattr(features, "CHUNK_BATCHES", batches)
    return run_to_completion(features.clip_features(SAMPLE, pack, cache_dir=False))


def test_chunked_clip_features_and_layout_equal_one_chunk(monkeypatch):
    pack = load_pack()
    # 4-frame ViT batches, stride 5: 20-frame chunks, so the 5.3 s sample crosses 6 borders
    monkeypatch.setattr(features, "VIT_BATCH", 4)
    one = _features(pack, monkeypatch, 10_000)
    many = _features(pack, monkeypatch, 1)
    assert features.chunk_frames(pack) == 20 and one.motion.shape[0] > 6 * 20
    for name in ("motion", "cls", "patch", "frames"):
        np.testing.assert_array_equal(getattr(many, name), getattr(one, name), err_msg=name)
    assert many.duration == one.duration
    np.testing.assert_array_equal(layout_for_clip(pack, many).values, layout_for_clip(pack, one).values)


def test_layout_resize_in_row_blocks_equals_one_product(monkeypatch):
    import engine.audio.layout as layout

    v = np.random.default_rng(1).random((700, 5)).astype(np.float32)
    for n_out in (700, 2800, 300):  # same size, growing (layout -> mel grid), shrinking
        monkeypatch.setattr(layout, "RESIZE_BLOCK", 1 << 40)
        whole = layout.resize_layout(v, n_out, 3)
        monkeypatch.setattr(layout, "RESIZE_BLOCK", 700 * 97)  # 97-row blocks, a short last one
        np.testing.assert_array_equal(layout.resize_layout(v, n_out, 3), whole)
        np.testing.assert_array_equal(layout._resize_matrix(700, n_out, 97, 194), layout._resize_matrix(700, n_out)[97:194])


def test_griffin_lim_in_segments_matches_the_mel_like_one_pass(monkeypatch):
    """A long mel is vocoded in overlapping segments (bounded memory): same length, and the
    audio's mel is as close to the target as one pass's, also across segment borders."""
    import torch

    import engine.models.vocoder as vocoder
    from engine.audio.mel import MelConfig, log_mel

    cfg = MelConfig()
    rng = np.random.default_rng(3)
    n = cfg.sample_rate * 4
    env = np.repeat(rng.random(n // 1600) ** 2, 1600)  # bursts every 0.1 s
    target = log_mel(rng.standard_normal(n).astype(np.float32) * env.astype(np.float32) * 0.3, cfg)
    gl = vocoder.GriffinLim(cfg, n_iter=16)
    whole = gl(target, seed=5)
    monkeypatch.setattr(vocoder, "SEGMENT_FRAMES", 120)  # 4 s of 100 frames/s: 4 segments
    monkeypatch.setattr(vocoder, "SEGMENT_OVERLAP", 30)
    parts = gl(torch.from_numpy(np.stack([target, target])), seed=5)
    assert parts.shape == (2, whole.shape[0]) and np.all(np.isfinite(parts))
    assert not np.array_equal(parts[0], whole)  # the segmented path did run

    def err(audio):
        m = log_mel(audio, cfg)[: len(target)]
        return np.abs(m - target).mean(1)  # per mel frame

    e_whole, e_parts = err(whole), err(parts[0])
    assert e_parts.mean() < 1.15 * e_whole.mean()
    for border in (90, 180, 270):  # segment starts: the overlaps [border, border + 30)
        assert e_parts[border : border + 30].mean() < 1.5 * e_whole[border : border + 30].mean() + 0.05
