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
    """Everything a sampler needs for one lane. Both engines take this and return ``Take``s."""

    video_path: str
    layout: AudioLayout | None = None  # None = predict from the video
    prompt: str = ""
    negative_prompt: str = ""
    guidance: float = 5.0  # visual/layout CFG scale
    text_guidance: float = 3.0
    layout_strength: float = 1.0
    layout_guidance: float | None = None  # extra CFG toward the layout (0 = off); None = the pack's (1.0)
    steps: int = 25
    seed: int = 0
    takes: int = 1
    engine: str = "diffusion"  # or "ar", or "library" (real recordings placed on the layout)
    region: tuple[float, float] | None = None  # seconds; regenerate only this range
    device: str = "auto"
    scheduler: str = "dpm"
    # Existing audio to continue from (extend a take, regenerate after a point): (mono, rate).
    context_audio: tuple[np.ndarray, int] | None = None
    # A recording whose sound the take should have (the library engine places it and its
    # nearest library neighbours); a path to WAV/FLAC/OGG/MP3.
    reference: str | None = None


@dataclass(frozen=True)
class Take:
    audio: np.ndarray  # float32 mono [samples]
    sample_rate: int
    seed: int
    layout: AudioLayout
    engine: str
    meta: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate
