"""``v2a layout`` and ``v2a eval`` end to end (in-process), including the failure paths."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf
from test_audio_helpers import clicks
from test_metrics_align import FPS, IMPACTS, _square_frames

from engine.audio import load_layout
from engine.cli.main import main
from engine.metrics import events_from_layout


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_layout_of_real_recording(tmp_path, capsys, real_media):
    out = tmp_path / "l.npy"
    rc, _, err = run_cli(capsys, "layout", str(real_media("sfx_explode")), "-o", str(out), "--png", str(tmp_path / "l.png"))
    assert rc == 0, err
    lay = load_layout(out)
    assert lay.n_bands == 5 and lay.n_columns == 13 and lay.values.max() > 0.6
    assert (tmp_path / "l.json").is_file()
    assert (tmp_path / "l.png").read_bytes()[:4] == b"\x89PNG"


def test_layout_options(tmp_path, capsys, real_media):
    out = tmp_path / "fine.npy"
    rc, _, err = run_cli(
        capsys, "layout", str(real_media("sfx_footstep")), "-o", str(out), "--columns-per-second", "25", "--bands", "8"
    )
    assert rc == 0, err
    lay = load_layout(out)
    assert lay.n_bands == 8 and lay.columns_per_second == pytest.approx(25, rel=0.05)


def test_layout_of_a_videos_soundtrack(tmp_path, capsys, flash_clip):
    out = tmp_path / "v.npy"
    rc, _, err = run_cli(capsys, "layout", str(flash_clip.path), "-o", str(out), "--columns-per-second", "25")
    assert rc == 0, err
    ev = events_from_layout(load_layout(out))
    # 1 ms clicks on the flash frames 25 and 70 at 25 fps (1.0 s and 2.8 s)
    assert len(ev) == 2 and abs(ev[0] - 1.0) < 0.04 and abs(ev[1] - 2.8) < 0.04


def _assert_one_line_error(rc: int, err: str, needle: str) -> None:
    assert rc == 2
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("v2a: error:"), err
    assert needle in lines[0], err
    assert "Traceback" not in err


def test_layout_failures(tmp_path, capsys, cfr_clip):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    rc, _, err = run_cli(capsys, "layout", str(cfr_clip.path), "-o", str(out_dir / "l.npy"), "--png", str(out_dir / "l.png"))
    _assert_one_line_error(rc, err, str(cfr_clip.path))
    assert "audio" in err
    rc, _, err = run_cli(capsys, "layout", str(tmp_path / "nope.wav"), "-o", str(out_dir / "l.npy"))
    _assert_one_line_error(rc, err, "nope.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00junk" * 10)
    rc, _, err = run_cli(capsys, "layout", str(junk), "-o", str(out_dir / "l.npy"))
    _assert_one_line_error(rc, err, "junk.wav")
    rc, _, err = run_cli(capsys, "layout", str(cfr_clip.path), "-o", str(tmp_path / "missing" / "l.npy"))
    _assert_one_line_error(rc, err, "does not exist")
    rc, _, err = run_cli(capsys, "layout", str(cfr_clip.path), "-o", str(out_dir / "l.txt"))
    _assert_one_line_error(rc, err, ".npy")
    assert list(out_dir.iterdir()) == []  # nothing half-written


@pytest.fixture(scope="module")
def square_clip(tmp_path_factory):
    """The moving-square video (impacts at known frames) + matching and late click tracks."""
    import av

    d = tmp_path_factory.mktemp("square")
    path = d / "square.mp4"
    frames = _square_frames()
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=FPS)
    s.width, s.height, s.pix_fmt = 128, 96, "yuv420p"
    s.codec_context.options = {"qp": "0", "preset": "ultrafast", "bf": "0"}
    for i, g in enumerate(frames):
        f = av.VideoFrame.from_ndarray(np.repeat(g[..., None], 3, axis=2), format="rgb24")
        f.pts = i
        f.time_base = Fraction(1, FPS)
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode(None):
        c.mux(p)
    c.close()
    good = d / "good.wav"
    late = d / "late.wav"
    sf.write(good, clicks([f / FPS for f in IMPACTS], dur=10.0, sr=22050), 22050)
    sf.write(late, clicks([f / FPS + 0.5 for f in IMPACTS], dur=10.0, sr=22050), 22050)
    return path, good, late, d


def test_eval_json_everything(capsys, square_clip):
    video, good, late, d = square_clip
    lay = d / "target.npy"
    assert run_cli(capsys, "layout", str(good), "-o", str(lay))[0] == 0
    rc, out, err = run_cli(
        capsys, "eval", "--video", str(video), "--audio", str(good), "--reference", str(good), "--layout", str(lay), "--json"
    )
    assert rc == 0, err
    res = json.loads(out)
    assert res["av_align"] >= 0.8
    assert res["aa_align"] == 1.0 and res["onset_acc"] == 1.0 and res["energy_l1"] == 0.0
    assert res["layout_recall_40ms"] == 1.0
    rc, out, err = run_cli(capsys, "eval", "--video", str(video), "--audio", str(late), "--reference", str(good), "--layout", str(lay), "--json")
    assert rc == 0, err
    bad = json.loads(out)
    assert bad["av_align"] <= 0.1 and bad["aa_align"] == 0.0 and bad["layout_recall_40ms"] == 0.0
    assert bad["odf_wasserstein_s"] == pytest.approx(0.5, abs=0.05)


def test_eval_table_and_failures(tmp_path, capsys, square_clip, cfr_clip):
    video, good, _, _ = square_clip
    rc, out, err = run_cli(capsys, "eval", "--audio", str(good), "--reference", str(good))
    assert rc == 0, err
    assert "aa_align" in out and "1.0000" in out
    bad_layout = tmp_path / "bad.npy"
    np.save(bad_layout, np.full((4, 5), 3.0, np.float32))
    rc, _, err = run_cli(capsys, "eval", "--audio", str(good), "--layout", str(bad_layout))
    _assert_one_line_error(rc, err, "bad.npy")
    rc, _, err = run_cli(capsys, "eval", "--video", str(cfr_clip.path))  # no soundtrack to score
    _assert_one_line_error(rc, err, str(cfr_clip.path))
    rc, _, err = run_cli(capsys, "eval", "--video", str(good), "--audio", str(good))  # not a video
    _assert_one_line_error(rc, err, "good.wav")
    rc, _, err = run_cli(capsys, "eval")
    _assert_one_line_error(rc, err, "--audio")
