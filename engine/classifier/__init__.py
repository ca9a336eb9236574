"""Sound-class classifier for evaluation: class accuracy of generated events and FAD.

A small CNN over the 64-bin log-mel (engine.audio.log_mel, 16 kHz), trained on the Foley
library's classes (``python -m engine.classifier.train``), stored in ``resources/classifier/``
as ``pack.json`` + ``classifier.safetensors`` (pack format: sha256-checked, never pickled).
Its penultimate layer gives embeddings for the Fréchet Audio Distance (``fad``), its head the
class predictions. It is an evaluation tool, not a product pack.

This package imports torch only inside ``engine.classifier.model`` (loaded lazily).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.classifier.fad import fad, frechet_distance, gaussian_stats

if TYPE_CHECKING:
    from engine.classifier.model import AudioClassifier


def default_classifier_dir() -> Path:
    """``resources/classifier`` of this checkout / install / frozen bundle."""
    from engine import paths

    return paths.resource_path("classifier")


def load_classifier(path: str | Path | None = None, device: str = "cpu") -> AudioClassifier:
    """Load the trained classifier (default: resources/classifier); PackError if missing/broken."""
    from engine.classifier.model import AudioClassifier

    return AudioClassifier.load(path if path is not None else default_classifier_dir(), device=device)


__all__ = ["default_classifier_dir", "fad", "frechet_distance", "gaussian_stats", "load_classifier"]
