"""Evaluation classifier: network shapes, Fréchet distance, save/load, a tiny training run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.classifier import fad, frechet_distance, gaussian_stats, load_classifier
from engine.classifier.model import AudioClassifier, AudioCNN, ClassifierConfig
from engine.errors import PackError

SR = 16000


def _tiny(n_classes: int = 3) -> AudioClassifier:
    torch.manual_seed(0)
    cfg = ClassifierConfig(class_names=[f"c{i}" for i in range(n_classes)], channels=(4, 8), embed_dim=16)
    return AudioClassifier(AudioCNN(cfg), cfg)


# ---------------------------------------------------------------- Fréchet distance


def test_frechet_closed_form_diagonal_gaussians() -> None:
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 2.0, 0.5]), np.array([2.0, 2.0, 1.5])
    # for commuting covariances: ||mu1-mu2||^2 + sum (sqrt(s1) - sqrt(s2))^2
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((a - b) ** 2)
    got = frechet_distance(mu1, np.diag(a**2), mu2, np.diag(b**2))
    assert got == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(7.0)


def test_frechet_closed_form_scaled_full_covariance() -> None:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 5))
    s = A @ A.T + np.eye(5)
    # S2 = c^2 S1 commutes with S1: FD = |dmu|^2 + (1 - c)^2 tr(S1)
    c = 3.0
    mu = rng.normal(size=5)
    got = frechet_distance(mu, s, mu + 0.5, c**2 * s)
    assert got == pytest.approx(5 * 0.25 + (1 - c) ** 2 * np.trace(s), rel=1e-6)


def test_fad_identical_sets_zero_shifted_sets_positive() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 4))
    assert fad(x, x) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, 0.0, 0.0, 2.0])
    # same covariance, mean shifted: FD = |shift|^2 exactly for the empirical stats
    assert fad(x, x + shift) == pytest.approx(5.0, rel=1e-6)
    y = rng.normal(size=(4000, 4)) * 2.0 + 1.0  # N(1, 4I) vs N(0, I): 4*1 + 4*(2-1)^2 = 8
    assert fad(x, y) == pytest.approx(8.0, rel=0.1)


def test_frechet_handles_singular_covariances() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3, 16)), rng.normal(size=(3, 16)) + 1.0  # N < D: singular
    v = fad(a, b)
    assert np.isfinite(v) and v > 0
    mu, sig = gaussian_stats(a[:1])
    assert sig.shape == (16, 16) and not sig.any()


# ---------------------------------------------------------------- network + wrapper


def test_tiny_network_shapes_and_any_length() -> None:
    clf = _tiny(3)
    for frames in (20, 37, 100):
        x = torch.randn(2, frames, 64)
        assert clf.model(x).shape == (2, 3)
        assert clf.model.embedding(x).shape == (2, 16)
    audio = [np.random.default_rng(0).normal(size=n).astype(np.float32) * 0.1 for n in (800, 16000, 40000)]
    assert clf.embed(audio, SR).shape == (3, 16)
    p = clf.predict_proba(audio, SR)
    assert p.shape == (3, 3) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    # 2.5 s in 1 s windows 0.5 s apart -> 4 windows; 0.05 s and 1 s -> 1 each
    assert clf.embed_windows(audio, SR).shape == (6, 16)
    assert clf.predict(audio[:1], 22050)[0] in clf.class_names  # resampled input works


def test_event_segments_stop_at_next_event() -> None:
    clf = _tiny()
    audio = np.zeros(SR * 4, np.float32)
    segs = clf.event_segments(audio, SR, [0.5, 1.0, 3.5])
    lens = [len(s) / SR for s in segs]
    assert lens[0] == pytest.approx(0.53, abs=0.01)  # 0.45 .. 0.98
    assert lens[1] == pytest.approx(1.05, abs=0.01)  # max 1 s after the onset
    assert lens[2] == pytest.approx(0.55, abs=0.01)  # clipped by the end of the audio
    res = clf.event_accuracy(audio, SR, [(0.5, "c0"), (1.0, "unknown")])
    assert res["n"] == 1 and res["skipped"] == 1
    assert res["top3_accuracy"] == 1.0  # only 3 classes: the truth is always in the top 3


def test_save_load_round_trip(tmp_path: Path) -> None:
    clf = _tiny()
    clf.config.extra = {"test_accuracy": 0.5}
    out = clf.save(tmp_path / "clf")
    man = json.loads((out / "pack.json").read_text())
    assert man["classifier"]["class_names"] == ["c0", "c1", "c2"]
    back = load_classifier(out)
    assert back.config.channels == (4, 8) and back.config.extra["test_accuracy"] == 0.5
    audio = [np.random.default_rng(3).normal(size=12000).astype(np.float32)]
    assert np.allclose(back.embed(audio, SR), clf.embed(audio, SR), atol=1e-6)
    # a corrupted weight file is refused, naming it
    w = out / "classifier.safetensors"
    w.write_bytes(w.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(PackError, match="classifier.safetensors"):
        load_classifier(out)
    with pytest.raises(PackError, match="train one"):
        load_classifier(tmp_path / "nothing")


# ---------------------------------------------------------------- training smoke test


def _write_library(root: Path) -> None:
    """Two trivially separable classes: low tone bursts vs. high-passed noise bursts."""
    rng = np.random.default_rng(0)
    rows = []
    (root / "sfx").mkdir(parents=True)
    for i in range(24):
        cls = "tone" if i % 2 == 0 else "hiss"
        t = np.arange(int(SR * rng.uniform(0.5, 1.2))) / SR
        env = np.exp(-t * 4)
        if cls == "tone":
            y = np.sin(2 * np.pi * rng.uniform(150, 300) * t) * env
        else:
            y = np.diff(rng.normal(size=len(t) + 1)) * env * 0.5
        path = root / "sfx" / f"{cls}_{i}.flac"
        sf.write(path, (y * 0.5).astype(np.float32), SR)
        split = "test" if i >= 20 else ("val" if i >= 16 else "train")
        rows.append({"id": f"{cls}_{i}", "path": f"sfx/{cls}_{i}.flac", "class": cls, "split": split})
    (root / "sfx" / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_training_learns_separable_classes(tmp_path: Path) -> None:
    from engine.classifier.train import train

    _write_library(tmp_path / "data")
    res = train(tmp_path / "data", tmp_path / "clf", minutes=5, batch=8, max_steps=80, eval_every=40,
                threads=1, min_files=2, channels=(8, 16), embed_dim=16, log=lambda *_: None)
    assert res["steps"] == 80
    assert res["test_accuracy"] == 1.0
    clf = load_classifier(tmp_path / "clf")
    assert clf.class_names == ["hiss", "tone"]
    t = np.arange(SR) / SR
    assert clf.predict([np.sin(2 * np.pi * 220 * t).astype(np.float32) * 0.3], SR) == ["tone"]
