"""The library engine (real recordings placed on the layout) as an ``Engine``; torch-free
unless it has to predict a layout or guess the class from the video (both with the diffusion
pack: its T, and the evaluation classifier on a diffusion take)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.engines.base import LayoutPredictor, join_context
from engine.library.engine import LibraryPack, load_library
from engine.library.engine import generate as _generate
from engine.library.index import LibraryError
from engine.library.search import ClassChoice
from engine.progress import CancelToken, Job
from engine.types import AudioLayout, GenerationRequest, Take


def layout_pack(lib: LibraryPack) -> Any:
    """The diffusion pack that predicts a layout for the library (the starter one by default)."""
    if lib._layout_pack is None:
        from engine.engines.diffusion import default_pack

        lib._layout_pack = default_pack()
    return lib._layout_pack


def video_class(request: GenerationRequest, lib: LibraryPack, layout: AudioLayout,
                cancel: CancelToken | None, cache_dir: Any) -> Job[ClassChoice]:
    """The class the video suggests: the evaluation classifier on the diffusion take of the clip."""
    from engine.classifier import load_classifier
    from engine.engines.diffusion import generate as neural_generate

    req = replace(request, engine="diffusion", layout=layout, prompt="", takes=1, region=None,
                  context_audio=None)
    takes = yield from neural_generate(req, layout_pack(lib), cancel=cancel, cache_dir=cache_dir)
    clf = load_classifier()
    p = clf.predict_file(takes[0].audio, takes[0].sample_rate)
    names = clf.class_names
    for i in np.argsort(-p):  # the best class the library actually holds
        if names[i] in set(lib.index.classes):
            return ClassChoice(names[i], float(p[i]), "video")
    raise LibraryError("the video's class is not in the library")


class LibraryEngine:
    name = "library"

    def load(self, pack: str | Path | None = None, device: str = "auto") -> LibraryPack:
        """``pack``: a library index folder (default: the user's index, else the starter one)."""
        return load_library(pack)

    def predict_layout(self, video_path: str | Path, pack: LibraryPack, cancel: CancelToken | None = None,
                       cache_dir: Any = None) -> Job[AudioLayout]:
        from engine.engines.diffusion import predict_layout

        return predict_layout(video_path, layout_pack(pack), cancel, cache_dir)

    def generate(self, request: GenerationRequest, pack: LibraryPack, cancel: CancelToken | None = None,
                 cache_dir: Any = None, layout_predictor: LayoutPredictor | None = None) -> Job[list[Take]]:
        if layout_predictor is None:
            def layout_predictor(video: Any, cancel: CancelToken | None) -> Job[AudioLayout]:
                return self.predict_layout(video, pack, cancel, cache_dir)

        def classify(layout: AudioLayout) -> Job[ClassChoice]:
            return video_class(request, pack, layout, cancel, cache_dir)

        return _generate(request, pack, cancel, layout_predictor, classify)

    def continue_(self, request: GenerationRequest, pack: LibraryPack, cancel: CancelToken | None = None,
                  cache_dir: Any = None, layout_predictor: LayoutPredictor | None = None) -> Job[list[Take]]:
        takes = yield from self.generate(request, pack, cancel, cache_dir, layout_predictor)
        return join_context(takes, request.context_audio)


ENGINE = LibraryEngine()
