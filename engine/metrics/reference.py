"""Metrics against a reference recording: onset accuracy/AP, ODF DTW/Wasserstein, energy L1."""

from __future__ import annotations

import numpy as np

from engine.audio.dsp import resample
from engine.audio.mel import _mono_float
from engine.audio.onset import OnsetConfig, detect_onsets, onset_detection_function

ACC_RATE = 22050  # CondFoleyGen / MMAudio evaluate at 22.05 kHz
CONF_WINDOW_S = 0.05
ODF_CONFIG = OnsetConfig()  # librosa default onset strength (22.05 kHz, hop 512)


def _onsets_and_norm(audio: np.ndarray, sr: int, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Onset sample positions at 22.05 kHz (librosa detector, ``delta``) and the min-max waveform."""
    y = resample(_mono_float(audio), sr, ACC_RATE)
    on_t = detect_onsets(y, ACC_RATE, OnsetConfig(delta=delta))
    on = np.round(on_t * ACC_RATE).astype(int)
    norm = (y - y.min()) / (y.max() - y.min() + 1e-6) if y.size else y
    return on, norm


def _confidence(norm: np.ndarray, o: int) -> float:
    half = int(CONF_WINDOW_S * ACC_RATE)
    seg = norm[max(0, o - half) : o + half]
    return float(seg.max()) if seg.size else 0.0


def _onset_nms(onsets: np.ndarray, norm: np.ndarray, window_s: float = CONF_WINDOW_S) -> np.ndarray:
    """Keep the most confident onset among any closer than ``window_s`` (CondFoleyGen NMS)."""
    conf = np.array([_confidence(norm, int(o)) for o in onsets])
    remain = list(int(o) for o in onsets)
    out = []
    for i in np.argsort(-conf, kind="stable"):
        cur = int(onsets[i])
        if cur not in remain:
            continue
        out.append(cur)
        remain.remove(cur)
        remain = [o for o in remain if abs(cur - o) >= window_s * ACC_RATE]
    return np.array(sorted(out), dtype=int)


def average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """sklearn ``average_precision_score``: sum over thresholds of (R_n - R_{n-1}) * P_n."""
    y_true = np.asarray(y_true, dtype=int)
    y_score = np.asarray(y_score, dtype=np.float64)
    n_pos = int(y_true.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-y_score, kind="mergesort")
    ys, yt = y_score[order], y_true[order]
    distinct = np.r_[np.flatnonzero(np.diff(ys)), yt.size - 1]  # last index of each threshold
    tps = np.cumsum(yt)[distinct]
    fps = (distinct + 1) - tps
    precision = tps / (tps + fps)
    recall = tps / n_pos
    recall_prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - recall_prev) * precision))


def onset_accuracy_ap(
    generated: np.ndarray,
    sr: int,
    reference: np.ndarray | None = None,
    ref_sr: int | None = None,
    reference_onsets: np.ndarray | None = None,
    delta: float = 0.3,
    tolerance: float | None = None,
) -> dict:
    """CondFoleyGen onset accuracy and AP (as ported in MMAudio's evaluation).

    Reference onsets: given in seconds, or detected on ``reference`` like the generated ones.
    Generated onsets: librosa detector with ``delta`` at 22.05 kHz, then NMS (50 ms). Each
    reference onset (in order) takes the most confident free generated onset within
    ``tolerance`` (default = ``delta`` seconds, as the original script uses one number for
    both); confidence = max of the min-max normalised waveform within ±50 ms. Unmatched
    generated onsets are negatives with their confidence, missed references positives with 0.
    accuracy = hits / #reference (0 when there are none); AP as sklearn.
    """
    tol = delta if tolerance is None else tolerance
    on, norm = _onsets_and_norm(generated, sr, delta)
    on = _onset_nms(on, norm)
    if reference_onsets is not None:
        gt = np.round(np.asarray(reference_onsets, dtype=np.float64) * ACC_RATE).astype(int)
    elif reference is not None:
        gt, ref_norm = _onsets_and_norm(reference, ref_sr or sr, delta)
        gt = _onset_nms(gt, ref_norm)
    else:
        raise ValueError("need reference audio or reference onsets")
    free = list(int(o) for o in on)
    y_true: list[int] = []
    y_pred: list[float] = []
    hits = 0
    for g in gt:
        cand = [o for o in free if abs(o - g) < tol * ACC_RATE]
        if not cand:
            y_true.append(1)
            y_pred.append(0.0)
            continue
        best = max(cand, key=lambda o: norm[min(o, len(norm) - 1)])
        hits += 1
        y_true.append(1)
        y_pred.append(_confidence(norm, best))
        free.remove(best)
    for o in free:
        y_true.append(0)
        y_pred.append(_confidence(norm, o))
    acc = hits / len(gt) if len(gt) else 0.0
    ap = average_precision(np.array(y_true), np.array(y_pred)) if y_true else float("nan")
    return {"onset_acc": float(acc), "onset_ap": ap, "n_generated_onsets": len(on), "n_reference_onsets": len(gt)}


def _zscore(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-12 else x - x.mean()


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Classic DTW (steps (1,0), (0,1), (1,1); cost |a_i - b_j|), total cost of the best path.

    Computed by anti-diagonals so each step is one vectorised numpy operation.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return float("nan")
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for k in range(2, n + m + 1):  # i + j = k with 1 <= i <= n, 1 <= j <= m
        i = np.arange(max(1, k - m), min(n, k - 1) + 1)
        j = k - i
        cost = np.abs(a[i - 1] - b[j - 1])
        acc[i, j] = cost + np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
    return float(acc[n, m])


def odf_dtw(generated: np.ndarray, sr: int, reference: np.ndarray, ref_sr: int | None = None) -> float:
    """DTW distance between the z-scored ODF curves (librosa onset strength, 22.05 kHz hop 512)."""
    a, _ = onset_detection_function(generated, sr, ODF_CONFIG)
    b, _ = onset_detection_function(reference, ref_sr or sr, ODF_CONFIG)
    return dtw_distance(_zscore(a), _zscore(b))


def wasserstein_1d(times_a: np.ndarray, w_a: np.ndarray, times_b: np.ndarray, w_b: np.ndarray) -> float:
    """W1 between two weighted point sets on a line: integral of |CDF_a - CDF_b|."""
    w_a = np.clip(np.asarray(w_a, np.float64), 0, None)
    w_b = np.clip(np.asarray(w_b, np.float64), 0, None)
    if w_a.sum() <= 0 or w_b.sum() <= 0:
        return float("nan")
    allt = np.concatenate([times_a, times_b])
    order = np.argsort(allt, kind="mergesort")
    allt = allt[order]
    wa = np.concatenate([w_a / w_a.sum(), np.zeros(len(w_b))])[order]
    wb = np.concatenate([np.zeros(len(w_a)), w_b / w_b.sum()])[order]
    cdf_diff = np.cumsum(wa - wb)[:-1]
    return float(np.sum(np.abs(cdf_diff) * np.diff(allt)))


def odf_wasserstein(generated: np.ndarray, sr: int, reference: np.ndarray, ref_sr: int | None = None) -> float:
    """1-D Wasserstein distance (seconds) between the ODF curves seen as distributions over time.

    NaN when either curve is all zero (silence has no distribution).
    """
    a, ta = onset_detection_function(generated, sr, ODF_CONFIG)
    b, tb = onset_detection_function(reference, ref_sr or sr, ODF_CONFIG)
    return wasserstein_1d(ta, a, tb, b)


def rms_envelope(audio: np.ndarray, sr: int, frame: int = 512, hop: int = 128, rate: int = 16000) -> np.ndarray:
    """RMS per frame at 16 kHz as ``librosa.feature.rms(frame_length=512, hop_length=128)`` (centred, zero pad)."""
    y = resample(_mono_float(audio), sr, rate).astype(np.float64)
    yp = np.pad(y, (frame // 2, frame // 2))
    n = 1 + (len(yp) - frame) // hop
    if n <= 0:
        return np.zeros(0)
    c = np.concatenate([[0.0], np.cumsum(yp**2)])
    starts = np.arange(n) * hop
    return np.sqrt((c[starts + frame] - c[starts]) / frame)


def energy_l1(generated: np.ndarray, sr: int, reference: np.ndarray, ref_sr: int | None = None) -> float:
    """Mean |RMS_gen - RMS_ref| over frames (frame 512, hop 128 at 16 kHz); the shorter is zero-padded."""
    a = rms_envelope(generated, sr)
    b = rms_envelope(reference, ref_sr or sr)
    n = max(len(a), len(b))
    if n == 0:
        return 0.0
    a = np.pad(a, (0, n - len(a)))
    b = np.pad(b, (0, n - len(b)))
    return float(np.mean(np.abs(a - b)))
