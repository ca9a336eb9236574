"""Bad input gives one MediaError naming the file and the problem (real broken files too)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from media_helpers import make_clip

from engine.errors import MediaError
from engine.media import VideoReader, probe, read_audio, read_frames_array


def cut(src, dst, fraction: float):
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@pytest.fixture(scope="module")
def broken(tmp_path_factory, real_media, sample_clip):
    """name -> (path, expected message fragment)."""
    d = tmp_path_factory.mktemp("broken")
    cases = {}
    # real clips cut short: index at the end (moov after mdat) and at the front (faststart)
    cases["cut_moov_end"] = (cut(real_media("bbb_51"), d / "bbb_cut.mp4", 0.5), "truncated")
    cases["cut_faststart"] = (cut(sample_clip, d / "sample_cut.mp4", 0.6), "truncated")
    cases["cut_header"] = (cut(sample_clip, d / "sample_head.mp4", 0.004), "truncated")
    # Matroska keeps its stated duration in the header: a cut copy has a missing tail
    mkv = d / "bikes.mkv"
    with av.open(str(real_media("bikes"))) as ic, av.open(str(mkv), "w") as oc:
        vs = oc.add_stream_from_template(ic.streams.video[0])
        for p in ic.demux(ic.streams.video[0]):
            if p.dts is not None:
                p.stream = vs
                oc.mux(p)
    cases["cut_mkv"] = (cut(mkv, d / "bikes_cut.mkv", 0.8), "truncated")
    (d / "empty.mp4").write_bytes(b"")
    cases["empty"] = (d / "empty.mp4", "empty file")
    cases["missing"] = (d / "nope.mp4", "file not found")
    (d / "folder.mp4").mkdir()
    cases["directory"] = (d / "folder.mp4", "is a directory")
    rng = np.random.default_rng(0)
    (d / "noise.mp4").write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    cases["noise"] = (d / "noise.mp4", "not a media file")
    (d / "notes.mov").write_text("this is a text file\n" * 40)
    cases["text"] = (d / "notes.mov", "not a media file")
    # zero-length video: header, no frames
    z = d / "zero.mkv"
    o = av.open(str(z), "w")
    s = o.add_stream("libx264", rate=25)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    o.start_encoding()
    o.close()
    cases["zero_length"] = (z, "empty")
    cases["absurd_fps"] = (
        make_clip(d / "fast.mp4", n_frames=20, fps=5000, time_base=Fraction(1, 5000)).path,
        "frame rate",
    )
    huge = d / "huge.mkv"
    o = av.open(str(huge), "w")
    s = o.add_stream("rawvideo", rate=25)
    s.width, s.height, s.pix_fmt = 17000, 2, "gray"
    f = av.VideoFrame.from_ndarray(np.zeros((2, 17000), np.uint8), format="gray")
    f.pts = 0
    for p in s.encode(f):
        o.mux(p)
    for p in s.encode(None):
        o.mux(p)
    o.close()
    cases["absurd_size"] = (huge, "picture size")
    return cases


CASES = [
    "cut_moov_end",
    "cut_faststart",
    "cut_header",
    "cut_mkv",
    "empty",
    "missing",
    "directory",
    "noise",
    "text",
    "zero_length",
    "absurd_fps",
    "absurd_size",
]


@pytest.mark.parametrize("case", CASES)
def test_probe_bad_input(broken, case):
    path, fragment = broken[case]
    with pytest.raises(MediaError) as err:
        probe(path)
    msg = str(err.value)
    assert str(path) in msg and fragment in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    "case", ["cut_moov_end", "cut_faststart", "noise", "missing", "zero_length"]
)
def test_readers_bad_input(broken, case):
    path, _ = broken[case]
    for call in (
        lambda: read_frames_array(path, 10),
        lambda: VideoReader(path),
        lambda: read_audio(path),
    ):
        with pytest.raises(MediaError, match=str(path).replace(".", r"\.")):
            call()


def test_unreadable_file(tmp_path, monkeypatch, real_media):
    """Permission problems are reported as such (simulated: tests may run as root)."""
    import engine.media._util as util

    monkeypatch.setattr(util.os, "access", lambda p, mode: False)
    with pytest.raises(MediaError, match="permission denied"):
        probe(real_media("bikes"))


def test_no_video_stream(real_media):
    ogg = real_media("sfx_explode")
    with pytest.raises(MediaError, match="no video stream"):
        read_frames_array(ogg, 10)
    with pytest.raises(MediaError, match="no video stream"):
        VideoReader(ogg)


def test_no_audio_stream(real_media):
    with pytest.raises(MediaError, match="no audio stream"):
        read_audio(real_media("bikes"))
    with pytest.raises(MediaError, match="no audio stream #3"):
        read_audio(real_media("bbb_51"), stream=3)
