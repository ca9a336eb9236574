"""The torch-free surface the app may import (DESIGN.md §3).

It re-exports plain types and lazy entry points; anything that needs torch is imported
inside the function body, so calling it from the engine thread is the first torch import.
"""

from __future__ import annotations

from engine.errors import Cancelled, LayoutError, MediaError, OutputError, PackError, V2AError
from engine.progress import CancelToken, Progress, run_to_completion
from engine.types import AudioLayout, GenerationRequest, MediaInfo, Take

__all__ = [
    "AudioLayout",
    "CancelToken",
    "Cancelled",
    "GenerationRequest",
    "LayoutError",
    "MediaError",
    "MediaInfo",
    "OutputError",
    "PackError",
    "Progress",
    "Take",
    "V2AError",
    "run_to_completion",
]
