"""The generation dispatcher: ``load_pack``, ``predict_layout``, ``generate`` for any engine.

Imported only in the engine thread / CLI. The engines live in ``engine.engines`` (one module
each, one protocol); this module picks one by the pack's or the request's engine and hands
the engines that have no layout predictor of their own the diffusion pack's T.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.engines import get_engine
from engine.engines.base import LayoutPredictor
from engine.progress import CancelToken, Job
from engine.types import AudioLayout, GenerationRequest, Take


def load_pack(path_or_name: str | Path | None = None, device: str = "cpu", engine: str = "diffusion") -> Any:
    """Find, verify and build a pack of ``engine`` (default: the embedded diffusion starter)."""
    return get_engine(engine).load(path_or_name, device)


def predict_layout(video_path: str | Path, pack: Any, cancel: CancelToken | None = None,
                   cache_dir: Any = None) -> Job[AudioLayout]:
    """The layout ``pack``'s engine predicts for the clip."""
    return get_engine(getattr(pack, "engine", "diffusion")).predict_layout(video_path, pack, cancel, cache_dir)


def _layout_predictor(pack: Any, cache_dir: Any) -> LayoutPredictor | None:
    """T of ``pack`` when it is a diffusion pack, else of the installed diffusion starter pack
    (None when there is none: the AR engine then samples with its learned empty layout)."""
    from engine.engines import diffusion

    dpack = pack if getattr(pack, "engine", None) == "diffusion" and hasattr(pack, "net") else None
    if dpack is None:
        try:
            dpack = diffusion.default_pack()
        except Exception:  # no diffusion pack installed
            return None
    return lambda video, cancel: diffusion.predict_layout(video, dpack, cancel, cache_dir)


def generate(request: GenerationRequest, pack: Any, cancel: CancelToken | None = None,
             cache_dir: Any = None) -> Job[list[Take]]:
    """``request.takes`` takes from ``request.engine`` ("diffusion", "ar" or "library"); each
    covers exactly the requested region and starts at its start (``Take.start``). A request
    with ``context_audio`` continues that audio (``Engine.continue_``)."""
    eng = get_engine(request.engine)
    predictor = None
    if request.layout is None and request.engine == "ar":
        predictor = _layout_predictor(pack, cache_dir)
    run = eng.continue_ if request.context_audio is not None else eng.generate
    return (yield from run(request, pack, cancel, cache_dir, predictor))


def request_with(request: GenerationRequest, **changes: Any) -> GenerationRequest:
    """A copy of a frozen request with some fields changed (for callers such as benchmarks)."""
    return replace(request, **changes)
