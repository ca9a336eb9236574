"""AV-Align (TempoTokens) and AA-Align (STA-V2A): IoU of matched onset/peak sets.

Audio onsets: librosa-style detector at 22.05 kHz, hop 512, normalised envelope, delta 0.07.
Video peaks: per-frame mean Farnebäck optical-flow magnitude on grayscale frames
(``cv2.calcOpticalFlowFarneback(prev, next, None, 0.5, 3, 15, 3, 5, 1.2, 0)``); the curve gets
the first value duplicated in front (as TempoTokens, so index i = motion into frame i) and
its strict local maxima >= 0.1 are peaks at ``i / fps`` seconds. An audio onset matches a
video peak when ``|a - v| < 1/fps`` (open interval); each video peak is used at most once
(greedy in audio order, nearest free peak). Score = matches / (|A| + |V| - matches); 0 when
both sets are empty.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.audio.onset import OnsetConfig, detect_onsets
from engine.errors import MediaError
from engine.progress import CancelToken, Progress, run_to_completion

AV_ONSETS = OnsetConfig()  # 22.05 kHz, hop 512, delta 0.07
FLOW_PEAK_MIN = 0.1


def match_count(a: Iterable[float], b: Iterable[float], tol: float, strict: bool = True) -> int:
    """One-to-one matches: each ``a`` (in order) takes the nearest unused ``b`` within ``tol``."""
    b_list = sorted(float(x) for x in b)
    used = [False] * len(b_list)
    n = 0
    for x in sorted(float(v) for v in a):
        best, best_d = -1, np.inf
        for j, y in enumerate(b_list):
            d = abs(x - y)
            ok = d < tol if strict else d <= tol + 1e-9
            if ok and not used[j] and d < best_d:
                best, best_d = j, d
        if best >= 0:
            used[best] = True
            n += 1
    return n


def iou_score(a: Iterable[float], b: Iterable[float], tol: float, strict: bool = True) -> float:
    a, b = list(a), list(b)
    if not a and not b:
        return 0.0
    m = match_count(a, b, tol, strict)
    return m / (len(a) + len(b) - m)


def flow_magnitudes_job(
    frames: Iterable[np.ndarray], total: int = 0, cancel: CancelToken | None = None
) -> Generator[Progress, None, np.ndarray]:
    """Mean Farnebäck flow magnitude between consecutive frames (RGB/BGR/gray uint8)."""
    import cv2

    mags: list[float] = []
    prev = None
    for i, frame in enumerate(frames):
        if cancel is not None:
            cancel.check()
        gray = frame if frame.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        if prev is not None:
            flow = cv2.calcOpticalFlowFarneback(prev, gray, None, 0.5, 3, 15, 3, 5, 1.2, 0)
            mag, _ = cv2.cartToPolar(flow[..., 0], flow[..., 1])
            mags.append(float(np.mean(mag)))
        prev = gray
        if i % 5 == 0:
            yield Progress("optical flow", i + 1, max(total, i + 1))
    if not mags:
        return np.zeros(0)
    return np.asarray([mags[0], *mags], dtype=np.float64)  # TempoTokens duplicates the first


def video_peaks(flow: np.ndarray, fps: float, min_value: float = FLOW_PEAK_MIN) -> np.ndarray:
    """Times (s) of strict local maxima of the flow curve with value >= ``min_value``."""
    f = np.asarray(flow, dtype=np.float64)
    if f.size < 3:
        return np.zeros(0)
    c = f[1:-1]
    idx = np.flatnonzero((f[:-2] < c) & (c > f[2:]) & (c >= min_value)) + 1
    return idx / float(fps)


def _read_video_gray(path: str | Path) -> tuple[Iterable[np.ndarray], float, int]:
    """Frames at the native rate. Uses engine.media when present (timestamp-exact), else OpenCV."""
    p = Path(path)
    if not p.is_file():
        raise MediaError("no such file" if not p.exists() else "is not a file", p)
    try:
        from engine.media import probe, read_frames  # type: ignore[attr-defined]
    except ImportError:
        probe = None
    if probe is not None:
        info = probe(p)
        if info.video is None:
            raise MediaError("has no video stream", p)
        fps = info.video.fps
        frames = (rgb for _, rgb in read_frames(p, fps=fps))
        return frames, float(Fraction(fps)), int(info.video.frame_count)
    import cv2

    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise MediaError("cannot open as a video", p)
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    if fps <= 0:
        raise MediaError("video has no frame rate", p)

    def gen() -> Iterable[np.ndarray]:
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        finally:
            cap.release()

    return gen(), float(fps), n


def av_align_job(
    video: str | Path | tuple[np.ndarray, float],
    audio: np.ndarray,
    sr: int,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, dict]:
    """AV-Align of ``audio`` against ``video`` (a path, or (frames [N,H,W(,3)] uint8, fps))."""
    if isinstance(video, tuple):
        frames_arr, fps = video
        frames: Iterable[np.ndarray] = iter(frames_arr)
        total = len(frames_arr)
    else:
        frames, fps, total = _read_video_gray(video)
    flow = yield from flow_magnitudes_job(frames, total, cancel)
    v_peaks = video_peaks(flow, fps)
    a_onsets = detect_onsets(audio, sr, AV_ONSETS)
    score = iou_score(a_onsets, v_peaks, 1.0 / fps, strict=True)
    return {
        "av_align": score,
        "audio_onsets": len(a_onsets),
        "video_peaks": len(v_peaks),
        "fps": float(fps),
    }


def av_align(video: str | Path | tuple[np.ndarray, float], audio: np.ndarray, sr: int) -> float:
    return float(run_to_completion(av_align_job(video, audio, sr))["av_align"])


def aa_align(generated: np.ndarray, reference: np.ndarray, sr: int, ref_sr: int | None = None, tol: float = 0.1) -> float:
    """AA-Align: IoU of onsets of generated vs reference audio, match within ±``tol`` s."""
    a = detect_onsets(generated, sr, AV_ONSETS)
    b = detect_onsets(reference, ref_sr or sr, AV_ONSETS)
    return iou_score(a, b, tol, strict=False)
