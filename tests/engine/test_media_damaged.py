"""Damaged streams (issue 20, part 4): a bad packet is skipped, its time kept (silence for
audio, the last good frame for video), one MediaWarning says so; only a stream where nothing
decodes is refused. Also: frame 0 of an AVI, and a still picture gets a silent layout."""

from __future__ import annotations

import json
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine.cli.main import main
from engine.errors import MediaError, MediaWarning
from engine.media import VideoReader, probe, read_audio, read_frames_array

SR, FS, FPS = 48000, 1536, 25  # AC-3 frames hold 1536 samples (32 ms at 48 kHz)
BAD = 30  # the damaged audio packet / video frame


def _level(i: int) -> int:
    return 16 + 8 * (i % 28)  # 8 apart: mpeg4's rounding (~2 levels) cannot blur two frames


def _index(rgb: np.ndarray) -> int:
    """Frame index modulo 28 (the levels repeat)."""
    return int(round((float(np.median(rgb[..., 1])) - 16) / 8))


def make_av(path: Path, acodec: str = "ac3", seconds: float = 2.0, bf: int = 0, start: int = 0) -> Path:
    """mpeg4 video (grey level = frame index) and a 440 Hz stereo tone at half scale."""
    c = av.open(str(path), "w")
    vs = c.add_stream("mpeg4", rate=FPS)
    vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
    vs.codec_context.gop_size = 12
    if bf:
        vs.codec_context.options = {"bf": str(bf)}
    for i in range(int(seconds * FPS)):
        f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), _level(i), np.uint8), format="rgb24")
        f.pts = start + i
        for p in vs.encode(f):
            c.mux(p)
    for p in vs.encode(None):
        c.mux(p)
    c.close()
    if acodec:
        _add_tone(path, acodec, seconds)
    return path


def _add_tone(path: Path, acodec: str, seconds: float) -> None:
    # PyAV needs every stream before the header is written: rewrite with video + audio
    src = path.with_suffix(".v" + path.suffix)
    path.rename(src)
    with av.open(str(src)) as ic, av.open(str(path), "w") as oc:
        ov = oc.add_stream_from_template(ic.streams.video[0])
        a = oc.add_stream(acodec, rate=SR, layout="stereo")
        for p in ic.demux(ic.streams.video[0]):
            if p.dts is not None:
                p.stream = ov
                oc.mux(p)
        n = int(seconds * SR)
        tone = (0.5 * np.sin(2 * np.pi * 440.0 * np.arange(n) / SR)).astype(np.float32)
        fs = a.codec_context.frame_size or 1024
        for i in range(0, n, fs):
            chunk = np.zeros((2, fs), np.float32)
            chunk[:, : len(tone[i : i + fs])] = tone[i : i + fs]
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = SR, i, Fraction(1, SR)
            for p in a.encode(af):
                oc.mux(p)
        for p in a.encode(None):
            oc.mux(p)
    src.unlink()


def corrupt_on_disk(src: Path, dst: Path, kind: str, which) -> Path:
    """Overwrite the payload bytes of packets ``which`` (index list or "all") of the first
    ``kind`` stream in the file itself, as a bad sector or a broken download would."""
    with av.open(str(src)) as c:
        s = getattr(c.streams, kind)[0]
        packets = [(p.pos, p.size) for p in c.demux(s) if p.size]
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(0)
    for i in range(len(packets)) if which == "all" else which:
        pos, size = packets[i]
        if kind == "audio":
            assert data[pos : pos + 2] == b"\x0b\x77"  # pos is the AC-3 payload, not the chunk header
        data[pos : pos + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(data))
    return dst


def corrupt_remux(src: Path, dst: Path, which) -> Path:
    """Copy ``src`` with the payload of audio packets ``which`` replaced by garbage."""
    rng = np.random.default_rng(1)
    with av.open(str(src)) as ic, av.open(str(dst), "w") as oc:
        ia, iv = ic.streams.audio[0], ic.streams.video[0]
        ov, oa = oc.add_stream_from_template(iv), oc.add_stream_from_template(ia)
        k = 0
        for p in ic.demux():
            if p.dts is None:
                continue
            if p.stream is ia:
                if which == "all" or k in which:
                    q = av.Packet(rng.integers(0, 256, p.size, dtype=np.uint8).tobytes())
                    q.pts, q.dts, q.duration, q.time_base = p.pts, p.dts, p.duration, p.time_base
                    p = q
                k += 1
                p.stream = oa
            else:
                p.stream = ov
            oc.mux(p)
    return dst


def read_with_warnings(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = call()
    return out, [w for w in caught if issubclass(w.category, MediaWarning)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("damaged")
    good = make_av(d / "ac3.avi")
    out = {"good_avi": good}
    out["bad_avi"] = corrupt_on_disk(good, d / "ac3_bad.avi", "audio", [BAD])
    out["dead_avi"] = corrupt_on_disk(good, d / "ac3_dead.avi", "audio", "all")
    mkv = make_av(d / "aac.mkv", acodec="aac")
    out["good_mkv"] = mkv
    out["bad_mkv"] = corrupt_remux(mkv, d / "aac_bad.mkv", [BAD])
    out["dead_mkv"] = corrupt_remux(mkv, d / "aac_dead.mkv", "all")
    return out


def test_one_bad_ac3_packet_in_avi_is_skipped_as_silence(clips):
    clean, _ = read_audio(clips["good_avi"])
    (a, sr), warned = read_with_warnings(lambda: read_audio(clips["bad_avi"]))
    assert sr == SR
    assert abs(len(a) - len(clean)) <= FS  # duration right within one frame
    # the AVI's AC-3 parser merges the garbage with its neighbour: 2 frames (64 ms) are lost
    assert [str(w.message) for w in warned] == [
        f"{clips['bad_avi']}: skipped 1 undecodable audio packet (64 ms filled with silence)"
    ]
    hole = slice(BAD * FS, (BAD + 1) * FS)
    assert np.abs(a[hole]).max() < 0.01  # silence where the bad packet was
    # the tone is intact (and in place) away from the hole; MDCT overlap smears one frame
    keep = np.ones(len(clean), bool)
    keep[(BAD - 2) * FS : (BAD + 3) * FS] = False
    n = min(len(a), len(clean))
    assert np.abs(a[:n][keep[:n]] - clean[:n][keep[:n]]).max() < 0.02
    assert np.abs(a[: (BAD - 2) * FS]).max() > 0.45


def test_one_bad_aac_packet_in_mkv_is_skipped_as_silence(clips):
    clean, _ = read_audio(clips["good_mkv"])
    (a, _), warned = read_with_warnings(lambda: read_audio(clips["bad_mkv"]))
    assert len(warned) == 1 and "skipped 1 undecodable audio packet" in str(warned[0].message)
    assert abs(len(a) - len(clean)) <= 1024
    err = np.abs(a[: len(clean)] - clean[: len(a)])
    bad = np.flatnonzero(err > 0.05)
    assert len(bad) and bad.max() - bad.min() < 4 * 1024  # only around the one packet
    quiet = np.abs(a[bad.min() : bad.max()])
    assert np.median(quiet) < 0.05  # that span is (near) silence, not noise


@pytest.mark.parametrize("key", ["dead_avi", "dead_mkv"])
def test_all_audio_packets_bad_is_refused_in_one_line(clips, key):
    with pytest.raises(MediaError) as err:
        read_audio(clips[key])
    msg = str(err.value)
    assert msg.startswith(f"{clips[key]}: audio damaged beyond decoding") and "\n" not in msg


def test_cli_prints_the_warning_once_and_refuses_dead_audio(clips, tmp_path, capsys):
    rc = main(["layout", str(clips["bad_avi"]), "-o", str(tmp_path / "l.npy")])
    err = capsys.readouterr().err
    assert rc == 0
    lines = [x for x in err.splitlines() if x.startswith("v2a: warning:")]
    assert lines == [
        f"v2a: warning: {clips['bad_avi']}: skipped 1 undecodable audio packet (64 ms filled with silence)"
    ]
    rc = main(["layout", str(clips["dead_avi"]), "-o", str(tmp_path / "d.npy")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("v2a: error:") and "damaged beyond decoding" in err
    assert "\n" not in err


def test_cli_eval_scores_the_damaged_soundtrack_with_one_warning(clips, capsys):
    """`v2a eval --video` reads the clip's own soundtrack: one bad AC-3 packet is a warning."""
    rc = main(["eval", "--video", str(clips["bad_avi"]), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "av_align" in json.loads(out)
    lines = [x for x in err.splitlines() if x.startswith("v2a: warning:")]
    assert lines == [
        f"v2a: warning: {clips['bad_avi']}: skipped 1 undecodable audio packet (64 ms filled with silence)"
    ]


# ------------------------------------------------------------------------------ video ----
@pytest.mark.parametrize("seconds", [1.2, 1.6, 1.96])
def test_avi_between_one_and_two_seconds_probes(tmp_path, seconds):
    """The end check seeks 2 s before the end; AVI refuses a negative target with EPERM, so a
    1-2 s AVI (pymecavideo's ball clip, 1.6 s) was refused as 'cannot decode'."""
    p = make_av(tmp_path / "short.avi", seconds=seconds)
    info = probe(p)
    assert info.video is not None and abs(info.duration - seconds) < 0.1
    a, _ = read_audio(p)
    assert a.shape[0] > 0


@pytest.mark.parametrize("bf,start", [(0, 0), (2, 0), (2, 5)])
def test_avi_frame_zero_decodes(tmp_path, bf, start):
    """AVI refuses a seek before its first timestamp: the viewer used to fail for t < ~0.1 s."""
    p = make_av(tmp_path / "v.avi", acodec="", seconds=3.0, bf=bf, start=start)
    with VideoReader(p) as r:
        assert _index(r.frame_at(0.0)[1]) == 0
        for t in (0.04, 0.08, 0.12, 1.0, 0.0):
            r.frame_at(t)  # forward, then back to the start: no error
        assert _index(r.frame_at(0.0)[1]) == 0
    frames, _ = read_frames_array(p, FPS)
    assert _index(frames[0]) == 0


@pytest.fixture(scope="module")
def bad_video(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("badvideo")
    good = make_av(d / "v.avi", acodec="", seconds=3.0)
    return corrupt_on_disk(good, d / "v_bad.avi", "video", [BAD])


def test_damaged_video_packet_repeats_the_last_good_frame(bad_video):
    (frames, _), warned = read_with_warnings(lambda: read_frames_array(bad_video, FPS))
    assert len(frames) == 75
    idx = [_index(f) for f in frames]
    assert idx[BAD] == (BAD - 1) % 28  # the last good frame stands in
    assert idx[:BAD] == [i % 28 for i in range(BAD)] and idx[BAD + 1] == (BAD + 1) % 28
    assert [str(w.message) for w in warned] == [
        f"{bad_video}: skipped 1 undecodable video packet (the last good frame is shown in their place)"
    ]


def test_viewer_skips_a_damaged_video_packet_and_warns_once(bad_video):
    def scrub():
        with VideoReader(bad_video) as r:
            out = [_index(r.frame_at(k / FPS)[1]) for k in range(BAD - 2, BAD + 3)]
            out.append(_index(r.frame_at(BAD / FPS)[1]))  # seek back over it
            return out, r.skipped.count

    (shown, count), warned = read_with_warnings(scrub)
    assert shown == [i % 28 for i in (BAD - 2, BAD - 1, BAD - 1, BAD + 1, BAD + 2, BAD - 1)]
    assert count == 2 and len(warned) == 1  # met twice, reported once


def test_all_video_packets_bad_is_refused(tmp_path):
    good = make_av(tmp_path / "v.avi", acodec="", seconds=1.0)
    dead = corrupt_on_disk(good, tmp_path / "dead.avi", "video", "all")
    for call in (lambda: read_frames_array(dead, FPS), lambda: VideoReader(dead).frame_at(0.0)):
        with pytest.raises(MediaError) as err:  # probe or the decoder: either says so
            call()
        msg = str(err.value)
        assert msg.startswith(f"{dead}: ") and "damaged beyond decoding" in msg and "\n" not in msg


# ---------------------------------------------------------------------- still picture ----
def _write(path: Path, frames: list[np.ndarray], codec: str = "libx264", gop: int = 0) -> Path:
    c = av.open(str(path), "w")
    s = c.add_stream(codec, rate=FPS)
    s.height, s.width = frames[0].shape[:2]
    s.pix_fmt = "yuv420p"
    if gop:
        s.codec_context.gop_size = gop
    for i, img in enumerate(frames):
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        f.pts = i
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode(None):
        c.mux(p)
    c.close()
    return path


def test_still_mask_ignores_keyframe_spikes_but_not_motion(tmp_path):
    from engine.diffusion.features import ClipFeatures, still_mask
    from engine.models.visual import motion_features

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    # mpeg4 re-encodes the picture at every keyframe: ~1/255 spikes every 12 frames
    still, _ = read_frames_array(_write(tmp_path / "s.avi", [img] * 75, "mpeg4", gop=12), FPS, size=(64, 64), crop=False)
    ramp = [np.roll(img, k // 2, axis=1) for k in range(75)]  # half a pixel a frame: slow pan
    moving, _ = read_frames_array(_write(tmp_path / "m.mp4", ramp), FPS, size=(64, 64), crop=False)
    for frames, expect in ((still, True), (moving, False)):
        m = motion_features(frames, 4)
        f = ClipFeatures(3.0, FPS, m, 5.0, np.zeros((15, 1)), np.zeros((15, 1)))
        assert still_mask(f).tolist() == [expect] * 75


def test_still_picture_gets_a_silent_layout_moving_clip_does_not(tmp_path, sample_clip):
    from engine.generation import load_pack, predict_layout
    from engine.media import VideoReader
    from engine.progress import run_to_completion

    with VideoReader(sample_clip) as r:
        img = r.frame_at(1.0)[1]
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    still = _write(tmp_path / "still.mp4", [np.ascontiguousarray(img[:h, :w])] * 75)
    pack = load_pack("starter")
    lay = run_to_completion(predict_layout(still, pack, cache_dir=False))
    assert lay.values.shape[0] == 75 and lay.values.max() == 0.0  # the model said 113 without the gate
    moving = run_to_completion(predict_layout(sample_clip, pack, cache_dir=False))
    # the sample's slowest passage moves 0.26/255 a frame: nothing of it is gated
    assert moving.values.sum() > 200 and (moving.values.max(axis=1) > 0).all()


@pytest.mark.parametrize(
    "pattern,still",
    [
        ([0] * 12 + [4, 1] + [0] * 10 + [4, 1] + [0] * 12, True),  # keyframe spikes, 12 apart
        ([0] * 40, True),
        ([1, 0] * 20, False),  # 12.5 fps decoded at 25: every other frame repeats
        ([1, 0, 0, 1, 0] * 8, False),  # 10 fps
        ([0.3] * 40, False),  # the sample clip's slowest pan, ~0.3/255 a frame
    ],
)
def test_still_rule_on_difference_patterns(pattern, still):
    from engine.diffusion.features import ClipFeatures, still_mask

    d = np.asarray(pattern, np.float64) / 255
    motion = np.zeros((len(d), 17), np.float32)
    motion[:, -1] = np.log1p(20 * d)  # motion_features' overall column
    mask = still_mask(ClipFeatures(len(d) / FPS, FPS, motion, 5.0, np.zeros((1, 1)), np.zeros((1, 1))))
    assert mask.tolist() == [still] * len(d)
