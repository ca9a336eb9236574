"""Core engine plumbing: time conversions, progress/cancel, atomic outputs, CLI errors."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine import timebase as tb
from engine.cli.main import main as cli_main
from engine.errors import Cancelled, OutputError
from engine.progress import CancelToken, Progress, run_to_completion
from engine.safe_write import atomic_output


def test_ntsc_rate_is_exact():
    assert tb.as_fraction(29.97) == Fraction(30000, 1001)
    assert tb.as_fraction(23.976) == Fraction(24000, 1001)
    assert tb.as_fraction(25) == Fraction(25)


@pytest.mark.parametrize("fps", [Fraction(30000, 1001), Fraction(25), Fraction(8), Fraction(60)])
def test_frames_and_seconds_round_trip(fps):
    for idx in (0, 1, 29, 30, 1799, 107892):
        t = tb.frame_to_seconds(idx, fps)
        assert tb.seconds_to_frame(t, fps) == idx
        # the middle of a frame still belongs to it
        assert tb.seconds_to_frame(t + 0.5 / float(fps), fps) == idx


def test_frame_samples_conversion_has_no_drift_at_ntsc():
    fps = Fraction(30000, 1001)
    # one hour of NTSC video: 107892 frames; samples must match exact arithmetic
    n = tb.frame_to_samples(107892, fps, 48000)
    assert n == round(107892 * 1001 * 48000 / 30000)
    assert tb.samples_to_frame(n, fps, 48000) == 107892


def test_frame_count_uses_ceil_of_duration():
    assert tb.frame_count(10.0, 25) == 250
    assert tb.frame_count(10.01, 25) == 251
    assert tb.columns_for(10.24, 10.0) == 103
    assert tb.columns_for(10.2, 10.0) == 102


def test_timecode_at_real_rate():
    assert tb.timecode(0.0, 25) == "00:00:00:00"
    assert tb.timecode(61.0 + 12 / 25, 25) == "00:01:01:12"
    assert tb.timecode(3600.0, 24) == "01:00:00:00"


def test_run_to_completion_returns_result_and_reports_progress():
    seen: list[Progress] = []

    def job():
        for i in range(3):
            yield Progress("work", i + 1, 3)
        return "done"

    assert run_to_completion(job(), seen.append) == "done"
    assert [p.step for p in seen] == [1, 2, 3]
    assert seen[-1].fraction == 1.0


def test_cancel_token_raises_cancelled():
    tok = CancelToken()
    tok.check()
    tok.cancel()
    with pytest.raises(Cancelled):
        tok.check()


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "out.wav"
    with pytest.raises(RuntimeError), atomic_output(out) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_refuses_input_and_missing_folder(tmp_path):
    src = tmp_path / "in.mp4"
    src.write_bytes(b"x")
    with pytest.raises(OutputError, match="overwrite the input"), atomic_output(src, [src]):
        pass
    with pytest.raises(OutputError, match="does not exist"), atomic_output(tmp_path / "no" / "o.wav"):
        pass
    assert src.read_bytes() == b"x"


def test_cli_without_command_prints_help(capsys):
    assert cli_main([]) == 1
    assert "COMMAND" in capsys.readouterr().out


def test_atomic_output_gets_normal_permissions(tmp_path):
    import os

    out = tmp_path / "take.wav"
    with atomic_output(out) as tmp:
        tmp.write_bytes(b"RIFF")
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
