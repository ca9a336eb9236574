"""Torch Dataset over the feature cache: random fixed-duration crops of cached clips.

The only module of ``engine.data`` that imports torch. Each item is a dict of fixed-shape
tensors, so the default ``collate_fn`` batches them:

=================  ======================  ===================================================
key                shape / dtype           meaning
=================  ======================  ===================================================
frames             uint8 [T, 3, S, S]      RGB frames at ``fps`` (T = crop_seconds * fps)
audio              float32 [crop * sr]     16 kHz mono soundtrack of the crop
mel                float32 [crop*100, 64]  log-mel (``engine.audio.log_mel``)
layout             float32 [crop*10, 5]    audio layout (TiVA; 10 columns/s)
onsets             float32 [T]             1 at video frames holding an event contact, else 0
classes            float32 [n_classes]     multi-hot of the classes with a contact in the crop
events             float32 [max_events, 3] (time in crop s, class index, kind index); -1 pad
valid              float32 [T]             1 where the crop has real frames (0 = padding)
start              float64 []              crop start in the clip, seconds
=================  ======================  ===================================================

Crop starts lie on a grid that is a whole number of video frames, mel frames and layout
columns, so the three streams stay exactly aligned. Clips shorter than the crop are padded
with zeros (``valid`` says where). With ``seed`` set, crops are reproducible per index.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from engine.data.cache import events_of, load_entry, rate_key, read_index
from engine.data.taxonomy import VISUAL_KIND

CLASSES: tuple[str, ...] = tuple(sorted(VISUAL_KIND))
KINDS: tuple[str, ...] = tuple(sorted(set(VISUAL_KIND.values())))
MEL_FPS = 100
LAYOUT_CPS = 10


def crop_grid(fps: float) -> float:
    """Smallest step (s) that is a whole number of video frames, mel frames and layout columns."""
    f = Fraction(fps).limit_denominator(1001)
    step = 1 / f
    for r in (Fraction(MEL_FPS), Fraction(LAYOUT_CPS)):
        # lcm of 1/r and step: for p/q steps lcm = lcm(p)/gcd(q)
        a, b = step, 1 / r
        step = Fraction(math.lcm(a.numerator, b.numerator), math.gcd(a.denominator, b.denominator))
    return float(step)


class ClipDataset(Dataset):
    """Random crops of ``crop_seconds`` from the cached clips of one split."""

    def __init__(
        self,
        cache_dir: str | Path,
        split: str = "train",
        crop_seconds: float = 4.0,
        fps: float = 10.0,
        seed: int | None = None,
        max_events: int = 32,
        memory_items: int = 0,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.rows = [r for r in read_index(self.cache_dir) if r["split"] == split]
        self.split = split
        self.crop_seconds = float(crop_seconds)
        self.fps = float(fps)
        self.n_frames = int(round(self.crop_seconds * self.fps))
        if abs(self.n_frames - self.crop_seconds * self.fps) > 1e-6:
            raise ValueError(f"crop of {crop_seconds} s is not a whole number of frames at {fps} fps")
        self.sr = 16000
        self.grid = crop_grid(self.fps)
        self.seed = seed
        self.max_events = max_events
        self._rng: np.random.Generator | None = None
        self._memory: OrderedDict[str, dict] = OrderedDict()
        self._memory_items = memory_items

    def __len__(self) -> int:
        return len(self.rows)

    def _entry(self, row: dict) -> dict:
        key = row["file"]
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        entry = load_entry(self.cache_dir / key)
        if self._memory_items > 0:
            self._memory[key] = entry
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)
        return entry

    def _generator(self, index: int) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng((self.seed, index))
        if self._rng is None:  # one stream per worker process
            self._rng = np.random.default_rng(torch.initial_seed() % (2**63))
        return self._rng

    def __getitem__(self, index: int) -> dict:
        row = self.rows[index]
        e = self._entry(row)
        rk = rate_key(self.fps)
        if f"frames_{rk}" not in e:
            raise KeyError(f"cache entry {row['file']} has no frames at {self.fps} fps; rebuild with that rate")
        frames_all = e[f"frames_{rk}"]
        duration = len(frames_all) / self.fps
        slack = duration - self.crop_seconds
        n_steps = int(math.floor(slack / self.grid + 1e-9)) + 1 if slack >= 0 else 1
        start = float(self._generator(index).integers(0, n_steps)) * self.grid if slack > 0 else 0.0
        f0 = int(round(start * self.fps))
        T = self.n_frames
        frames = np.zeros((T,) + frames_all.shape[1:], np.uint8)
        got = frames_all[f0 : f0 + T]
        frames[: len(got)] = got
        valid = np.zeros(T, np.float32)
        valid[: len(got)] = 1.0

        def window(arr: np.ndarray, rate: float, n: int) -> np.ndarray:
            s0 = int(round(start * rate))
            out = np.zeros((n,) + arr.shape[1:], np.float32)
            piece = arr[s0 : s0 + n]
            out[: len(piece)] = piece
            return out

        audio = window(e["audio"], self.sr, int(round(self.crop_seconds * self.sr)))
        mel = window(e["mel"], MEL_FPS, int(round(self.crop_seconds * MEL_FPS)))
        if len(e["mel"]) and int(round(start * MEL_FPS)) + len(mel) > len(e["mel"]):
            # pad beyond the clip with the log floor (silence), not zero (which is loud)
            n_real = max(0, len(e["mel"]) - int(round(start * MEL_FPS)))
            mel[n_real:] = float(e["mel"].min())
        layout = window(e["layout"], float(e["layout_cps"]), int(round(self.crop_seconds * LAYOUT_CPS)))
        onsets = np.zeros(T, np.float32)
        classes = np.zeros(len(CLASSES), np.float32)
        events = -np.ones((self.max_events, 3), np.float32)
        k = 0
        for ev in events_of(e):
            t = float(ev["time"]) - start
            if not (-1e-9 <= t < self.crop_seconds - 1e-9):
                continue
            fi = int(math.floor(t * self.fps + 1e-6))
            onsets[min(fi, T - 1)] = 1.0
            ci = CLASSES.index(ev["class"]) if ev["class"] in CLASSES else -1
            if ci >= 0:
                classes[ci] = 1.0
            if k < self.max_events:
                events[k] = (t, ci, KINDS.index(ev["kind"]) if ev.get("kind") in KINDS else -1)
                k += 1
        return {
            "frames": torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2))),
            "audio": torch.from_numpy(audio),
            "mel": torch.from_numpy(mel),
            "layout": torch.from_numpy(layout),
            "onsets": torch.from_numpy(onsets),
            "classes": torch.from_numpy(classes),
            "events": torch.from_numpy(events),
            "valid": torch.from_numpy(valid),
            "start": torch.tensor(start, dtype=torch.float64),
            "id": row["id"],
        }
