"""An independent sound-class judge: librosa statistics + multinomial logistic regression (numpy).

Independent of everything the engines trained on: not engine.classifier, not the library's
recordings; trained only on the held-out recordings (benchmarks/heldout/labels.py).

Audio path (the same for training and judging): mono at 16 kHz (the engines' rate, so real
recordings are band-limited to 8 kHz exactly like generated ones), resampled to 22.05 kHz, cut
into 1 s windows every 0.5 s (a sound shorter than 1 s is one zero-padded window); windows more
than 20 dB below the loudest window (or under -60 dBFS RMS) are skipped. Per window: mean and std
of 20 MFCCs and their deltas, spectral centroid / bandwidth / flatness / rolloff / contrast
(7 bands), zero-crossing rate, and the onset rate (onsets per second): 105 numbers. A file's
class = argmax of the class probabilities averaged over its kept windows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURE_SR = 22050
ENGINE_SR = 16000
WIN_S, HOP_S = 1.0, 0.5
GATE_DB, FLOOR_DBFS = 20.0, -60.0
N_FFT, HOP = 1024, 256


# ----------------------------------------------------------------------------- audio ----
def to_feature_rate(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mono float32 at 22.05 kHz, band-limited to 8 kHz (through 16 kHz) like the engines' output."""
    from engine.audio import resample

    a = np.asarray(audio, np.float32)
    if a.ndim > 1:
        a = a.mean(axis=-1)
    if sr != ENGINE_SR:
        a = resample(a, sr, ENGINE_SR)
    return resample(a, ENGINE_SR, FEATURE_SR).astype(np.float32)


def windows(a22: np.ndarray) -> list[np.ndarray]:
    """Energy-gated 1 s windows (hop 0.5 s) of audio at 22.05 kHz."""
    w, h = int(WIN_S * FEATURE_SR), int(HOP_S * FEATURE_SR)
    if len(a22) <= w:
        segs = [np.pad(a22, (0, w - len(a22)))]
    else:
        starts = list(range(0, len(a22) - w + 1, h))
        if starts[-1] + w < len(a22):
            starts.append(len(a22) - w)
        segs = [a22[s : s + w] for s in starts]
    rms = np.array([np.sqrt(np.mean(s.astype(np.float64) ** 2)) + 1e-12 for s in segs])
    keep = (rms >= rms.max() * 10 ** (-GATE_DB / 20)) & (rms >= 10 ** (FLOOR_DBFS / 20))
    return [s for s, k in zip(segs, keep, strict=False) if k]


def window_features(seg: np.ndarray) -> np.ndarray:
    import librosa

    y = np.asarray(seg, np.float32)
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) + 1e-10
    mel = librosa.feature.melspectrogram(S=S**2, sr=FEATURE_SR)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)
    d = librosa.feature.delta(mfcc, width=9)  # 1 s windows: 87 frames
    cen = librosa.feature.spectral_centroid(S=S, sr=FEATURE_SR)
    bw = librosa.feature.spectral_bandwidth(S=S, sr=FEATURE_SR)
    flat = librosa.feature.spectral_flatness(S=S)
    roll = librosa.feature.spectral_rolloff(S=S, sr=FEATURE_SR)
    con = librosa.feature.spectral_contrast(S=S, sr=FEATURE_SR)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)
    onsets = librosa.onset.onset_detect(y=y, sr=FEATURE_SR, hop_length=HOP, units="time")
    parts = [mfcc, d, np.log(cen + 1), np.log(bw + 1), np.log(flat + 1e-6), np.log(roll + 1), con, zcr]
    stats = [np.concatenate([p.mean(axis=1), p.std(axis=1)]) for p in parts]
    return np.concatenate(stats + [np.array([len(onsets) / (len(y) / FEATURE_SR)])]).astype(np.float64)


def audio_windows_features(audio: np.ndarray, sr: int) -> np.ndarray:
    """[n_windows, 105] features of the kept windows (at least one window)."""
    a = to_feature_rate(audio, sr)
    segs = windows(a) or [np.zeros(int(WIN_S * FEATURE_SR), np.float32)]
    return np.stack([window_features(s) for s in segs])


def spectral_flatness_mean(audio: np.ndarray, sr: int, gate_db: float = 40.0) -> float:
    """Mean spectral flatness (librosa, 22.05 kHz, n_fft 1024) over frames within ``gate_db`` of the
    loudest frame (silence between events is not counted)."""
    import librosa

    a = to_feature_rate(audio, sr)
    S = np.abs(librosa.stft(a, n_fft=N_FFT, hop_length=HOP)) + 1e-10
    flat = librosa.feature.spectral_flatness(S=S)[0]
    e = np.sqrt((S**2).mean(axis=0))
    keep = e >= e.max() * 10 ** (-gate_db / 20)
    return float(flat[keep].mean()) if keep.any() else float("nan")


# ------------------------------------------------------------------- logistic regression ----
@dataclass
class LogReg:
    """Multinomial logistic regression on standardised features, L2, full-batch gradient descent."""

    classes: list[str]
    mean: np.ndarray
    std: np.ndarray
    W: np.ndarray  # [d, k]
    b: np.ndarray  # [k]
    l2: float = 1e-2

    @staticmethod
    def fit(X: np.ndarray, y: Sequence[int], classes: Sequence[str], l2: float = 1e-2, iters: int = 3000,
            lr: float = 0.5, sample_weight: np.ndarray | None = None) -> LogReg:
        X = np.asarray(X, np.float64)
        y = np.asarray(y, int)
        k = len(classes)
        mean, std = X.mean(axis=0), X.std(axis=0) + 1e-8
        Z = (X - mean) / std
        n, d = Z.shape
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
        w = w / w.sum()
        Y = np.eye(k)[y]
        W, b = np.zeros((d, k)), np.zeros(k)
        # Adam on the (convex) weighted cross-entropy: converges in a few thousand cheap steps
        mW, vW, mb, vb = np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)
        b1, b2, eps = 0.9, 0.999, 1e-8
        step = lr * 0.1
        for t in range(1, iters + 1):
            P = _softmax(Z @ W + b)
            G = (P - Y) * w[:, None]
            gW = Z.T @ G + l2 * W
            gb = G.sum(axis=0)
            mW, vW = b1 * mW + (1 - b1) * gW, b2 * vW + (1 - b2) * gW**2
            mb, vb = b1 * mb + (1 - b1) * gb, b2 * vb + (1 - b2) * gb**2
            W -= step * (mW / (1 - b1**t)) / (np.sqrt(vW / (1 - b2**t)) + eps)
            b -= step * (mb / (1 - b1**t)) / (np.sqrt(vb / (1 - b2**t)) + eps)
        return LogReg(list(classes), mean, std, W, b, l2)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        Z = (np.atleast_2d(np.asarray(X, np.float64)) - self.mean) / self.std
        return _softmax(Z @ self.W + self.b)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    # -- the benchmark's judge: a whole file -------------------------------------------
    def classify_audio(self, audio: np.ndarray, sr: int) -> tuple[str, np.ndarray]:
        """(class, mean probabilities over the file's energy-gated 1 s windows)."""
        p = self.predict_proba(audio_windows_features(audio, sr)).mean(axis=0)
        return self.classes[int(p.argmax())], p

    def to_json(self) -> dict:
        return {"kind": "multinomial logistic regression (numpy)", "classes": self.classes,
                "mean": self.mean.tolist(), "std": self.std.tolist(), "W": self.W.tolist(), "b": self.b.tolist(),
                "l2": self.l2, "features": FEATURES_DOC}

    @staticmethod
    def from_json(d: dict) -> LogReg:
        return LogReg(list(d["classes"]), np.array(d["mean"]), np.array(d["std"]), np.array(d["W"]),
                      np.array(d["b"]), float(d.get("l2", 1e-2)))

    def save(self, path: Path, extra: dict | None = None) -> None:
        d = self.to_json()
        if extra:
            d.update(extra)
        path.write_text(json.dumps(_round(d)) + "\n")

    @staticmethod
    def load(path: Path) -> LogReg:
        return LogReg.from_json(json.loads(Path(path).read_text()))


FEATURES_DOC = ("librosa at 22.05 kHz (audio band-limited to 8 kHz via 16 kHz), n_fft 1024 hop 256, 1 s windows "
                "hop 0.5 s gated at -20 dB of the loudest: mean+std of 20 MFCC, 20 deltas, log centroid, "
                "log bandwidth, log flatness, log rolloff, 7 contrast bands, zcr; onset rate")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _round(obj):
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v) for v in obj]
    if isinstance(obj, float):
        return float(f"{obj:.6g}")
    return obj


# ----------------------------------------------------------------------- training ----
def dataset(records: Sequence[dict], audios: Sequence[np.ndarray], sr: int, classes: Sequence[str]):
    """Window features X, labels y, recording index g (the CV group) and weights (each
    recording counts once in total, however many windows it has)."""
    X, y, g, w = [], [], [], []
    for i, (rec, a) in enumerate(zip(records, audios, strict=False)):
        F = audio_windows_features(a, sr)
        X.append(F)
        y += [classes.index(rec["class"])] * len(F)
        g += [i] * len(F)
        w += [1.0 / len(F)] * len(F)
    return np.concatenate(X), np.array(y), np.array(g), np.array(w)


def grouped_folds(groups_class: Sequence[int], k: int, seed: int = 0) -> np.ndarray:
    """A fold per group (recording), stratified by class: groups of each class dealt round-robin."""
    rng = np.random.default_rng(seed)
    gc = np.asarray(groups_class)
    fold = np.zeros(len(gc), int)
    offset = 0
    for c in np.unique(gc):
        idx = np.nonzero(gc == c)[0]
        rng.shuffle(idx)
        fold[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)
    return fold


def cross_validate(X, y, g, w, classes, group_fold: np.ndarray, l2: float = 1e-2, iters: int = 3000) -> dict:
    """Accuracy with every recording's windows held out together; per-file = mean probabilities."""
    n_groups = int(g.max()) + 1
    file_pred = np.full(n_groups, -1)
    file_true = np.array([y[g == i][0] for i in range(n_groups)])
    win_hits = 0
    for f in np.unique(group_fold):
        test_groups = np.nonzero(group_fold == f)[0]
        te = np.isin(g, test_groups)
        m = LogReg.fit(X[~te], y[~te], classes, l2=l2, iters=iters, sample_weight=w[~te])
        P = m.predict_proba(X[te])
        win_hits += int((P.argmax(axis=1) == y[te]).sum())
        for gi in test_groups:
            file_pred[gi] = int(P[g[te] == gi].mean(axis=0).argmax())
    k = len(classes)
    conf = np.zeros((k, k), int)
    for t, p in zip(file_true, file_pred, strict=False):
        conf[t, p] += 1
    return {"file_accuracy": float((file_pred == file_true).mean()), "file_hits": int((file_pred == file_true).sum()),
            "n_files": int(n_groups), "window_accuracy": win_hits / len(y), "n_windows": int(len(y)),
            "confusion": conf.tolist(), "per_class_recall": {c: float(conf[i, i] / max(1, conf[i].sum()))
                                                             for i, c in enumerate(classes)}}
