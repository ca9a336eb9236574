"""Sync and adherence metrics (numpy + OpenCV), defined in docs/METRICS.md."""

from engine.metrics.adherence import event_spans_from_layout, events_from_layout, layout_adherence
from engine.metrics.align import (
    aa_align,
    av_align,
    av_align_job,
    iou_score,
    match_count,
    video_peaks,
)
from engine.metrics.evaluate import evaluate, evaluate_job
from engine.metrics.reference import (
    average_precision,
    dtw_distance,
    energy_l1,
    odf_dtw,
    odf_wasserstein,
    onset_accuracy_ap,
    rms_envelope,
    wasserstein_1d,
)

__all__ = [
    "aa_align",
    "av_align",
    "av_align_job",
    "average_precision",
    "dtw_distance",
    "energy_l1",
    "evaluate",
    "evaluate_job",
    "event_spans_from_layout",
    "events_from_layout",
    "iou_score",
    "layout_adherence",
    "match_count",
    "odf_dtw",
    "odf_wasserstein",
    "onset_accuracy_ap",
    "rms_envelope",
    "video_peaks",
    "wasserstein_1d",
]
