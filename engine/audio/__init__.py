"""Audio representation: log-mel, the audio layout, Griffin-Lim, onsets. numpy/scipy only."""

from engine.audio.dsp import crossfade, peak_limit, resample
from engine.audio.griffinlim import griffin_lim, mel_to_linear
from engine.audio.layout import (
    LayoutConfig,
    colormap,
    denormalize_mel,
    layout_energy,
    layout_from_audio,
    layout_from_mel,
    layout_to_grid,
    layout_to_image,
    load_layout,
    normalize_mel,
    resize_layout,
    save_layout,
    save_layout_png,
)
from engine.audio.mel import MelConfig, log_mel, mel_filterbank, mel_spectrogram, stft_mag
from engine.audio.onset import (
    ADHERENCE_ONSETS,
    OnsetConfig,
    detect_onsets,
    detect_onsets_from_envelope,
    normalize_envelope,
    onset_detection_function,
    onset_strength,
    peak_pick,
)

__all__ = [
    "ADHERENCE_ONSETS",
    "LayoutConfig",
    "MelConfig",
    "OnsetConfig",
    "colormap",
    "crossfade",
    "denormalize_mel",
    "detect_onsets",
    "detect_onsets_from_envelope",
    "griffin_lim",
    "layout_energy",
    "layout_from_audio",
    "layout_from_mel",
    "layout_to_grid",
    "layout_to_image",
    "load_layout",
    "log_mel",
    "mel_filterbank",
    "mel_spectrogram",
    "mel_to_linear",
    "normalize_envelope",
    "normalize_mel",
    "onset_detection_function",
    "onset_strength",
    "peak_limit",
    "peak_pick",
    "resample",
    "resize_layout",
    "save_layout",
    "save_layout_png",
    "stft_mag",
]
