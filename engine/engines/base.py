"""The contract every engine keeps (docs/DESIGN.md §3).

An engine is a module-level object with four job generators. All take plain data
(``GenerationRequest``, paths, arrays) and yield ``Progress``; all honour a ``CancelToken``.

The one ``Take`` contract: a take's audio covers exactly the requested region ``[a, b)`` of the
clip (the whole clip when ``request.region`` is None) and ``take.start == a`` says where it
goes. Callers place it with ``take.start``; nobody guesses from its length.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.audio.dsp import join_edges, resample
from engine.progress import CancelToken, Job
from engine.timebase import seconds_to_samples
from engine.types import AudioLayout, GenerationRequest, Take

__all__ = ["Engine", "LayoutPredictor", "join_context"]

#: A layout predictor handed to an engine that has none of its own (the AR engine uses the
#: diffusion pack's T): (video_path, cancel) -> Job[AudioLayout].
LayoutPredictor = Callable[[str | Path, CancelToken | None], Job[AudioLayout]]


class Engine(Protocol):
    name: str

    def load(self, pack: str | Path | None = None, device: str = "auto") -> Any:
        """Find, verify and build a pack of this engine (``None``: the default one)."""

    def predict_layout(self, video_path: str | Path, pack: Any, cancel: CancelToken | None = None,
                       cache_dir: Any = None) -> Job[AudioLayout]:
        """The layout this engine's pack hears in the video (over the clip's duration)."""

    def generate(self, request: GenerationRequest, pack: Any, cancel: CancelToken | None = None,
                 cache_dir: Any = None, layout_predictor: LayoutPredictor | None = None) -> Job[list[Take]]:
        """``request.takes`` takes of ``request.region`` (or the whole clip), seeds seed, seed+1, ..."""

    def continue_(self, request: GenerationRequest, pack: Any, cancel: CancelToken | None = None,
                  cache_dir: Any = None, layout_predictor: LayoutPredictor | None = None) -> Job[list[Take]]:
        """Like ``generate`` for a request carrying ``context_audio``: the region is new sound that
        joins the context's audio at its edges (the take still covers only the region)."""


def join_context(takes: list[Take], context: tuple[np.ndarray, int] | None, fade_s: float = 0.04) -> list[Take]:
    """``continue_``'s last step for engines that sample a region from its conditions alone:
    each take (covering ``[start, start + duration)``) joined to the context's audio by
    equal-power crossfades inside the region (``engine.audio.dsp.join_edges``). No context:
    the takes as they are."""
    if context is None:
        return takes
    arr, ctx_sr = context
    at_rate: dict[int, np.ndarray] = {}  # the context resampled once per take rate
    out = []
    for t in takes:
        if t.sample_rate not in at_rate:
            at_rate[t.sample_rate] = resample(np.asarray(arr, np.float32).reshape(-1), int(ctx_sr), t.sample_rate)
        ctx = at_rate[t.sample_rate]
        y = join_edges(t.audio, ctx, seconds_to_samples(t.start, t.sample_rate), seconds_to_samples(fade_s, t.sample_rate))
        out.append(Take(y, t.sample_rate, t.seed, t.layout, t.engine, {**t.meta, "continued": True}, t.start))
    return out
