"""AV-Align and AA-Align: IoU arithmetic, peak rules, and a generated video with known impacts."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from test_audio_helpers import clicks

from engine.metrics import aa_align, av_align, av_align_job, iou_score, match_count, video_peaks
from engine.metrics.align import flow_magnitudes_job
from engine.progress import run_to_completion

FPS = 25
IMPACTS = (20, 55, 90, 130, 170, 215)  # frames where the square slams to a stop
N_FRAMES = 250  # 10 s


def test_iou_arithmetic():
    assert iou_score([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 0.04) == 1.0
    assert iou_score([1.0, 2.0], [1.0, 2.0, 3.0, 4.0], 0.04) == pytest.approx(2 / 4)
    assert iou_score([1.0, 2.0, 5.0], [1.02, 3.0], 0.04) == pytest.approx(1 / 4)
    assert iou_score([], [], 0.04) == 0.0
    assert iou_score([1.0], [], 0.04) == 0.0


def test_matching_is_one_to_one_and_strict():
    # two audio onsets near one video peak: only one may use it
    assert match_count([1.0, 1.01], [1.005], 0.04) == 1
    assert iou_score([1.0, 1.01], [1.005], 0.04) == pytest.approx(1 / 2)
    # |a - v| must be strictly less than one frame for AV-Align
    assert match_count([1.04], [1.0], 0.04, strict=True) == 0
    assert match_count([1.0399], [1.0], 0.04, strict=True) == 1
    assert match_count([1.1], [1.0], 0.1, strict=False) == 1


def test_video_peaks_strict_and_thresholded():
    flow = np.array([0.0, 0.5, 0.2, 0.05, 0.09, 0.01, 0.3, 0.3, 0.1, 0.8, 0.2])
    # 0.5 at 1: peak; 0.09 at 4 is a maximum below 0.1: ignored; plateau 0.3,0.3: not strict
    np.testing.assert_allclose(video_peaks(flow, 10), [0.1, 0.9])
    assert video_peaks(np.array([1.0, 2.0]), 10).size == 0


def _square_frames(impacts=IMPACTS, n=N_FRAMES, h=96, w=128) -> np.ndarray:
    """Textured square that accelerates across the frame and stops dead at each impact."""
    rng = np.random.default_rng(0)
    tex = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    x = np.zeros(n)
    pos = 2.0  # total travel 90 px: stays inside the frame, no wrap-around
    for i in range(n):
        for f in impacts:
            if f - 5 < i <= f:
                pos += 1.0 * (i - (f - 5))  # speeds 1..5 px/frame, then stop
        x[i] = pos
    frames = np.full((n, h, w), 40, np.uint8)
    frames += (np.arange(w)[None, None, :] // 16).astype(np.uint8)  # faint static background
    for i in range(n):
        xi = int(x[i])
        frames[i, 32:64, xi : xi + 32] = tex
    return frames


def test_flow_peaks_at_the_impacts():
    frames = _square_frames()
    flow = run_to_completion(flow_magnitudes_job(iter(frames), len(frames)))
    assert flow.shape == (N_FRAMES,)
    peaks = video_peaks(flow, FPS)
    np.testing.assert_allclose(peaks, np.array(IMPACTS) / FPS, atol=1e-9)


@pytest.fixture(scope="module")
def square_frames():
    return _square_frames()


def test_av_align_high_when_clicks_hit_impacts(square_frames):
    sr = 16000
    audio = clicks([f / FPS for f in IMPACTS], dur=N_FRAMES / FPS, sr=sr)
    res = run_to_completion(av_align_job((square_frames, FPS), audio, sr))
    assert res["video_peaks"] == len(IMPACTS) and res["audio_onsets"] == len(IMPACTS)
    assert res["av_align"] >= 0.8


def test_av_align_low_when_clicks_are_late(square_frames):
    sr = 16000
    audio = clicks([f / FPS + 0.5 for f in IMPACTS], dur=N_FRAMES / FPS, sr=sr)
    assert av_align((square_frames, FPS), audio, sr) <= 0.1
    assert av_align((square_frames, FPS), np.zeros(len(audio), np.float32), sr) == 0.0


def test_av_align_from_a_video_file(tmp_path, square_frames):
    """The same square written as H.264 (PyAV) and read back through engine.media."""
    import av

    path = tmp_path / "square.mp4"
    c = av.open(str(path), "w")
    s = c.add_stream("libx264", rate=FPS)
    s.width, s.height, s.pix_fmt = 128, 96, "yuv420p"
    s.codec_context.options = {"qp": "0", "preset": "ultrafast", "bf": "0"}
    for i, g in enumerate(square_frames):
        f = av.VideoFrame.from_ndarray(np.repeat(g[..., None], 3, axis=2), format="rgb24")
        f.pts = i
        f.time_base = Fraction(1, FPS)
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode(None):
        c.mux(p)
    c.close()
    sr = 22050
    good = clicks([f / FPS for f in IMPACTS], dur=10.0, sr=sr)
    late = clicks([f / FPS + 0.5 for f in IMPACTS], dur=10.0, sr=sr)
    assert av_align(path, good, sr) >= 0.8
    assert av_align(path, late, sr) <= 0.1


def test_aa_align_known_cases():
    sr = 16000
    ref = clicks([0.5, 1.3, 2.2, 3.1])
    assert aa_align(ref, ref, sr) == 1.0
    assert aa_align(clicks([0.5, 1.3]), ref, sr) == pytest.approx(2 / 4)  # two missing
    assert aa_align(clicks([0.5, 1.3, 2.2, 3.1, 1.8, 2.7]), ref, sr) == pytest.approx(4 / 6)  # two extra
    assert aa_align(clicks([0.55, 1.35, 2.25, 3.15]), ref, sr) == 1.0  # within ±0.1 s
    assert aa_align(clicks([0.75, 1.55, 2.45, 3.35]), ref, sr) == 0.0  # 0.25 s late
    assert aa_align(np.zeros_like(ref), ref, sr) == 0.0
    # different sample rates are fine
    from engine.audio import resample

    assert aa_align(resample(ref, 16000, 44100), ref, 44100, ref_sr=16000) == 1.0
