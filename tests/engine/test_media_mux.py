"""engine.media.mux: video packets bit-exact, audio the right length and in sync."""

from __future__ import annotations

import av
import numpy as np
import pytest
from media_helpers import decode_index

from engine.errors import MediaError, OutputError
from engine.media import mux, probe, read_audio, read_frames_array, write_audio


def video_packets(path) -> list[tuple[bytes, float, bool]]:
    """(payload, pts in seconds from the stream start, keyframe) of every video packet."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        start = s.start_time or 0
        out = []
        for p in c.demux(s):
            if p.size == 0:
                continue
            out.append((bytes(p), round(float((p.pts - start) * p.time_base), 6), p.is_keyframe))
    return out


def click_track(n: int, sr: int, at: list[int], channels: int = 1) -> np.ndarray:
    a = np.zeros((n, channels), np.float32)
    for s in at:
        a[s : s + sr // 1000] = 0.9
    return a


def onset(path, sr=None, thresh=0.3) -> tuple[int, int, int]:
    a, rate = read_audio(path, sample_rate=sr)
    return int(np.argmax(np.abs(a) > thresh)), rate, len(a)


@pytest.mark.parametrize(
    "key,suffix",
    [
        ("bikes", ".mp4"),
        ("bbb_51", ".mp4"),
        ("carphone", ".mov"),
        ("city_mpeg2", ".mkv"),
        ("city_mpeg2", ".mp4"),
    ],
)
def test_mux_copies_video_packets_bit_exact(real_media, tmp_path, key, suffix):
    src = real_media(key)
    sr = 48000
    n = int(12 * sr)
    out = mux(src, (click_track(n, sr, [sr]), sr), tmp_path / f"out{suffix}")
    assert video_packets(out) == video_packets(src)
    info = probe(out)
    assert info.video.codec == probe(src).video.codec
    assert len(info.audio) == 1


@pytest.mark.parametrize(
    "suffix,codec",
    [(".mp4", None), (".mkv", "flac"), (".mov", "pcm"), (".mkv", "pcm"), (".mp4", "flac")],
)
def test_mux_click_lands_on_flash_frame(flash_clip, tmp_path, suffix, codec):
    """A click placed at the flash frame's time is heard on that frame in the output."""
    sr = 48000
    fps = 25
    flash = flash_clip.flash_frames[0]
    audio = click_track(int(5 * sr), sr, [flash * sr // fps])  # longer than the video: trimmed
    out = mux(flash_clip.path, (audio, sr), tmp_path / f"m{suffix}", codec=codec)
    info = probe(out)
    assert info.audio[0].codec == {None: "aac", "flac": "flac", "pcm": "pcm_s16le"}[codec]
    frames, times = read_frames_array(out, fps)
    seen = [i for i, f in enumerate(frames) if decode_index(f) == -1]
    assert seen[0] == flash
    pos, rate, length = onset(out)
    # AAC priming is removed through the stream start time / edit list: sample-accurate
    assert abs(pos - flash * sr // fps) <= 2
    assert int(pos * fps // rate) == flash
    # trimmed to the video duration (AAC may end with part of one padding frame)
    assert 0 <= length - 4 * sr <= (1024 if codec is None else 0)


def test_mux_pads_short_audio_and_sync_with_start_offset(offset_clip, tmp_path):
    """Video starting at 0.5 s: new audio still starts at the first frame; short audio padded."""
    sr = 16000
    flash_t = 20 / 25
    audio = click_track(int(1.0 * sr), sr, [int(flash_t * sr)])
    out = mux(offset_clip.path, (audio[:, 0], sr), tmp_path / "o.mp4")
    assert video_packets(out) == video_packets(offset_clip.path)
    pos, rate, length = onset(out)
    assert rate == sr and abs(pos - int(flash_t * sr)) <= 2
    assert length >= 2 * sr  # padded to the 2 s video
    frames, _ = read_frames_array(out, 25)
    assert decode_index(frames[20]) == -1


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_mux_add_keeps_original_audio(flash_clip, tmp_path, suffix):
    sr = 48000
    new = click_track(4 * sr, sr, [3 * sr])
    out = mux(flash_clip.path, (new, sr), tmp_path / f"add{suffix}", mode="add")
    info = probe(out)
    assert len(info.audio) == 2
    orig_in, _ = read_audio(flash_clip.path, mono=False)
    orig_out, _ = read_audio(out, mono=False, stream=0)
    if suffix == ".mp4":
        # the original track is copied (same AAC packets) -> identical decoded samples
        np.testing.assert_array_equal(orig_out, orig_in)
    else:
        # Matroska stores 1 ms timestamps: the copied track may move by under 1 ms
        shift = int(np.argmax(np.abs(orig_out[:, 0]) > 0.3)) - flash_clip.click_samples[0]
        assert abs(shift) <= sr // 1000
    pos_new = int(np.argmax(np.abs(read_audio(out, stream=1)[0]) > 0.3))
    assert abs(pos_new - 3 * sr) <= (2 if suffix == ".mp4" else sr // 1000)


def test_mux_mix_sums_both(flash_clip, tmp_path):
    sr = 48000
    new = click_track(4 * sr, sr, [3 * sr])
    out = mux(flash_clip.path, (new, sr), tmp_path / "mix.mp4", mode="mix")
    info = probe(out)
    assert len(info.audio) == 1
    a, _ = read_audio(out)
    loud = np.flatnonzero(np.abs(a) > 0.2)
    # original clicks (frames 25, 70) and the new one (3 s) are all there
    for t in (1.0, 2.8, 3.0):
        assert np.any(np.abs(loud - int(t * sr)) < 100), t
    assert np.abs(a).max() <= 1.0 + 1e-3


def test_mux_from_audio_file_real_sfx(real_media, tmp_path):
    out = mux(real_media("bikes"), real_media("sfx_explode"), tmp_path / "x.mp4")
    a, sr = read_audio(out)
    assert sr == 44100
    assert len(a) == pytest.approx(10.0 * sr, abs=1024)
    assert np.abs(a[: int(1.2 * sr)]).max() > 0.05 and np.abs(a[int(2 * sr) :]).max() < 1e-3


def test_mux_from_wav_path(cfr_clip, tmp_path):
    sr = 16000
    wav = write_audio(tmp_path / "a.wav", click_track(sr, sr, [sr // 2])[:, 0], sr)
    out = mux(cfr_clip.path, wav, tmp_path / "w.mp4")
    assert abs(onset(out)[0] - sr // 2) <= 2


def test_mux_refuses_bad_outputs(cfr_clip, tmp_path):
    sr = 16000
    a = (np.zeros(sr, np.float32), sr)
    with pytest.raises(OutputError, match="overwrite the input"):
        mux(cfr_clip.path, a, cfr_clip.path)
    with pytest.raises(OutputError, match="pcm"):
        mux(cfr_clip.path, a, tmp_path / "x.mp4", codec="pcm")
    with pytest.raises(OutputError, match="container"):
        mux(cfr_clip.path, a, tmp_path / "x.avi2")
    with pytest.raises(OutputError, match="does not exist"):
        mux(cfr_clip.path, a, tmp_path / "nope" / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_mux_needs_video(real_media, tmp_path):
    with pytest.raises(MediaError, match="no video stream"):
        mux(real_media("sfx_explode"), real_media("sfx_snow"), tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_mux_keeps_rotation_and_vfr_timing(rotated_clip, vfr_clip, tmp_path):
    sr = 16000
    a = (np.zeros(sr, np.float32), sr)
    out = mux(rotated_clip.path, a, tmp_path / "r.mp4")
    assert probe(out).video.rotation == 90
    assert video_packets(out) == video_packets(rotated_clip.path)
    out = mux(vfr_clip.path, a, tmp_path / "v.mkv")
    assert probe(out).video.variable_rate
    assert video_packets(out) == video_packets(vfr_clip.path)
