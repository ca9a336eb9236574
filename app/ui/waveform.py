"""Waveform drawing at any zoom: min/max per block of samples computed once, then per view
only the visible blocks (or, zoomed in close, the visible samples) are reduced to about one
min/max pair per pixel column."""

from __future__ import annotations

import numpy as np

BLOCK = 64


class Envelope:
    def __init__(self, audio: np.ndarray, sample_rate: int) -> None:
        a = np.asarray(audio, np.float32)
        if a.ndim > 1:
            a = a.mean(axis=1)
        self.audio = a
        self.sr = int(sample_rate)
        n = len(a)
        starts = np.arange(0, n, BLOCK)
        self.mins = np.minimum.reduceat(a, starts) if n else np.zeros(0, np.float32)
        self.maxs = np.maximum.reduceat(a, starts) if n else np.zeros(0, np.float32)
        self.peak = float(np.max(np.abs(a))) if n else 0.0

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sr if self.sr else 0.0

    def view(self, t0: float, t1: float, columns: int) -> tuple[np.ndarray, np.ndarray, str]:
        """(x seconds, y, connect) for the visible range: min/max pairs ("pairs") when a column
        holds several samples, else the samples themselves as a line ("all")."""
        n = len(self.audio)
        s0 = max(0, int(np.floor(t0 * self.sr)))
        s1 = min(n, int(np.ceil(t1 * self.sr)) + 1)
        columns = max(16, int(columns))
        if s1 - s0 < 2:
            return np.zeros(0), np.zeros(0), "all"
        per_col = (s1 - s0) / columns
        if per_col <= 2:
            x = np.arange(s0, s1) / self.sr
            return x, self.audio[s0:s1].astype(float), "all"
        if per_col < 2 * BLOCK:  # close in: from the samples
            edges = np.unique(np.linspace(s0, s1, columns + 1).astype(int))
            seg = self.audio[s0:s1]
            mn = np.minimum.reduceat(seg, edges[:-1] - s0)
            mx = np.maximum.reduceat(seg, edges[:-1] - s0)
            t = edges[:-1] / self.sr
        else:  # from the blocks
            b0, b1 = s0 // BLOCK, min(len(self.mins), -(-s1 // BLOCK))
            edges = np.unique(np.linspace(b0, b1, columns + 1).astype(int))
            mn = np.minimum.reduceat(self.mins[b0:b1], edges[:-1] - b0)
            mx = np.maximum.reduceat(self.maxs[b0:b1], edges[:-1] - b0)
            t = edges[:-1] * BLOCK / self.sr
        x = np.repeat(t, 2)
        y = np.empty(2 * len(t))
        y[0::2], y[1::2] = mn, mx
        return x, y, "pairs"


__all__ = ["Envelope", "BLOCK"]
