"""The engines behind one protocol (``engine.engines.base.Engine``): one module each.

``get_engine(name)`` imports the engine's module on first use (the diffusion and AR engines
import torch; the library engine does not).
"""

from __future__ import annotations

import importlib
from typing import Any

#: engine name -> the module holding its ``ENGINE``
ENGINES = {
    "diffusion": "engine.engines.diffusion",
    "ar": "engine.engines.autoregressive",
    "library": "engine.engines.library",
}


def get_engine(name: str) -> Any:
    """The ``Engine`` called ``name`` (ValueError naming the known ones otherwise)."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r} ({', '.join(ENGINES)})")
    return importlib.import_module(ENGINES[name]).ENGINE


__all__ = ["ENGINES", "get_engine"]
