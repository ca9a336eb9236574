"""``evaluate``: every metric that applies to one generated track."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import numpy as np

from engine.metrics.adherence import layout_adherence
from engine.metrics.align import aa_align, av_align_job
from engine.metrics.reference import energy_l1, odf_dtw, odf_wasserstein, onset_accuracy_ap
from engine.progress import CancelToken, Progress, run_to_completion
from engine.types import AudioLayout

Reference = np.ndarray | tuple[np.ndarray, int]


def evaluate_job(
    video_path: str | Path | None,
    audio: np.ndarray,
    sr: int,
    reference: Reference | None = None,
    layout: AudioLayout | None = None,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, dict]:
    """Job form of :func:`evaluate` (progress from the optical flow, then one step per group)."""
    out: dict = {"duration_s": len(audio) / sr, "sample_rate": int(sr)}
    if video_path is not None:
        av = yield from av_align_job(video_path, audio, sr, cancel)
        out.update(av)
    if reference is not None:
        ref, ref_sr = reference if isinstance(reference, tuple) else (reference, sr)
        yield Progress("reference metrics", 0, 1)
        out["aa_align"] = aa_align(audio, ref, sr, ref_sr)
        out.update(onset_accuracy_ap(audio, sr, reference=ref, ref_sr=ref_sr))
        out["odf_dtw"] = odf_dtw(audio, sr, ref, ref_sr)
        out["odf_wasserstein_s"] = odf_wasserstein(audio, sr, ref, ref_sr)
        out["energy_l1"] = energy_l1(audio, sr, ref, ref_sr)
        yield Progress("reference metrics", 1, 1)
    if layout is not None:
        out.update({f"layout_{k}": v for k, v in layout_adherence(layout, audio, sr).items()})
    return out


def evaluate(
    video_path: str | Path | None,
    audio: np.ndarray,
    sr: int,
    reference: Reference | None = None,
    layout: AudioLayout | None = None,
) -> dict:
    """Everything that applies: AV-Align with a video; AA-Align, onset acc/AP, ODF DTW and
    Wasserstein, energy L1 with a reference (array at ``sr`` or ``(array, rate)``); layout
    adherence (keys prefixed ``layout_``) with a target layout. NaN = undefined (e.g. silence).
    """
    return run_to_completion(evaluate_job(video_path, audio, sr, reference, layout))
