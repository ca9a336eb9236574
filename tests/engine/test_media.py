"""engine.media: probe, frames by presentation timestamp, VideoReader, read/write audio."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from media_helpers import decode_index, make_clip

from engine.media import (
    VideoReader,
    downmix,
    probe,
    read_audio,
    read_frames,
    read_frames_array,
    write_audio,
)
from engine.media.probe import is_variable_rate

# ------------------------------------------------------------------ probe, real clips


def test_probe_real_bbb_51(real_media):
    info = probe(real_media("bbb_51"))
    v = info.video
    assert info.container.startswith("mov,mp4")
    assert (v.codec, v.width, v.height) == ("h264", 1280, 720)
    assert v.fps == Fraction(25) and isinstance(v.fps, Fraction)
    assert v.frame_count == 132 and not v.variable_rate and v.rotation == 0
    assert v.duration == pytest.approx(132 / 25)
    (a,) = info.audio
    assert (a.codec, a.sample_rate, a.channels, a.layout) == ("aac", 48000, 6, "5.1")


def test_probe_real_ntsc_and_pixel_aspect(real_media):
    v = probe(real_media("carphone")).video
    assert v.fps == Fraction(30000, 1001)
    assert v.frame_count == 120 and v.duration == pytest.approx(4.004)
    assert (v.width, v.height) == (176, 144)
    assert v.pixel_aspect == Fraction(128, 117)
    assert probe(real_media("carphone")).audio == ()


def test_probe_real_mpeg2_program_stream(real_media):
    info = probe(real_media("city_mpeg2"))
    v = info.video
    assert info.container == "mpeg" and v.codec == "mpeg2video"
    assert (v.width, v.height, v.fps) == (720, 405, Fraction(25))
    assert v.start_time == pytest.approx(0.54)  # non-zero start in the real file
    assert v.duration == pytest.approx(7.6, abs=0.05)
    assert v.frame_count == 190


def test_probe_audio_only_real_sfx(real_media):
    info = probe(real_media("sfx_explode"))
    assert info.video is None
    (a,) = info.audio
    assert (a.codec, a.channels, a.sample_rate) == ("vorbis", 1, 44100)
    assert info.duration == pytest.approx(1.3308, abs=1e-3)


def test_probe_to_dict_fraction(real_media):
    d = probe(real_media("carphone")).to_dict()
    assert d["video"]["fps"] == "30000/1001"


# ------------------------------------------------------------------ probe, generated clips


def test_probe_generated(cfr_clip, ntsc_clip, vfr_clip, offset_clip, rotated_clip, surround_clip):
    assert probe(cfr_clip.path).video.frame_count == 50
    assert not probe(cfr_clip.path).video.variable_rate
    assert probe(ntsc_clip.path).video.fps == Fraction(30000, 1001)
    assert not probe(ntsc_clip.path).video.variable_rate
    assert probe(vfr_clip.path).video.variable_rate
    assert probe(vfr_clip.path).video.frame_count == 48  # counted: mkv has no frame count
    off = probe(offset_clip.path)
    assert off.video.start_time == pytest.approx(0.5)
    assert off.audio[0].channels == 1
    rot = probe(rotated_clip.path).video
    assert rot.rotation == 90 and rot.display_size == (32, 64)
    s = probe(surround_clip.path).audio[0]
    assert (s.channels, s.layout) == (6, "5.1")


def test_vfr_flag_rules():
    assert not is_variable_rate([0, 1001, 2002, 3003, 4004])
    assert not is_variable_rate([0, 42, 83, 125, 167, 209])  # 23.976 in 1/1000: 41/42 ticks
    assert not is_variable_rate([0, 1024, 512, 2048, 1536])  # B-frame order, sorted first
    assert is_variable_rate([0, 20, 60, 160, 200, 220])


# ------------------------------------------------------------------ frames by timestamp


@pytest.mark.parametrize("fps", [8, 10, 25, Fraction(30000, 1001)])
def test_read_frames_cfr_by_timestamp(cfr_clip, fps):
    frames, times = read_frames_array(cfr_clip.path, fps)
    n = math.ceil(cfr_clip.duration * float(fps) - 1e-6)
    assert len(frames) == n == len(times)
    np.testing.assert_allclose(times, [float(Fraction(k) / Fraction(fps)) for k in range(n)])
    got = [decode_index(f) for f in frames]
    want = [cfr_clip.shown_index(t) % 56 for t in times]
    assert got == want


def test_read_frames_ntsc_source(ntsc_clip):
    frames, times = read_frames_array(ntsc_clip.path, 10)
    assert len(frames) == math.ceil(2.002 * 10)
    got = [decode_index(f) for f in frames]
    assert got == [ntsc_clip.shown_index(t) % 56 for t in times]


@pytest.mark.parametrize("fps", [8, 10, 25])
def test_read_frames_vfr_by_timestamp(vfr_clip, fps):
    frames, times = read_frames_array(vfr_clip.path, fps)
    assert len(frames) == math.ceil(vfr_clip.duration * fps - 1e-6)
    got = [decode_index(f) for f in frames]
    want = [vfr_clip.shown_index(t) % 56 for t in times]
    assert got == want
    # index stretching would have spread 48 frames evenly; timestamps do not
    assert got != [round(k * 48 / len(frames)) for k in range(len(frames))]


def test_read_frames_nonzero_start(offset_clip):
    frames, times = read_frames_array(offset_clip.path, 25)
    assert len(frames) == 50 and times[0] == 0.0
    idx = [decode_index(f) for f in frames]
    assert idx[0] == 0 and idx[19] == 19 and idx[21] == 21
    assert idx[20] == -1  # the flash is frame 20 counted from the video start, not from 0 s


def test_read_frames_window(cfr_clip):
    frames, times = read_frames_array(cfr_clip.path, 10, start=1.0, end=1.5)
    np.testing.assert_allclose(times, [1.0, 1.1, 1.2, 1.3, 1.4])
    assert [decode_index(f) for f in frames] == [25, 27, 30, 32, 35]


def test_read_frames_streams(cfr_clip):
    gen = read_frames(cfr_clip.path, 25)
    t0, f0 = next(gen)
    assert t0 == 0.0 and f0.shape == (48, 64, 3) and f0.dtype == np.uint8
    gen.close()


def test_read_frames_resize_and_crop(clip_720p):
    frames, _ = read_frames_array(clip_720p, 5, size=224)
    assert frames.shape == (10, 224, 224, 3)
    frames, _ = read_frames_array(clip_720p, 5, size=(320, 180), crop=False)
    assert frames.shape[1:] == (180, 320, 3)
    frames, _ = read_frames_array(clip_720p, 5, size=120, crop=False)
    assert frames.shape[1:] == (120, 120, 3)  # int = square; no crop = stretched
    # centre crop of a 16:9 picture: the middle, not a squashed whole
    full, _ = read_frames_array(clip_720p, 5, end=0.2)
    small, _ = read_frames_array(clip_720p, 5, size=(720, 720), end=0.2)
    np.testing.assert_allclose(small[0].astype(float), full[0][:, 280:1000].astype(float), atol=12)


def test_read_frames_rotation(rotated_clip):
    frames, _ = read_frames_array(rotated_clip.path, 25)
    f = frames[0]
    assert f.shape == (64, 32, 3)  # displayed upright: 32 wide, 64 high
    # the red block stored top-left is top-right after a clockwise quarter turn
    assert f[2, -2, 0] > 200 and f[2, -2, 1] < 60
    assert f[2, 1, 0] < 150


@pytest.mark.parametrize("fps", [10, 25])
def test_read_frames_real_clips(real_video, fps):
    info = probe(real_video)
    n = 0
    last_t = -1.0
    for t, rgb in read_frames(real_video, fps, size=112):
        assert rgb.shape == (112, 112, 3) and t > last_t
        last_t = t
        n += 1
    assert n == math.ceil(info.video.duration * fps - 1e-6)


def test_read_frames_real_mpeg2_matches_native(real_media):
    """At the native rate every source frame comes out once, in order."""
    p = real_media("city_mpeg2")
    import av

    with av.open(str(p)) as c:
        native = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    frames, _ = read_frames_array(p, 25)
    assert len(frames) == len(native) == 190
    for i in (0, 57, 189):
        np.testing.assert_array_equal(frames[i], native[i])


# ------------------------------------------------------------------ VideoReader


def test_video_reader_frame_accurate(cfr_clip):
    with VideoReader(cfr_clip.path) as r:
        for t in [0.0, 0.5, 0.52, 1.96, 0.04, 0.039, 1.0, 1.999, 5.0]:
            pts, rgb = r.frame_at(t)
            want = cfr_clip.shown_index(min(t, 1.999))
            assert decode_index(rgb) == want % 56, t
            assert pts == pytest.approx(cfr_clip.frame_times[want])
        thumb = r.thumbnail(1.0, height=24)
        assert thumb.shape == (24, 32, 3)


def test_video_reader_sequential_vfr(vfr_clip):
    with VideoReader(vfr_clip.path) as r:
        for k in range(0, 60):
            t = k / 25
            _, rgb = r.frame_at(t)
            assert decode_index(rgb) == vfr_clip.shown_index(min(t, vfr_clip.duration - 1e-6)) % 56


def test_video_reader_offset_and_real(offset_clip, real_media):
    with VideoReader(offset_clip.path) as r:
        assert decode_index(r.frame_at(0.8)[1]) == -1  # flash frame 20
        assert decode_index(r.frame_at(0.0)[1]) == 0
    with VideoReader(real_media("city_mpeg2")) as r:
        pts, rgb = r.frame_at(3.0)
        assert pts == pytest.approx(3.0) and rgb.shape == (405, 720, 3)


# ------------------------------------------------------------------ audio


def test_read_audio_real_51_downmix(real_media):
    p = real_media("bbb_51")
    multi, sr = read_audio(p, mono=False)
    assert sr == 48000 and multi.shape[1] == 6 and multi.dtype == np.float32
    mono, _ = read_audio(p)
    w = np.array([1, 1, 0.7071, 0, 0.7071, 0.7071]) / (2 + 3 * 0.7071)
    np.testing.assert_allclose(mono, multi @ w, atol=1e-4)
    assert len(mono) == pytest.approx(5.312 * 48000, abs=1024)


def test_downmix_cannot_clip():
    full = np.ones((100, 6), np.float32)
    assert downmix(full, ["FL", "FR", "FC", "LFE", "BL", "BR"]).max() <= 1.0 + 1e-6
    lfe_only = np.zeros((10, 6), np.float32)
    lfe_only[:, 3] = 1
    assert np.all(downmix(lfe_only, ["FL", "FR", "FC", "LFE", "BL", "BR"]) == 0)


def test_read_audio_resample_real_sfx(real_media):
    a44, sr44 = read_audio(real_media("sfx_explode"))
    a16, sr16 = read_audio(real_media("sfx_explode"), sample_rate=16000)
    assert (sr44, sr16) == (44100, 16000)
    assert len(a16) == pytest.approx(len(a44) * 16000 / 44100, abs=1)
    # same loudness envelope after resampling
    e44 = np.sqrt(np.mean(a44[: 44100 // 2] ** 2))
    e16 = np.sqrt(np.mean(a16[:8000] ** 2))
    assert e16 == pytest.approx(e44, rel=0.05)


def test_read_audio_surround_click(surround_clip):
    mono, sr = read_audio(surround_clip.path, sample_rate=16000)
    onset = int(np.argmax(np.abs(mono) > 0.2))
    assert abs(onset - 38400 // 3) <= 2
    assert np.abs(mono).max() <= 1.0


def test_read_audio_aligned_to_video_start(offset_clip, tmp_path):
    a, sr = read_audio(offset_clip.path)
    assert int(np.argmax(np.abs(a) > 0.3)) == pytest.approx(offset_clip.click_samples[0], abs=2)


def test_read_audio_pads_late_audio(tmp_path):
    """Audio that starts 0.3 s after the picture is padded so sample 0 is the first frame."""

    clip = make_clip(tmp_path / "late.mkv", n_frames=25, audio_channels=1, click_samples=(0,))
    import av

    # shift the audio stream 0.3 s later by remuxing with offset timestamps
    out = tmp_path / "late2.mkv"
    with av.open(str(clip.path)) as ic, av.open(str(out), "w") as oc:
        vs = oc.add_stream_from_template(ic.streams.video[0])
        as_ = oc.add_stream_from_template(ic.streams.audio[0])
        for p in ic.demux():
            if p.dts is None:
                continue
            if p.stream.type == "audio":
                shift = int(0.3 / p.time_base)
                p.pts += shift
                p.dts += shift
                p.stream = as_
            else:
                p.stream = vs
            oc.mux(p)
    a, sr = read_audio(out)
    assert int(np.argmax(np.abs(a) > 0.3)) == pytest.approx(int(0.3 * sr), abs=2)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_write_audio_round_trip(tmp_path, suffix):
    sr = 16000
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)).astype(np.float32)
    out = write_audio(tmp_path / f"a{suffix}", x, sr)
    y, sr2 = read_audio(out)
    assert sr2 == sr and len(y) == len(x)
    np.testing.assert_allclose(y, x, atol=1e-4)
    assert [p.name for p in tmp_path.iterdir()] == [f"a{suffix}"]  # no temp file left
    stereo = np.stack([x, -x], 1)
    y2, _ = read_audio(write_audio(tmp_path / f"s{suffix}", stereo, sr), mono=False)
    np.testing.assert_allclose(y2, stereo, atol=1e-4)


@pytest.mark.parametrize("key", ["city_mpeg2", "bbb_51"])
def test_video_reader_random_access_matches_decode(real_media, key):
    """Random jumps (back and forth, across GOPs) give exactly the decoded frame shown then."""
    import av

    p = real_media(key)
    with av.open(str(p)) as c:
        s = c.streams.video[0]
        start = float(s.start_time * s.time_base)
        native = [
            (float(f.pts * s.time_base) - start, f.to_ndarray(format="rgb24")) for f in c.decode(s)
        ]
    times = np.array([t for t, _ in native])
    rng = np.random.default_rng(3)
    with VideoReader(p) as r:
        for t in list(rng.uniform(0, times[-1], 12)) + [times[-1], 0.0, times[40] + 1e-4]:
            pts, rgb = r.frame_at(float(t))
            i = int(np.searchsorted(times, t + 1e-6, side="right") - 1)
            assert pts == pytest.approx(times[i], abs=1e-6)
            np.testing.assert_array_equal(rgb, native[i][1])


def test_read_audio_gap_keeps_sync(tmp_path):
    """Audio packets missing mid-stream: the gap becomes silence, later sound stays in sync."""
    import av

    sr = 48000
    clip = make_clip(
        tmp_path / "g.mkv",
        n_frames=50,
        audio_channels=1,
        sample_rate=sr,
        click_samples=(int(1.5 * sr),),
    )
    out = tmp_path / "gap.mkv"
    dropped = 0
    with av.open(str(clip.path)) as ic, av.open(str(out), "w") as oc:
        vs = oc.add_stream_from_template(ic.streams.video[0])
        as_ = oc.add_stream_from_template(ic.streams.audio[0])
        for p in ic.demux():
            if p.dts is None:
                continue
            if p.stream.type == "audio":
                if 0.5 <= float(p.pts * p.time_base) < 1.0:
                    dropped += 1
                    continue
                p.stream = as_
            else:
                p.stream = vs
            oc.mux(p)
    assert dropped > 10
    a, _ = read_audio(out)
    assert abs(int(np.argmax(np.abs(a) > 0.3)) - int(1.5 * sr)) <= sr // 1000  # mkv: 1 ms ticks
    assert len(a) == pytest.approx(len(read_audio(clip.path)[0]), abs=sr // 100)


def test_h264_with_b_frames_in_avi_plays_in_presentation_order(tmp_path):
    """AVI keeps no presentation times: B-frames come out of the decoder stamped in decode
    order (0.04, 0.16, 0.12, ...). Frames must come back in display order with rising times."""
    import av

    path = tmp_path / "bframes.avi"
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=25)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    s.codec_context.options = {"bf": "3", "g": "12"}
    for i in range(50):  # frame i is grey level 5 i
        for p in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 5 * i, np.uint8), format="rgb24")):
            c.mux(p)
    for p in s.encode(None):
        c.mux(p)
    c.close()
    got = list(read_frames(path, 25))
    times = [t for t, _ in got]
    levels = [int(f[..., 0].mean()) for _, f in got]
    assert times == sorted(times) and len(got) == 50
    # display order, every frame (the AVI stamps its first frame 0.04 s: targets 0 and 0.04 show it)
    assert levels == sorted(levels) and len(set(levels)) == 49
    reader = VideoReader(path)
    shown = [reader.frame_at(k / 25) for k in range(1, 50)]
    pts = [t for t, _ in shown]
    assert pts == sorted(pts) and len(set(pts)) == 49  # each step shows the next frame
    assert len({int(f[..., 0].mean()) for _, f in shown}) == 49
    back = [reader.frame_at(t)[0] for t in (1.5, 0.5, 1.0)]
    assert back[1] < back[2] < back[0]  # seeking back and forth keeps display times
    reader.close()
