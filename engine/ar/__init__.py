"""Autoregressive engine (V-AURA style): RVQ mel-codec tokens from a Llama-style decoder with
the visual features and the audio layout fused channel-wise. See docs/AR.md.

Entry points (``engine.engines.autoregressive`` wraps these as the "ar" Engine):

- ``can_load(pack_dir) -> bool``: the pack has an ``engines.ar`` section.
- ``load_pack(name_or_path=None) -> ARPack`` (default ``starter-ar``; verified, models built).
- ``generate(request, pack, cancel, layout_predictor) -> Job[list[Take]]``; ``pack`` may be an
  ``ARPack``, a name/path, or another engine's pack (the AR models then come from
  ``starter-ar``); ``layout_predictor`` fills a missing layout.

Importing this package is torch-free; torch loads inside ``generate``.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import cached_property
from pathlib import Path
from typing import Any

from engine.progress import CancelToken, Progress
from engine.types import GenerationRequest, Take

AR_PACK = "starter-ar"


def can_load(pack_dir: str | Path) -> bool:
    from engine.ar.pack import ar_section

    try:
        return ar_section(pack_dir) is not None
    except Exception:
        return False


class ARPack:
    """A loaded AR pack: folder, manifest, ``sampling`` defaults, and the models (lazy)."""

    def __init__(self, pack_dir: str | Path) -> None:
        from engine.ar.pack import ar_section
        from engine.packs import read_manifest

        self.dir = Path(pack_dir)
        self.manifest = read_manifest(self.dir)
        self.name = str(self.manifest.get("name", self.dir.name))
        self.section = ar_section(self.dir) or {}
        self.engine = "ar"

    @cached_property
    def config(self) -> Any:
        """The manifest parsed once (engine.packs.config)."""
        from engine.packs.config import pack_config

        return pack_config(self.manifest, self.dir, engine="ar")

    @property
    def sampling(self) -> dict[str, Any]:
        return self.config.sampling.to_dict()

    @property
    def sample_rate(self) -> int:
        return int(self.manifest.get("sample_rate", 16000))

    @property
    def device(self) -> str:
        return "cpu"  # the AR engine runs on the CPU only

    def models(self) -> Any:
        from engine.ar.run import load_models

        return load_models(self.dir)[0]


def load_pack(name_or_path: str | Path | None = None) -> ARPack:
    """Find an AR pack (default ``starter-ar``), verify it and build its models."""
    from engine.errors import PackError
    from engine.packs import find_pack, verify_pack

    d = find_pack(AR_PACK if name_or_path is None else name_or_path)
    if not can_load(d):
        raise PackError("this pack has no autoregressive ('ar') engine", d / "pack.json")
    verify_pack(d)
    pack = ARPack(d)
    pack.models()  # load now: shapes and checksums are checked before any work starts
    return pack


def resolve_pack_dir(pack: Any) -> Path:
    """The AR pack folder for ``pack``: a path/name, or a loaded pack object with a folder
    attribute; a pack without an AR engine falls back to the installed ``starter-ar``."""
    from engine.packs import find_pack

    cand: Path | None = None
    if pack is None:
        cand = None
    elif isinstance(pack, str | Path):
        cand = find_pack(pack)
    else:
        for attr in ("path", "dir", "root", "pack_dir"):
            v = getattr(pack, attr, None)
            if isinstance(v, str | Path):
                cand = Path(v)
                break
    if cand is not None and can_load(cand):
        return cand
    return find_pack(AR_PACK)


def generate(
    request: GenerationRequest, pack: Any = None, cancel: CancelToken | None = None, layout_predictor: Any = None
) -> Generator[Progress, None, list[Take]]:
    from engine.ar.run import generate_job

    return (yield from generate_job(request, pack, cancel, layout_predictor))


__all__ = ["AR_PACK", "ARPack", "can_load", "generate", "load_pack", "resolve_pack_dir"]
