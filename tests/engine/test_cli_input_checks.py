"""Inputs refused before any work (one line, exit 2), and a damaged feature cache rebuilt."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from media_helpers import make_clip

import engine.cli.generate_cmd as generate_cmd
import engine.generation as generation
from engine.cli.main import main
from engine.errors import MediaError
from engine.progress import run_to_completion


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "c.mp4", n_frames=25, fps=25).path


@pytest.fixture
def no_pack_loading(monkeypatch):
    """Any pack load fails the test: the refusal must come before the long work."""

    def boom(*a, **k):
        raise AssertionError("loaded a pack before refusing the input")

    monkeypatch.setattr(generate_cmd, "load_any_pack", boom)
    monkeypatch.setattr(generation, "load_pack", boom)


def _one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("v2a: error: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    for w in words:
        assert w in err
    return err


def test_save_layout_onto_the_input_layout_is_refused_before_any_work(clip, tmp_path, capsys, no_pack_loading):
    lay = tmp_path / "l.npy"
    np.save(lay, np.full((25, 5), 0.5, np.float32))
    before = lay.read_bytes()
    for same in (str(lay), str(tmp_path / "sub" / ".." / "l.npy")):
        (tmp_path / "sub").mkdir(exist_ok=True)
        rc = main(["generate", str(clip), "-o", str(tmp_path / "o.wav"), "--layout", str(lay),
                   "--save-layout", same, "--quiet"])
        assert rc == 2
        _one_line_error(capsys, "l.npy", "refusing to overwrite the input")
    assert lay.read_bytes() == before and not (tmp_path / "o.wav").exists()


def _audio_only(tmp_path: Path) -> Path:
    wav = tmp_path / "sound.wav"
    sf.write(str(wav), np.zeros(16000, np.float32), 16000)
    return wav


@pytest.mark.parametrize("command", ["generate", "predict-layout"])
def test_audio_only_input_is_one_line_before_any_work(tmp_path, capsys, no_pack_loading, command):
    wav = _audio_only(tmp_path)
    out = tmp_path / ("o.wav" if command == "generate" else "o.npy")
    assert main([command, str(wav), "-o", str(out), "--quiet"]) == 2
    _one_line_error(capsys, "sound.wav", "no video stream")
    assert not out.exists()


@pytest.mark.parametrize("command", ["generate", "predict-layout"])
def test_unreadable_and_directory_inputs_are_one_line(clip, tmp_path, capsys, monkeypatch, no_pack_loading, command):
    out = tmp_path / ("o.wav" if command == "generate" else "o.npy")
    assert main([command, str(tmp_path), "-o", str(out), "--quiet"]) == 2
    _one_line_error(capsys, str(tmp_path), "not a file")
    # Tests run as root, where chmod 000 still reads: simulate an unreadable file instead.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if Path(p) == clip else real_access(p, mode, *a, **k))
    assert main([command, str(clip), "-o", str(out), "--quiet"]) == 2
    _one_line_error(capsys, "c.mp4", "permission denied")
    assert not out.exists()


# ------------------------------------------------------------------ feature cache


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    from engine.train.packio import random_pack

    d = random_pack(tmp_path_factory.mktemp("packs") / "tiny", name="tiny", window_seconds=1.0, overlap_seconds=0.25)
    return generation.load_pack(d)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_feature_cache_entry_is_a_miss_and_is_rebuilt(pack, clip, tmp_path, monkeypatch, damage):
    import engine.media

    first = run_to_completion(generation.predict_layout(clip, pack, cache_dir=tmp_path))
    (entry,) = tmp_path.glob("*.npz")
    good = entry.read_bytes()
    entry.write_bytes({"truncate": good[: len(good) // 2], "garbage": b"PK\x03\x04" + b"x" * 100, "empty": b""}[damage])
    again = run_to_completion(generation.predict_layout(clip, pack, cache_dir=tmp_path))
    np.testing.assert_allclose(again.values, first.values, atol=1e-6)
    with np.load(entry, allow_pickle=False) as z:  # rewritten whole
        assert set(z.files) >= {"duration", "motion", "cls", "patch"}

    def boom(*a, **k):
        raise AssertionError("decoded again: the rebuilt entry was not used")

    monkeypatch.setattr(engine.media, "read_frames", boom)
    run_to_completion(generation.predict_layout(clip, pack, cache_dir=tmp_path))


def test_features_of_an_audio_only_file_are_a_media_error(pack, tmp_path):
    with pytest.raises(MediaError, match="no video stream"):
        run_to_completion(generation.predict_layout(_audio_only(tmp_path), pack, cache_dir=tmp_path / "c"))
