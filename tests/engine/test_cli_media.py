"""`v2a probe` and `v2a mux` from the command line, good and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from engine.cli.main import main
from engine.media import probe, read_audio, write_audio


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_probe_text_and_json(real_media, capsys):
    p = real_media("carphone")
    assert main(["probe", str(p)]) == 0
    out = capsys.readouterr().out
    assert "h264 176x144" in out and "30000/1001 fps" in out and "audio      none" in out
    assert main(["probe", str(real_media("bbb_51")), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["video"]["fps"] == "25/1" and d["audio"][0]["channels"] == 6


def test_mux_cli(real_media, tmp_path, capsys):
    sr = 16000
    a = np.zeros(sr * 3, np.float32)
    a[sr] = 1.0
    wav = write_audio(tmp_path / "a.wav", a, sr)
    out = tmp_path / "out.mkv"
    assert (
        main(["mux", str(real_media("carphone")), str(wav), "-o", str(out), "--codec", "flac"]) == 0
    )
    assert "wrote" in capsys.readouterr().out
    info = probe(out)
    assert info.audio[0].codec == "flac"
    y, _ = read_audio(out)
    assert len(y) == round(4.004 * sr) and int(np.argmax(np.abs(y))) == sr


def _bad_inputs(tmp_path, real_media):
    cut = tmp_path / "cut.mp4"
    data = real_media("bbb_51").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.mkv"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 9000, dtype=np.uint8).tobytes())
    return {
        "missing": (tmp_path / "missing.mp4", "file not found"),
        "directory": (tmp_path, "is a directory"),
        "truncated": (cut, "truncated"),
        "empty": (empty, "empty file"),
        "noise": (noise, "not a media file"),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "truncated", "empty", "noise"])
def test_probe_cli_bad_input_subprocess(tmp_path, real_media, case):
    path, fragment = _bad_inputs(tmp_path, real_media)[case]
    r = run_cli("probe", str(path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and fragment in lines[0]
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("case", ["missing", "truncated", "empty", "noise", "no_video"])
def test_mux_cli_bad_video_leaves_nothing(tmp_path, real_media, case, capsys):
    bad = _bad_inputs(tmp_path, real_media)
    path, fragment = (
        (real_media("sfx_snow"), "no video stream") if case == "no_video" else bad[case]
    )
    outdir = tmp_path / "o"
    outdir.mkdir()
    code = main(["mux", str(path), str(real_media("sfx_explode")), "-o", str(outdir / "x.mp4")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0] and str(path) in err[0]
    assert list(outdir.iterdir()) == []  # no output, no temporary file


def test_mux_cli_bad_audio_and_output(tmp_path, real_media, capsys):
    video = real_media("bikes")
    outdir = tmp_path / "o"
    outdir.mkdir()
    noise = tmp_path / "noise.wav"
    noise.write_bytes(b"RIFF" + bytes(200))
    assert main(["mux", str(video), str(noise), "-o", str(outdir / "x.mp4")]) == 2
    assert str(noise) in capsys.readouterr().err
    assert main(["mux", str(video), str(real_media("sfx_snow")), "-o", str(video)]) == 2
    assert "overwrite the input" in capsys.readouterr().err
    assert (
        main(
            [
                "mux",
                str(video),
                str(real_media("sfx_snow")),
                "-o",
                str(outdir / "x.mp4"),
                "--codec",
                "pcm",
            ]
        )
        == 2
    )
    assert "cannot hold pcm" in capsys.readouterr().err
    assert list(outdir.iterdir()) == []


def test_mux_cli_subprocess_truncated_no_traceback(tmp_path, real_media):
    cut = tmp_path / "cut.mp4"
    data = real_media("bikes").read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    out = tmp_path / "x.mp4"
    r = run_cli("mux", str(cut), str(real_media("sfx_snow")), "-o", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "truncated" in r.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4"]
