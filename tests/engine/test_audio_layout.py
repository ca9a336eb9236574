"""Audio layout: TiVA shape rules, normalisation, resizing, files, pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_audio_helpers import clicks, read_mono

from engine.audio import (
    LayoutConfig,
    MelConfig,
    colormap,
    layout_from_audio,
    layout_from_mel,
    layout_to_grid,
    layout_to_image,
    load_layout,
    log_mel,
    resize_layout,
    save_layout,
    save_layout_png,
)
from engine.audio.layout import encode_png, paint_event
from engine.errors import LayoutError
from engine.types import AudioLayout


def test_tiva_shape_for_10_24_s():
    lay = layout_from_mel(np.zeros((1024, 64), np.float32))
    assert lay.values.shape == (102, 5)
    assert lay.columns_per_second == pytest.approx(102 / 10.24)
    assert lay.duration == pytest.approx(10.24)


def test_whole_seconds_keep_exactly_ten_columns_per_second():
    lay = layout_from_audio(np.zeros(4 * 16000, np.float32), 16000)
    assert lay.values.shape == (40, 5) and lay.columns_per_second == 10.0
    lay = layout_from_audio(np.zeros(3 * 44100, np.float32), 44100, layout_cfg=LayoutConfig(25.0, 8))
    assert lay.values.shape == (75, 8) and lay.columns_per_second == 25.0


def test_silence_is_zero_and_values_in_unit_range():
    assert np.all(layout_from_audio(np.zeros(16000, np.float32), 16000).values == 0)
    lay = layout_from_audio(clicks([0.5], dur=1.0, amp=3.0), 16000)
    assert lay.values.min() >= 0 and lay.values.max() <= 1
    assert lay.values.dtype == np.float32


def test_events_show_in_the_right_columns():
    lay = layout_from_audio(clicks([1.0, 2.5], dur=4.0), 16000)
    e = lay.values.mean(axis=1)
    assert e[10] > 0.4 and e[25] > 0.4  # columns holding 1.0 s and 2.5 s
    assert e[5] < 0.1 and e[18] < 0.1 and e[35] < 0.1


def test_low_tone_lands_in_low_band_high_in_high():
    sr = 16000
    t = np.arange(sr) / sr
    low = layout_from_audio(np.sin(2 * np.pi * 150 * t).astype(np.float32), sr).values.mean(0)
    high = layout_from_audio(np.sin(2 * np.pi * 6000 * t).astype(np.float32), sr).values.mean(0)
    assert int(np.argmax(low)) == 0 and int(np.argmax(high)) == 4


def test_layout_of_real_recording(real_media):
    y, sr = read_mono(real_media("sfx_explode"))
    lay = layout_from_audio(y, sr)
    assert lay.n_bands == 5
    assert lay.duration == pytest.approx(len(y) / sr, abs=0.011)
    assert lay.values.max() > 0.6  # an explosion is loud


def test_resize_area_down_linear_up():
    v = np.arange(12, dtype=np.float32).reshape(6, 2)
    down = resize_layout(v, 3, 1)
    np.testing.assert_allclose(down[:, 0], [1.5, 5.5, 9.5])  # mean of each 2x2 block
    const = resize_layout(np.full((7, 3), 0.4), 50, 11)
    np.testing.assert_allclose(const, 0.4, atol=1e-6)
    # non-integer ratio keeps the mean (area weights sum to 1 and cover every input once)
    r = np.random.default_rng(0).random((64, 64))
    assert resize_layout(r, 5, 5).mean() == pytest.approx(r.mean(), rel=1e-6)
    up = resize_layout(np.array([[0.0], [1.0]]), 4, 1)[:, 0]
    np.testing.assert_allclose(up, [0.0, 0.25, 0.75, 1.0])
    with pytest.raises(ValueError):
        resize_layout(np.zeros((0, 5)), 3, 3)


def test_layout_to_grid():
    lay = AudioLayout(np.random.default_rng(1).random((40, 5)).astype(np.float32), 10.0)
    g = layout_to_grid(lay, 100, 16)
    assert g.shape == (100, 16) and g.min() >= 0 and g.max() <= 1


def test_save_load_round_trip(tmp_path):
    lay = AudioLayout(np.random.default_rng(2).random((102, 5)).astype(np.float32), 102 / 10.24)
    p = save_layout(lay, tmp_path / "a.npy")
    assert json.loads((tmp_path / "a.json").read_text())["columns_per_second"] == pytest.approx(102 / 10.24)
    back = load_layout(p)
    np.testing.assert_array_equal(back.values, lay.values)
    assert back.columns_per_second == pytest.approx(lay.columns_per_second)
    (tmp_path / "a.json").unlink()
    assert load_layout(p).columns_per_second == 10.0  # no sidecar: assumed 10
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.npy"]


@pytest.mark.parametrize(
    "content,problem",
    [
        (np.zeros((3,), np.float32), "2-D"),
        (np.full((4, 5), np.nan, np.float32), "NaN"),
        (np.full((4, 5), 2.0, np.float32), "[0, 1]"),
        (np.zeros((0, 5), np.float32), "2-D"),
    ],
)
def test_bad_layout_files_raise_layout_error(tmp_path, content, problem):
    p = tmp_path / "bad.npy"
    np.save(p, content)
    with pytest.raises(LayoutError, match=problem.replace("[", r"\[").replace("]", r"\]")) as ei:
        load_layout(p)
    assert str(p) in ei.value.message


def test_junk_and_missing_layout_files(tmp_path):
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy at all")
    with pytest.raises(LayoutError, match="not a readable"):
        load_layout(junk)
    with pytest.raises(LayoutError, match="no such"):
        load_layout(tmp_path / "missing.npy")
    np.save(tmp_path / "ok.npy", np.zeros((3, 5), np.float32))
    (tmp_path / "ok.json").write_text("{broken")
    with pytest.raises(LayoutError, match="columns_per_second"):
        load_layout(tmp_path / "ok.npy")


def test_save_refuses_wrong_suffix_and_leaves_nothing(tmp_path):
    lay = AudioLayout(np.zeros((3, 5), np.float32))
    with pytest.raises(LayoutError):
        save_layout(lay, tmp_path / "a.txt")
    assert list(tmp_path.iterdir()) == []


def test_image_orientation_and_png(tmp_path):
    import cv2

    v = np.zeros((6, 5), np.float32)
    v[4, 0] = 1.0  # column 4, lowest band
    img = layout_to_image(AudioLayout(v), px_per_column=3, px_per_band=2)
    assert img.shape == (10, 18, 3) and img.dtype == np.uint8
    bright = img.sum(axis=2)
    ys, xs = np.nonzero(bright > bright.min() + 100)
    assert set(ys) == {8, 9} and set(xs) == {12, 13, 14}  # bottom rows, 5th column block
    p = save_layout_png(AudioLayout(v), tmp_path / "l.png", px_per_column=3, px_per_band=2)
    back = cv2.imread(str(p), cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(back, img)
    assert encode_png(img)[:8] == b"\x89PNG\r\n\x1a\n"


def test_colormap_gets_brighter():
    c = colormap(np.linspace(0, 1, 11)).astype(float)
    lum = c @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(lum) > 0)


def test_mel_config_alternatives_flow_through():
    cfg = MelConfig(n_mels=80, hop_length=256, fmax=7600.0)
    y = clicks([0.5], dur=2.0)
    m = log_mel(y, cfg)
    assert m.shape == (125, 80)
    lay = layout_from_mel(m, cfg, LayoutConfig(10.0, 4))
    assert lay.values.shape == (20, 4) and lay.columns_per_second == 10.0


def test_paint_event_attack_decay_max_and_bounds():
    v = np.zeros((50, 5), np.float32)
    v[12, 2] = 0.95  # louder paint already there is kept
    box = paint_event(v, 1.0, 10.0, decay=0.3, band_lo=3, band_hi=1, intensity=0.8)
    assert box == (10, 25, 1, 4)  # 4.6 decays to 1 %; bands in either order, inclusive
    assert v[10, 1:4].tolist() == pytest.approx([0.8] * 3)  # the attack is on the clicked column
    assert v[13, 2] == pytest.approx(0.8 * np.exp(-1.0), rel=1e-5)  # 1/e after `decay` seconds
    assert v[12, 2] == pytest.approx(0.95) and v[:10].max() == 0 and v[:, [0, 4]].max() == 0
    ramp = np.zeros((50, 5), np.float32)
    paint_event(ramp, 1.0, 10.0, decay=0.3, band_lo=0, band_hi=4, attack=0.2)
    assert ramp[10, 0] == 0.0 and ramp[11, 0] == pytest.approx(0.5) and ramp[12, 0] == pytest.approx(1.0)
    assert paint_event(v, 5.0, 10.0, 0.3, 0, 4) is None  # past the last column
