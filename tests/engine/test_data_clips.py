"""engine.data: renderer (contacts on the onset frames), clip files, cache round trip, dataset crops."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest

from engine.data import clean
from engine.data.cache import (
    CacheConfig,
    cache_clips,
    content_key,
    events_of,
    load_entry,
    read_index,
)
from engine.data.clips import ClipSpec, SoundBank, compose, render_clip
from engine.data.fixtures import synthetic_sources
from engine.data.library import build_library
from engine.data.render import SceneStyle, VisualEvent, render_frame, world_canvas
from engine.progress import run_to_completion

SR = 16000


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    base = tmp_path_factory.mktemp("data")
    files = synthetic_sources(base / "raw")
    run_to_completion(build_library(base / "root", files=files))
    return base / "root"


@pytest.fixture(scope="module")
def bank(root):
    return SoundBank(root / "sfx" / "manifest.jsonl", "train")


# ------------------------------------------------------------------ renderer


def _static_style() -> SceneStyle:
    # No camera motion, noise, lighting change or distractors: every pixel change is the event.
    return SceneStyle(seed=3, bg_kind="gradient", bg_colors=((30, 30, 40), (60, 60, 80)), floor_y=0.75,
                      floor_color=(100, 90, 80), margin=0.0)


def _event(kind: str, cls: str, t: float, sub: str = "wood") -> VisualEvent:
    env = np.exp(-np.arange(60) / 10.0).astype(np.float32)
    return VisualEvent(time=t, cls=cls, subclass=sub, kind=kind, env=env, x=0.5, y=0.4, scale=0.08,
                       color=(230, 60, 60), approach=0.4, seed=5, extra={"shape": "circle", "drop": 0.5})


def _frames(ev: VisualEvent, fps: int, n: int, w: int = 128, h: int = 96) -> list[np.ndarray]:
    style = _static_style()
    bg = world_canvas(style, w, h)
    return [render_frame(i / fps, [ev], style, bg, w, h, i) for i in range(n)]


def _changed_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.abs(a.astype(int) - b.astype(int)).sum(axis=(1, 2)) > 0)


@pytest.mark.parametrize("fps", [8, 25, 60])
def test_hit_touches_the_floor_exactly_at_the_onset_frame(fps):
    k = int(fps * 0.8)
    ev = _event("hit", "impact", k / fps)
    frames = _frames(ev, fps, k + 4, h=192)
    bg = _frames(_event("hit", "impact", 99.0), fps, 1, h=192)[0]  # same scene, event far away
    floor = int(0.75 * 192)

    def lowest_object_row(f):
        rows = _changed_rows(f[:floor], bg[:floor])  # object pixels above the floor line
        return int(rows.max()) if len(rows) else -1

    assert lowest_object_row(frames[k]) >= floor - 2  # resting on the floor at the onset frame
    assert lowest_object_row(frames[k - 1]) < floor - 3  # still in the air one frame before
    assert np.abs(frames[k].astype(int) - frames[k - 1].astype(int)).sum() > 0  # visible change at k


@pytest.mark.parametrize(("kind", "cls", "sub"), [("burst", "explosion", "blast"), ("splash", "water", "splash"),
                                                  ("flicker", "fire", "crackle"), ("creature", "dog", "bark"),
                                                  ("swing", "door", "door_close"), ("step", "footstep", "wood")])
def test_every_kind_changes_the_picture_at_the_onset_frame(kind, cls, sub):
    fps = 25
    k = 20
    ev = _event(kind, cls, k / fps, sub)
    frames = _frames(ev, fps, k + 3)
    change = [np.abs(frames[i].astype(int) - frames[i - 1].astype(int)).mean() for i in range(1, len(frames))]
    assert change[k - 1] > 0.05  # frame k differs from frame k-1
    if kind in ("burst", "flicker", "creature"):
        # No motion in the frames just before contact (the object has faded in and waits).
        assert max(change[k - 4 : k - 1]) < change[k - 1] * 0.5 + 1e-9


def test_door_that_opens_starts_moving_at_the_onset():
    fps, k = 25, 15
    frames = _frames(_event("swing", "door", k / fps, "door_open"), fps, k + 3)
    assert all(np.array_equal(frames[i], frames[k - 1]) for i in range(k - 8, k - 1))  # shut, still
    assert np.abs(frames[k + 1].astype(int) - frames[k].astype(int)).sum() > 0  # swinging after


# ------------------------------------------------------------------ soundtrack and clip files


def test_soundtrack_onset_is_at_the_event_time(bank):
    rng = np.random.default_rng(4)
    fps = Fraction(30000, 1001)
    checked = 0
    for _ in range(12):
        events, mix = compose(bank, rng, 3.0, fps)
        assert len(mix) == int(round(3.0 * SR))
        first = events[0]
        assert first["time"] == pytest.approx(first["frame"] / float(fps), abs=1e-6)
        t = first["time"]
        if t < 0.3:
            continue
        # silence before the first placed sound, and its attack exactly at the contact time
        s0 = int(round((t - first["onset"]) * SR))
        assert np.max(np.abs(mix[: max(0, s0 - 1)]), initial=0.0) == 0.0
        window = mix[int(round((t - 0.3) * SR)) : int(round((t + 0.05) * SR))]
        assert clean.onset_time(window, SR) == pytest.approx(0.3, abs=0.011)
        checked += 1
    assert checked >= 3


def test_render_clip_writes_video_audio_and_events(bank, tmp_path):
    from engine.media import probe, read_audio

    spec = ClipSpec(duration=2.5, fps=12, size=(96, 64))
    mp4 = render_clip(bank, tmp_path, "c1", seed=11, spec=spec)
    meta = json.loads(mp4.with_suffix(".json").read_text())
    info = probe(mp4)
    assert (info.video.width, info.video.height) == (96, 64)
    assert info.video.fps == Fraction(12)
    assert meta["n_frames"] == math.floor(2.5 * 12) and meta["duration"] == pytest.approx(30 / 12)
    audio, sr = read_audio(mp4, sample_rate=SR)
    assert sr == SR and abs(len(audio) - meta["duration"] * SR) <= 2
    assert meta["events"]
    for e in meta["events"]:
        assert e["time"] == pytest.approx(e["frame"] / 12, abs=1e-6)
        assert 0 <= e["frame"] < meta["n_frames"]
        assert e["start"] == pytest.approx(e["time"] - e["onset"], abs=1e-5)
        assert {"class", "sound_id", "kind", "gain_db"} <= set(e)
    # Same seed, same clip.
    mp4b = render_clip(bank, tmp_path, "c2", seed=11, spec=spec)
    assert json.loads(mp4b.with_suffix(".json").read_text())["events"] == meta["events"]


def test_splits_use_only_their_own_sounds(root):
    rows = [json.loads(x) for x in (root / "sfx" / "manifest.jsonl").read_text().splitlines()]
    split_of = {r["id"]: r["split"] for r in rows}
    for split in ("val", "test"):
        b = SoundBank(root / "sfx" / "manifest.jsonl", split)
        events, _ = compose(b, np.random.default_rng(0), 4.0, Fraction(25))
        assert all(split_of[e["sound_id"]] == split for e in events)


# ------------------------------------------------------------------ cache and dataset


@pytest.fixture(scope="module")
def cached(root, bank):
    spec = ClipSpec(duration=(1.5, 3.5), fps=(10, 25), size=(64, 48))
    for i in range(3):
        render_clip(bank, root / "clips" / "train", f"train-{i}", seed=100 + i, spec=spec)
    render_clip(bank, root / "clips" / "val", "val-0", seed=7, spec=spec)
    cfg = CacheConfig(rates=((10.0, 32), (25.0, 32)))
    index = run_to_completion(cache_clips(root, ("train", "val"), cfg))
    return root, cfg, index


def test_cache_round_trip_by_content_hash(cached):
    root, cfg, index = cached
    rows = read_index(root / "cache")
    assert len(rows) == 4 and {r["split"] for r in rows} == {"train", "val"}
    for r in rows:
        mp4 = root / "clips" / r["split"] / f"{r['id']}.mp4"
        assert r["key"] == content_key(mp4, cfg)
        e = load_entry(root / "cache" / r["file"])
        meta = json.loads(mp4.with_suffix(".json").read_text())
        assert events_of(e) == meta["events"]
        assert e["frames_10"].shape[1:] == (32, 32, 3) and e["frames_10"].dtype == np.uint8
        assert len(e["frames_25"]) == pytest.approx(meta["duration"] * 25, abs=1)
        assert e["mel"].shape == (math.ceil(len(e["audio"]) / 160), 64)
        assert e["layout"].shape[1] == 5
    # A second run reuses the entries; a changed configuration makes new keys.
    before = {p.name: p.stat().st_mtime_ns for p in (root / "cache").glob("*.npz")}
    run_to_completion(cache_clips(root, ("train", "val"), cfg))
    assert {p.name: p.stat().st_mtime_ns for p in (root / "cache").glob("*.npz")} == before
    mp4 = root / "clips" / "train" / "train-0.mp4"
    assert content_key(mp4, CacheConfig(rates=((10.0, 16),))) != content_key(mp4, cfg)


def test_dataset_crops(cached):
    torch = pytest.importorskip("torch")
    from engine.data.dataset import CLASSES, ClipDataset, crop_grid

    root, _cfg, _ = cached
    ds = ClipDataset(root / "cache", "train", crop_seconds=2.0, fps=25, seed=1)
    assert len(ds) == 3
    assert crop_grid(25) == pytest.approx(0.2) and crop_grid(10) == pytest.approx(0.1)
    for i in range(len(ds)):
        item = ds[i]
        assert item["frames"].shape == (50, 3, 32, 32) and item["frames"].dtype == torch.uint8
        assert item["audio"].shape == (32000,)
        assert item["mel"].shape == (200, 64) and item["layout"].shape == (20, 5)
        start = float(item["start"])
        assert abs(start / 0.2 - round(start / 0.2)) < 1e-6  # on the shared grid
        entry = load_entry(root / "cache" / ds.rows[i]["file"])
        s0 = int(round(start * 16000))
        real = min(32000, len(entry["audio"]) - s0)
        assert torch.equal(item["audio"][:real], torch.from_numpy(entry["audio"][s0 : s0 + real]))
        assert int(item["valid"].sum()) == min(50, len(entry["frames_25"]) - int(round(start * 25)))
        # onsets mark exactly the frames of the events inside the crop
        want = sorted({math.floor((e["time"] - start) * 25 + 1e-6) for e in events_of(entry) if 0 <= e["time"] - start < 2.0})
        assert sorted(np.flatnonzero(item["onsets"].numpy()).tolist()) == want
        cls = {CLASSES[j] for j in np.flatnonzero(item["classes"].numpy())}
        assert cls == {e["class"] for e in events_of(entry) if 0 <= e["time"] - start < 2.0}
    # reproducible crops with a seed; batches collate
    again = ClipDataset(root / "cache", "train", crop_seconds=2.0, fps=25, seed=1)
    assert [float(again[i]["start"]) for i in range(3)] == [float(ds[i]["start"]) for i in range(3)]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["frames"].shape == (3, 50, 3, 32, 32) and len(batch["id"]) == 3
    with pytest.raises(ValueError):
        ClipDataset(root / "cache", "train", crop_seconds=1.05, fps=10)


def test_cli_clips_cache_and_stats(cached, capsys):
    from engine.cli.main import main

    root, _cfg, _ = cached
    assert main(["data", "--root", str(root), "clips", "--count", "1", "--split", "test", "--duration", "1.5",
                 "--fps", "30000/1001", "--size", "64x48"]) == 0
    meta = json.loads(next((root / "clips" / "test").glob("*.json")).read_text())
    assert meta["fps"] == "30000/1001" and (meta["width"], meta["height"]) == (64, 48)
    assert main(["data", "--root", str(root), "cache", "--splits", "test", "--rates", "10:16"]) == 0
    assert {r["split"] for r in read_index(root / "cache")} == {"train", "val", "test"}
    capsys.readouterr()
    assert main(["data", "--root", str(root), "stats"]) == 0
    out = capsys.readouterr().out
    assert "library:" in out and "clips test: 1 clips" in out


def test_truncated_cache_entry_is_one_line_then_rebuilt(cached):
    from engine.errors import V2AError

    root, cfg, _ = cached
    entry = sorted((root / "cache").glob("*.npz"))[0]
    good = load_entry(entry)
    entry.write_bytes(entry.read_bytes()[:1000])  # an interrupted write on another tool
    with pytest.raises(V2AError, match=rf"{entry.name}: unreadable cache entry \(BadZipFile"):
        load_entry(entry)
    run_to_completion(cache_clips(root, ("train", "val"), cfg))  # a miss: rebuilt, not reused
    again = load_entry(entry)
    assert set(again) == set(good)
    np.testing.assert_array_equal(again["mel"], good["mel"])
