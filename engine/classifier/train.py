"""Train the evaluation classifier on the Foley library's classes.

    nice -n 10 .venv/bin/python -m engine.classifier.train --data data --out resources/classifier

Reads ``<data>/sfx/manifest.jsonl`` (train split to fit, val split to pick the best epoch,
test split to report), computes log-mels once, trains on random 0.4–1.0 s crops with gain,
background-noise, overlap-mix and SpecAugment augmentation for a bounded CPU time, and writes
``pack.json`` + ``classifier.safetensors`` with the accuracies in the config's ``extra``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.classifier.model import LOG_FLOOR, AudioClassifier, AudioCNN, ClassifierConfig
from engine.errors import MediaError


def read_library(data: Path) -> list[dict]:
    manifest = data / "sfx" / "manifest.jsonl"
    if not manifest.is_file():
        raise MediaError("sound library manifest not found; run `v2a data sfx` first", manifest)
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    for r in rows:
        p = Path(r["path"])
        for cand in (p, data / p, data / "sfx" / p):
            if cand.is_file():
                r["_file"] = cand
                break
    return [r for r in rows if "_file" in r and r.get("class")]


def load_mels(rows: list[dict], cfg: ClassifierConfig, max_seconds: float = 6.0) -> list[np.ndarray]:
    """Raw (un-normalised) log-mels of the first ``max_seconds`` of each file."""
    import soundfile as sf

    from engine.audio import log_mel, resample

    out = []
    for r in rows:
        a, sr = sf.read(str(r["_file"]), dtype="float32", always_2d=True)
        a = a.mean(axis=1)[: int(max_seconds * sr)]
        if sr != cfg.sample_rate:
            a = resample(a, sr, cfg.sample_rate)
        out.append(log_mel(a, cfg.mel_config))
    return out


class CropSampler:
    """Random training crops: balanced over classes, placed near the sound's energy."""

    def __init__(self, mels: list[np.ndarray], labels: np.ndarray, n_classes: int, seed: int = 0) -> None:
        self.mels, self.labels, self.rng = mels, labels, np.random.default_rng(seed)
        self.by_class = [np.flatnonzero(labels == k) for k in range(n_classes)]
        self.classes = [k for k in range(n_classes) if len(self.by_class[k])]
        # frame energy (linear mel sum) per file, for energy-weighted crop placement
        self.energy = [np.exp(m).sum(axis=1) for m in mels]

    def crop(self, i: int, n: int) -> np.ndarray:
        m = self.mels[i]
        T = m.shape[0]
        if T <= n:
            start = -int(self.rng.integers(0, min(20, n - T) + 1))
        elif self.rng.random() < 0.5:
            start = -int(self.rng.integers(0, 15))  # the onset near the window start, as in eval
        else:
            e = self.energy[i]
            centre = int(self.rng.choice(T, p=e / e.sum()))
            start = int(np.clip(centre - self.rng.integers(5, n), 0, T - n))
        out = np.full((n, m.shape[1]), LOG_FLOOR, np.float32)
        a, b = max(0, start), min(T, start + n)
        out[a - start : b - start] = m[a:b]
        return out

    def batch(self, size: int, n_frames: int, augment: bool = True) -> tuple[np.ndarray, np.ndarray]:
        ks = self.rng.choice(self.classes, size=size)
        idx = [int(self.rng.choice(self.by_class[k])) for k in ks]
        x = np.stack([self.crop(i, n_frames) for i in idx])
        if augment:
            x = self._augment(x)
        return x, self.labels[idx]

    def _augment(self, x: np.ndarray) -> np.ndarray:
        rng = self.rng
        B, T, M = x.shape
        lin = np.exp(x)
        lin *= np.exp(rng.uniform(np.log(0.25), np.log(2.0), size=(B, 1, 1)))  # gain
        # background noise with a random spectral tilt, at a random (mostly low) level
        tilt = np.linspace(0, 1, M)[None, None, :] * rng.uniform(-3, 1, size=(B, 1, 1))
        level = np.exp(rng.uniform(np.log(1e-4), np.log(3e-2), size=(B, 1, 1)))
        lin += level * np.exp(tilt) * rng.exponential(1.0, size=(B, T, M))
        # overlap with another sound (events in rendered clips overlap)
        for b in np.flatnonzero(rng.random(B) < 0.25):
            j = int(rng.integers(len(self.mels)))
            other = np.exp(self.crop(j, T))
            shift = int(rng.integers(T // 3, T))
            mix = np.zeros_like(other)
            mix[shift:] = other[: T - shift]
            lin[b] += mix * rng.uniform(0.1, 0.5)
        x = np.log(np.maximum(lin, 1e-5)).astype(np.float32)
        for b in range(B):  # SpecAugment: one time mask, one frequency mask
            t0, tw = int(rng.integers(T)), int(rng.integers(0, max(1, T // 8)))
            f0, fw = int(rng.integers(M)), int(rng.integers(0, 9))
            x[b, t0 : t0 + tw] = LOG_FLOOR
            x[b, :, f0 : f0 + fw] = LOG_FLOOR
        return x


def evaluate_files(clf: AudioClassifier, mels: list[np.ndarray], labels: np.ndarray, max_windows: int = 6) -> float:
    """File-level accuracy: mean probabilities over 1 s windows of each file's first seconds."""
    if len(mels) == 0:
        return float("nan")
    clf.model.eval()
    cfg = clf.config
    w = int(round(cfg.window_seconds * cfg.sample_rate / cfg.hop_length))
    h = int(round(cfg.window_hop_seconds * cfg.sample_rate / cfg.hop_length))
    hits = 0
    for m, y in zip(mels, labels, strict=True):
        z = (m - cfg.mel_mean) / cfg.mel_std
        if z.shape[0] < w:
            pad = np.full((w - z.shape[0], z.shape[1]), (LOG_FLOOR - cfg.mel_mean) / cfg.mel_std, np.float32)
            z = np.concatenate([z, pad])
        wins = [z[s : s + w] for s in range(0, z.shape[0] - w + 1, h)][:max_windows]
        p = clf._run(wins, "proba").mean(axis=0)
        hits += int(p.argmax() == y)
    return hits / len(mels)


def train(
    data: Path,
    out: Path,
    minutes: float = 5.0,
    batch: int = 48,
    lr: float = 2e-3,
    seed: int = 0,
    threads: int = 2,
    min_files: int = 3,
    max_steps: int | None = None,
    eval_every: int = 100,
    channels: tuple[int, ...] = (24, 48, 96, 128),
    embed_dim: int = 128,
    log=print,
) -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rows = read_library(data)
    counts = Counter(r["class"] for r in rows if r.get("split") == "train")
    class_names = sorted(c for c, n in counts.items() if n >= min_files)
    cix = {c: i for i, c in enumerate(class_names)}
    split = {s: [r for r in rows if r.get("split") == s and r["class"] in cix] for s in ("train", "val", "test")}
    log(f"classes: {len(class_names)}; files train/val/test: " + "/".join(str(len(split[s])) for s in split))
    cfg = ClassifierConfig(class_names=class_names, channels=tuple(channels), embed_dim=embed_dim)
    t0 = time.time()
    mels = {s: load_mels(split[s], cfg) for s in split}
    labels = {s: np.array([cix[r["class"]] for r in split[s]], dtype=np.int64) for s in split}
    allm = np.concatenate([m for m in mels["train"]])
    cfg.mel_mean, cfg.mel_std = float(allm.mean()), float(allm.std() + 1e-6)
    log(f"log-mels computed in {time.time() - t0:.0f} s; mean {cfg.mel_mean:.2f} std {cfg.mel_std:.2f}")

    model = AudioCNN(cfg)
    clf = AudioClassifier(model, cfg)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    sampler = CropSampler(mels["train"], labels["train"], len(class_names), seed)
    fps = cfg.sample_rate / cfg.hop_length
    # The budget is CPU time of this process, not wall time: on a shared machine a wall-clock
    # budget would give a different (worse) model depending on what else runs.
    budget = minutes * 60.0
    t_start = time.process_time()
    wall_start = time.time()
    best = (-1.0, None, 0)
    step = 0
    losses: list[float] = []
    while True:
        elapsed = time.process_time() - t_start
        if elapsed > budget or (max_steps is not None and step >= max_steps):
            break
        frac = min(1.0, step / max_steps if max_steps else elapsed / budget)
        for g in opt.param_groups:  # cosine decay over the time budget, short warm-up
            g["lr"] = lr * min(1.0, (step + 1) / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        n_frames = int(sampler.rng.uniform(0.4, 1.0) * fps)
        x, y = sampler.batch(batch, n_frames)
        xt = torch.from_numpy((x - cfg.mel_mean) / cfg.mel_std)
        model.train()
        loss = F.cross_entropy(model(xt), torch.from_numpy(y), label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % eval_every == 0 or step == max_steps:
            val = evaluate_files(clf, mels["val"], labels["val"]) if len(mels["val"]) else float("nan")
            log(f"step {step} ({elapsed:.0f} CPU s, {time.time() - wall_start:.0f} s wall) loss {np.mean(losses[-eval_every:]):.3f} val acc {val:.3f}")
            score = val if not math.isnan(val) else -np.mean(losses[-eval_every:])
            if score >= best[0]:
                best = (score, {k: v.clone() for k, v in model.state_dict().items()}, step)
    if best[1] is not None:
        model.load_state_dict(best[1])
    model.eval()
    results = {
        "test_accuracy": evaluate_files(clf, mels["test"], labels["test"]),
        "val_accuracy": evaluate_files(clf, mels["val"], labels["val"]),
        "train_accuracy": evaluate_files(clf, mels["train"][::5], labels["train"][::5]),
        "steps": step,
        "best_step": best[2],
        "train_cpu_seconds": round(time.process_time() - t_start, 1),
        "train_wall_seconds": round(time.time() - wall_start, 1),
        "params": n_params,
        "n_files": {s: len(split[s]) for s in split},
        "chance": 1.0 / max(1, len(class_names)),
    }
    # per-class test accuracy: tells which classes FAD / class accuracy can be trusted on
    per = {}
    for k, name in enumerate(class_names):
        sel = labels["test"] == k
        if sel.any():
            per[name] = round(evaluate_files(clf, [m for m, s in zip(mels["test"], sel, strict=True) if s],
                                              labels["test"][sel]), 3)
    results["per_class_test_accuracy"] = per
    cfg.extra = {"version": "1", "data": str(data), "seed": seed, **results}
    clf.save(out)
    log(json.dumps({k: v for k, v in results.items() if k != "per_class_test_accuracy"}))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.classifier.train", description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="data root (default: $V2A_DATA or ./data)")
    ap.add_argument("--out", type=Path, default=Path("resources/classifier"))
    ap.add_argument("--minutes", type=float, default=5.0, help="training budget in CPU minutes of this process")
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=None)
    args = ap.parse_args(argv)
    from engine.data import data_root

    train(data_root(args.data), args.out, args.minutes, args.batch, args.lr, args.seed, args.threads,
          max_steps=args.max_steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
