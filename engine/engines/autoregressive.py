"""The autoregressive engine (V-AURA style, ``engine.ar``) as an ``Engine``. It has no layout
predictor of its own: the caller passes one (the dispatcher gives the diffusion pack's T)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.engines.base import LayoutPredictor
from engine.progress import CancelToken, Job
from engine.types import AudioLayout, GenerationRequest, Take


class AutoregressiveEngine:
    name = "ar"

    def load(self, pack: str | Path | None = None, device: str = "auto") -> Any:
        from engine import ar

        return ar.load_pack(pack)  # runs on the CPU (token loop of tiny ops)

    def predict_layout(self, video_path: str | Path, pack: Any, cancel: CancelToken | None = None,
                       cache_dir: Any = None) -> Job[AudioLayout]:
        from engine.engines.diffusion import default_pack, predict_layout

        return predict_layout(video_path, default_pack(), cancel, cache_dir)

    def generate(self, request: GenerationRequest, pack: Any, cancel: CancelToken | None = None,
                 cache_dir: Any = None, layout_predictor: LayoutPredictor | None = None) -> Job[list[Take]]:
        from engine.ar.run import generate_job

        return generate_job(request, pack, cancel, layout_predictor)

    def continue_(self, request: GenerationRequest, pack: Any, cancel: CancelToken | None = None,
                  cache_dir: Any = None, layout_predictor: LayoutPredictor | None = None) -> Job[list[Take]]:
        # the AR engine continues natively: the context's codes are the prefix it samples on from
        return self.generate(request, pack, cancel, cache_dir, layout_predictor)


ENGINE = AutoregressiveEngine()
