"""engine.data: cleaning functions, taxonomy, library manifest and splits (no downloads)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.data import clean
from engine.data.fixtures import synthetic_sources
from engine.data.library import assign_splits, build_library, read_manifest, sound_path
from engine.data.sources import fetch_packages
from engine.data.taxonomy import classify
from engine.progress import run_to_completion

SR = 16000


def _click(at: float, dur: float = 1.0, amp: float = 0.5) -> np.ndarray:
    y = np.zeros(int(dur * SR), np.float32)
    k = int(at * SR)
    n = int(0.05 * SR)
    y[k : k + n] = amp * np.exp(-np.arange(n) / (0.01 * SR)) * np.random.default_rng(0).normal(0, 1, n)
    return y


# ------------------------------------------------------------------ cleaning


def test_trim_silence_keeps_the_sound_and_small_margins():
    y = _click(0.4, 1.0)
    out, start = clean.trim_silence(y, SR)
    assert 0.38 * SR <= start <= 0.4 * SR  # 10 ms pre-roll
    assert 0.05 * SR <= len(out) <= 0.2 * SR
    assert np.max(np.abs(out)) == pytest.approx(np.max(np.abs(y)), rel=0.01)
    silent, _ = clean.trim_silence(np.zeros(SR, np.float32), SR)
    assert len(silent) == 0


def test_loudness_normalise_hits_target_and_respects_peak():
    rng = np.random.default_rng(1)
    noise = (0.01 * rng.normal(0, 1, SR)).astype(np.float32)
    out = clean.loudness_normalise(noise, SR, target_db=-20.0)
    assert clean.active_rms_db(out, SR) == pytest.approx(-20.0, abs=0.5)
    spiky = _click(0.2, 0.5, amp=0.01)  # a click: the peak limit, not the RMS target, decides
    out2 = clean.loudness_normalise(spiky, SR, target_db=-10.0, peak_db=-1.0)
    assert np.max(np.abs(out2)) == pytest.approx(10 ** (-1 / 20), rel=1e-3)


def test_split_segments_lengths_and_cap():
    y = np.ones(int(30.5 * SR), np.float32)
    segs = clean.split_segments(y, SR, seg_s=4.0, min_s=1.5, max_total_s=8.0, max_segments=5)
    assert len(segs) == 5
    assert all(1.5 * SR <= len(p) <= 4 * SR for _, p in segs)
    assert segs[0][0] == 0 and segs[-1][0] == 28 * SR  # evenly spaced over the 8 pieces (last 2.5 s)
    starts = [s for s, _ in segs]
    assert starts == sorted(starts) and len(set(starts)) == 5
    short = np.ones(int(6 * SR), np.float32)
    assert len(clean.split_segments(short, SR)) == 1


def test_onset_time_finds_the_attack():
    for at in (0.0, 0.123, 0.5):
        assert clean.onset_time(_click(at), SR) == pytest.approx(at, abs=0.006)


def test_resample_length_and_identity():
    y = np.random.default_rng(2).normal(0, 0.1, 44100).astype(np.float32)
    from engine.audio.dsp import resample  # the project's one resampler

    assert len(resample(y, 44100, SR)) == SR
    assert resample(y, SR, SR) is y or np.array_equal(resample(y, SR, SR), y)


def test_fingerprint_is_level_independent_and_discriminates():
    a = _click(0.1, 0.6)
    tone = np.sin(2 * np.pi * 440 * np.arange(int(0.6 * SR)) / SR).astype(np.float32) * 0.3
    fa, fa2, ft = (clean.fingerprint(x, SR) for x in (a, a * 0.3, tone))
    assert float(fa @ fa2) > 0.99
    assert float(fa @ ft) < 0.9
    fps = np.stack([fa, fa2, ft])
    d = np.array([0.6, 0.6, 0.6])
    assert clean.near_duplicates(fps, d) == [1]
    assert clean.near_duplicates(fps, d, groups=["x", "x", "y"]) == []  # same recording: kept


# ------------------------------------------------------------------ taxonomy


@pytest.mark.parametrize(
    ("package", "path", "cls", "sub"),
    [
        ("0ad-data", "audio/actor/singlesteps/fs_gravel3.ogg", "footstep", "gravel"),
        ("0ad-data", "audio/attack/impact/arrow_metal_04.ogg", "impact", "metal"),
        ("0ad-data", "audio/voice/greek/civ/x.ogg", None, "voice/music/interface"),
        ("minetest-data", "mods/doors/sounds/doors_glass_door_close.ogg", "door", "glass_door_close"),
        ("minetest-data", "mods/default/sounds/default_break_glass.2.ogg", "glass", "break"),
        ("lugaru-data", "usr/share/games/lugaru/Sounds/Music1Snow.ogg", None, "music/interface"),
        ("wesnoth-1.16-data", "data/core/sounds/human-die-1.ogg", None, "voice/magic"),
        ("tuxpaint-stamps-default", "stamps/animals/birds/owl_desc_fr.ogg", None, "voice"),
        ("tuxpaint-stamps-default", "stamps/animals/birds/owl.ogg", "bird", "owl"),
        ("freedroidrpg-data", "sound/music/town.ogg", None, "unlabelled"),
    ],
)
def test_classify(package, path, cls, sub):
    label = classify(package, path)
    assert label.cls == cls
    assert label.subclass == sub


# ------------------------------------------------------------------ library


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    base = tmp_path_factory.mktemp("lib")
    files = synthetic_sources(base / "raw")
    report = run_to_completion(build_library(base / "root", files=files))
    return base, files, report


def test_manifest_rows_and_files(library):
    base, _files, report = library
    rows = read_manifest(report.manifest)
    assert report.kept == len(rows) > 30
    need = {"id", "path", "class", "subclass", "description", "source", "original_path", "license",
            "attribution", "duration", "sample_rate", "split", "onset"}
    for r in rows:
        assert need <= set(r)
        audio, sr = sf.read(sound_path(report.manifest, r))
        assert sr == 16000 and audio.ndim == 1
        assert len(audio) / sr == pytest.approx(r["duration"], abs=1e-3)
        assert clean.active_rms_db(audio.astype(np.float32), sr) <= -19.0  # normalised (or peak-limited)
        assert np.max(np.abs(audio)) <= 10 ** (-1 / 20) + 1e-3
    assert {r["class"] for r in rows} == {"footstep", "impact", "door", "explosion", "bird", "ambience"}
    amb = [r for r in rows if r["class"] == "ambience"]
    assert len(amb) == 4  # 14 s ambience -> 4 + 4 + 4 + 2 s segments (tails >= 1.5 s are kept)
    assert len({r["split"] for r in amb}) == 1  # one source file, one split


def test_duplicates_license_and_voice_dropped(library):
    _base, _files, report = library
    rows = read_manifest(report.manifest)
    paths = [r["original_path"] for r in rows]
    assert not any(".dup." in p for p in paths)
    assert not any(".quiet." in p for p in paths)
    assert not any("voice/" in p for p in paths)
    assert not any("perc_impact9" in p for p in paths)
    assert report.dropped["license: unknown"] == 1
    assert report.dropped["duplicate (same file bytes)"] == 1
    assert report.dropped["duplicate (same audio)"] + report.dropped["near-duplicate"] == 1


def test_no_source_file_in_two_splits_and_every_class_evaluable(library):
    _base, _files, report = library
    rows = read_manifest(report.manifest)
    by_source: dict[str, set] = {}
    for r in rows:
        by_source.setdefault(r["original_path"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_source.values())
    for cls in {r["class"] for r in rows}:
        n_sources = len({r["original_path"] for r in rows if r["class"] == cls})
        splits = {r["split"] for r in rows if r["class"] == cls}
        if n_sources >= 5:
            assert {"train", "val", "test"} <= splits, cls


def test_manifest_is_deterministic(library, tmp_path):
    base, files, report = library
    # Same sources in another order and another folder: identical manifest.
    raw2 = tmp_path / "raw2"
    shutil.copytree(base / "raw", raw2)
    files2 = [type(f)(f.package, f.relpath, raw2 / f.path.name, f.license, f.attribution) for f in reversed(files)]
    report2 = run_to_completion(build_library(tmp_path / "root2", files=files2))
    assert report.manifest.read_text() == report2.manifest.read_text()


def test_assign_splits_stable_when_sources_are_added():
    groups = {f"pkg:file{i}": "impact" for i in range(200)}
    a = assign_splits(groups)
    b = assign_splits({**groups, **{f"pkg:new{i}": "impact" for i in range(50)}})
    assert all(a[k] == b[k] for k in groups)
    counts = {s: sum(v == s for v in a.values()) for s in ("train", "val", "test")}
    assert 120 < counts["train"] < 190 and counts["val"] > 8 and counts["test"] > 8


def test_manifest_json_lines_parse(library):
    _base, _files, report = library
    for line in report.manifest.read_text().splitlines():
        json.loads(line)


def test_fetch_packages_unpacks_a_downloaded_deb_under_a_relative_data_root(tmp_path, monkeypatch):
    # Regression: dpkg runs in <root>/src, so a relative root ("data", the CLI default) made
    # it look for data/src/data/debs/<pkg>.deb and `v2a data sfx` failed on a fresh machine.
    pkg = tmp_path / "build"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN" / "control").write_text(
        "Package: v2a-fake-sounds\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n"
    )
    (pkg / "usr" / "share" / "sounds").mkdir(parents=True)
    (pkg / "usr" / "share" / "sounds" / "a.txt").write_text("x")
    debs = tmp_path / "data" / "debs"
    debs.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "--build", str(pkg), str(debs / "v2a-fake-sounds_1.0_all.deb")], check=True, capture_output=True)
    monkeypatch.chdir(tmp_path)
    # The .deb is already there, so nothing is downloaded.
    assert fetch_packages(Path("data"), ["v2a-fake-sounds"]) == ["v2a-fake-sounds"]
    assert (tmp_path / "data" / "src" / "v2a-fake-sounds" / "usr" / "share" / "sounds" / "a.txt").read_text() == "x"
