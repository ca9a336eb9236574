"""Plain data passed between engine stages and to the app (DESIGN.md §2). Torch-free."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class VideoStreamInfo:
    index: int
    codec: str
    width: int
    height: int
    rotation: int  # degrees clockwise the picture must be turned for display (0/90/180/270)
    fps: Fraction  # average frame rate, exact
    frame_count: int  # counted or estimated from duration*fps
    variable_rate: bool
    duration: float  # seconds
    start_time: float  # seconds
    pixel_aspect: Fraction = Fraction(1)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown, after rotation."""
        if self.rotation % 180 == 90:
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class AudioStreamInfo:
    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str
    duration: float
    start_time: float


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str
    duration: float  # seconds, of the whole file
    start_time: float  # seconds
    video: VideoStreamInfo | None
    audio: tuple[AudioStreamInfo, ...] = ()

    def to_dict(self) -> dict:
        def conv(obj):
            if isinstance(obj, Fraction):
                return f"{obj.numerator}/{obj.denominator}"
            if hasattr(obj, "__dataclass_fields__"):
                return {k: conv(getattr(obj, k)) for k in obj.__dataclass_fields__}
            if isinstance(obj, tuple | list):
                return [conv(x) for x in obj]
            return obj

        return conv(self)


@dataclass(frozen=True)
class AudioLayout:
    """Low-resolution normalised mel: ``values[t, band]`` in [0, 1], band 0 = lowest.

    ``columns_per_second`` is the time resolution (TiVA: 102 columns per 10.24 s ≈ 10/s).
    """

    values: np.ndarray  # float32 [T, C]
    columns_per_second: float = 10.0

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise ValueError(f"layout must be 2-D [time, bands], got shape {self.values.shape}")

    @property
    def n_columns(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_bands(self) -> int:
        return int(self.values.shape[1])

    @property
    def duration(self) -> float:
        return self.n_columns / self.columns_per_second


@dataclass(frozen=True)
class GenerationRequest:
    """Everything an engine needs for one lane. Every engine takes this and returns ``Take``s.

    Sampling fields left ``None`` mean "the pack's value" (``engine.packs.config.resolve``
    fills them from the pack's ``SamplingConfig``, the one place their defaults live).
    """

    video_path: str
    layout: AudioLayout | None = None  # None = predict from the video
    prompt: str = ""
    negative_prompt: str = ""
    guidance: float | None = None  # visual/layout CFG scale
    text_guidance: float | None = None
    layout_strength: float = 1.0  # 0..1: share of the steps that follow the layout
    layout_guidance: float | None = None  # extra CFG toward the layout (0 = off)
    layout_guidance_steps: float | None = None  # share of the steps with layout guidance
    steps: int | None = None
    scheduler: str | None = None
    guidance_rescale: float | None = None  # 0..1, CFG rescale (diffusion)
    top_k: int | None = None  # autoregressive engine
    temperature: float | None = None  # autoregressive engine
    seed: int = 0
    takes: int = 1
    engine: str = "diffusion"  # or "ar", or "library" (real recordings placed on the layout)
    region: tuple[float, float] | None = None  # seconds; generate only this range
    # (where the networks run is chosen when the pack is loaded: load_pack(..., device=))
    # Existing audio to continue from (extend a take, regenerate a range joining it): (mono, rate).
    context_audio: tuple[np.ndarray, int] | None = None
    # A recording whose sound the take should have (the library engine places it and its
    # nearest library neighbours); a path to WAV/FLAC/OGG/MP3.
    reference: str | None = None


@dataclass(frozen=True)
class Take:
    """One generated take. ``audio`` covers exactly the requested region, which starts at
    ``start`` seconds into the clip (0 for a whole-clip request): place it there."""

    audio: np.ndarray  # float32 mono [samples]
    sample_rate: int
    seed: int
    layout: AudioLayout
    engine: str
    meta: dict = field(default_factory=dict)
    start: float = 0.0

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    @property
    def end(self) -> float:
        return self.start + self.duration
