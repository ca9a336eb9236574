"""A pack's settings, parsed once at load into frozen dataclasses, and ``resolve``.

Every setting a pack may carry has exactly one default, here. Engines read ``PackConfig``
attributes, never the raw manifest; a request field left ``None`` means "the pack's value",
filled in by :func:`resolve` before sampling. Torch-free.

Adding a sampling parameter: a field on :class:`SamplingConfig` (its default, help text and
range: the CLI grows the flag from these), the same field on ``GenerationRequest`` (default
``None``), and the engine code that uses it — three files.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.audio.layout import LayoutConfig
from engine.audio.mel import MelConfig
from engine.errors import PackError


def _setting(default: Any, help: str, lo: float | None = None, hi: float | None = None,
             choices: tuple[str, ...] | None = None, engines: tuple[str, ...] = ("diffusion",)) -> Any:
    """A sampling setting: its default and what the CLI/studio need to offer it."""
    return field(default=default, metadata={"help": help, "range": (lo, hi), "choices": choices, "engines": engines})


SCHEDULERS = ("dpm", "dpm1", "ddim", "euler", "unipc", "ddpm")


@dataclass(frozen=True)
class SamplingConfig:
    """How a pack recommends sampling it; each field may be overridden per request."""

    steps: int = _setting(25, "sampling steps", 1, 1000)
    guidance: float = _setting(5.0, "visual guidance scale (classifier-free)", 0.0, 30.0,
                               engines=("diffusion", "ar"))
    text_guidance: float = _setting(3.0, "text (prompt) guidance scale", 0.0, 30.0)
    layout_guidance: float = _setting(1.0, "extra guidance toward the layout, 0 = off", 0.0, 20.0)
    layout_guidance_steps: float = _setting(0.5, "share of the steps that get the layout guidance", 0.0, 1.0)
    scheduler: str = _setting("dpm", "sampler", choices=SCHEDULERS)
    guidance_rescale: float = _setting(0.0, "0..1: pull the guided prediction's spread back to the conditional one's "
                                       "(Lin et al. 2024; tames over-loud, over-bright takes at high guidance), 0 = off",
                                       0.0, 1.0)
    top_k: int = _setting(128, "autoregressive engine: sample among the k likeliest tokens", 1, 4096, engines=("ar",))
    temperature: float = _setting(1.0, "autoregressive engine: sampling temperature", 0.05, 5.0, engines=("ar",))

    @classmethod
    def from_block(cls, block: Any, base: SamplingConfig | None = None, where: Path | None = None) -> SamplingConfig:
        """``block`` (a manifest's ``sampling`` dict) over ``base`` (default: the class defaults);
        unknown keys are kept out, a value of the wrong kind is a PackError naming the pack."""
        base = base or cls()
        if not isinstance(block, Mapping):
            return base
        changes = {}
        for f in fields(cls):
            if f.name in block:
                changes[f.name] = _coerce(block[f.name], type(getattr(base, f.name)), f"sampling.{f.name}", where)
        return dataclasses.replace(base, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def sampling_fields() -> tuple[dataclasses.Field, ...]:
    return fields(SamplingConfig)


def diffusion_sampling() -> dict[str, Any]:
    """The sampling block a new diffusion pack records (the settings the diffusion engine reads)."""
    s = SamplingConfig()
    return {f.name: getattr(s, f.name) for f in sampling_fields() if "diffusion" in f.metadata["engines"]}


#: The AR engine's own defaults (V-AURA samples with CFG 6.0).
AR_SAMPLING = SamplingConfig(guidance=6.0)


@dataclass(frozen=True)
class LayoutSettings:
    """The layout grid and the predictor's onset picking."""

    grid: LayoutConfig = field(default_factory=LayoutConfig)
    onset_threshold: float = 0.5
    onset_min_gap: int = 3
    onset_mode: str = ""  # "" = engine.experimental.onsets.DEFAULT_ONSET_MODE

    @property
    def columns_per_second(self) -> float:
        return self.grid.columns_per_second

    @property
    def bands(self) -> int:
        return self.grid.bands


@dataclass(frozen=True)
class FeatureConfig:
    frame_rate: float = 25.0
    semantic_stride: int = 5
    image_size: int = 64


@dataclass(frozen=True)
class VocoderConfig:
    kind: str = "griffin-lim"
    n_iter: int = 32
    momentum: float = 0.99
    file: str | None = None
    config_file: str | None = None


@dataclass(frozen=True)
class PackConfig:
    """Everything a loaded pack says, typed. ``manifest`` stays for writers and file lookups."""

    dir: Path
    name: str
    engine: str = "diffusion"
    version: str = ""
    description: str = ""
    audio: MelConfig = field(default_factory=MelConfig)
    layout: LayoutSettings = field(default_factory=LayoutSettings)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    schedule: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    networks: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    window_seconds: float = 4.0
    overlap_seconds: float = 1.0
    x0_clip: tuple[float, float] = (-1.0, 1.3)
    mel_norm: Mapping[str, float] | None = None  # None: engine.audio.layout.mel_norm()
    vocoder: VocoderConfig = field(default_factory=VocoderConfig)
    vae: Mapping[str, Any] | None = None
    ar: Mapping[str, Any] | None = None  # the "engines.ar" section of an AR pack
    manifest: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    @property
    def sample_rate(self) -> int:
        return self.audio.sample_rate


def _coerce(value: Any, kind: type, key: str, where: Path | None) -> Any:
    try:
        if kind is bool:
            return bool(value)
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind is float:
            v = float(value)
            if not math.isfinite(v):
                raise ValueError(value)
            return v
        if kind is str:
            if not isinstance(value, str):
                raise ValueError(value)
            return value
    except (TypeError, ValueError) as exc:
        raise PackError(f"pack.json: {key} must be a {kind.__name__}, got {value!r}", where) from exc
    return value


def _dataclass_from(cls: type, block: Any, prefix: str, where: Path | None, **extra: Any) -> Any:
    """``cls`` from a manifest block: known keys only, each coerced to its default's type."""
    block = block if isinstance(block, Mapping) else {}
    defaults = cls()
    values = {}
    for f in fields(cls):
        if f.name in block and f.name not in extra:
            default = getattr(defaults, f.name)
            kind = str if default is None else type(default)
            values[f.name] = _coerce(block[f.name], kind, f"{prefix}.{f.name}", where)
    return cls(**values, **extra)


def _frozen(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return tuple(_frozen(v) for v in obj)
    return obj


def thaw(obj: Any) -> Any:
    """A plain (mutable, JSON-like) deep copy of a frozen manifest block."""
    if isinstance(obj, Mapping):
        return {k: thaw(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [thaw(v) for v in obj]
    return obj


def pack_config(manifest: Mapping[str, Any], pack_dir: str | Path, engine: str | None = None) -> PackConfig:
    """Parse a manifest (already read and checked by ``read_manifest``) once. ``engine``: read
    it as that engine's pack (default: the engine it declares; an undeclared pack with only an
    ``engines.ar`` section is an AR pack)."""
    d = Path(pack_dir)
    where = d / "pack.json"
    ar = (manifest.get("engines") or {}).get("ar") if isinstance(manifest.get("engines"), Mapping) else None
    if engine is None:
        engine = str(manifest.get("engine") or ("ar" if ar is not None and "networks" not in manifest else "diffusion"))
    audio_block = manifest.get("audio") if "audio" in manifest else manifest.get("mel", {})
    lay = manifest.get("layout") if isinstance(manifest.get("layout"), Mapping) else {}
    grid = _dataclass_from(LayoutConfig, lay, "layout", where)
    layout = _dataclass_from(LayoutSettings, lay, "layout", where, grid=grid)
    if engine == "ar":
        sampling = SamplingConfig.from_block((ar or {}).get("sampling"), AR_SAMPLING, where)
    else:
        sampling = SamplingConfig.from_block(manifest.get("sampling"), None, where)
    x0 = manifest.get("x0_clip", (-1.0, 1.3))
    try:
        x0_clip = (float(x0[0]), float(x0[1]))
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise PackError(f"pack.json: x0_clip must be two numbers, got {x0!r}", where) from exc
    mel_norm = manifest.get("mel_norm") or None
    return PackConfig(
        dir=d,
        name=str(manifest.get("name", d.name)),
        engine=engine,
        version=str(manifest.get("version", "")),
        description=str(manifest.get("description", "")),
        audio=_dataclass_from(MelConfig, audio_block, "audio", where),
        layout=layout,
        features=_dataclass_from(FeatureConfig, manifest.get("features"), "features", where),
        sampling=sampling,
        schedule=_frozen(manifest.get("schedule") or {}),
        networks=_frozen(manifest.get("networks") or {}),
        window_seconds=_coerce(manifest.get("window_seconds", 4.0), float, "window_seconds", where),
        overlap_seconds=_coerce(manifest.get("overlap_seconds", 1.0), float, "overlap_seconds", where),
        x0_clip=x0_clip,
        mel_norm=None if mel_norm is None else MappingProxyType({k: float(v) for k, v in mel_norm.items()}),
        vocoder=_dataclass_from(VocoderConfig, manifest.get("vocoder"), "vocoder", where),
        vae=_frozen(manifest["vae"]) if isinstance(manifest.get("vae"), Mapping) else None,
        ar=_frozen(ar) if isinstance(ar, Mapping) else None,
        manifest=_frozen(manifest),
    )


def resolve(request: Any, sampling: SamplingConfig) -> Any:
    """``request`` with every sampling field the user left ``None`` set to the pack's value.
    The one place request defaults meet pack defaults (CLI, studio, selftest and benches pass
    only what the user set)."""
    changes = {f.name: getattr(sampling, f.name) for f in sampling_fields()
               if hasattr(request, f.name) and getattr(request, f.name) is None}
    return dataclasses.replace(request, **changes) if changes else request

