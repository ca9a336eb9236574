"""The CLI's sampling flags, grown from ``engine.packs.config.SamplingConfig``: a setting added
there gets its ``--flag`` here with no edit. Unset flags stay ``None`` (= the pack's value)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.errors import OutputError
from engine.packs.config import sampling_fields


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_sampling_flags(parser: argparse.ArgumentParser) -> None:
    for f in sampling_fields():
        m = f.metadata
        kind = type(f.default)
        default_text = f"default: the pack's; {f.default} when it names none"
        engines = "" if m["engines"] == ("diffusion",) else f" [{', '.join(m['engines'])}]"
        parser.add_argument(flag(f.name), dest=f.name, type=kind, default=None, choices=m["choices"],
                            help=f"{m['help']}{engines} ({default_text})")


def sampling_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The sampling settings the user set, range-checked (OutputError names the flag)."""
    out = {}
    for f in sampling_fields():
        v = getattr(args, f.name, None)
        if v is None:
            continue
        lo, hi = f.metadata["range"]
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise OutputError(f"{flag(f.name)} must be {lo:g}..{hi:g}, got {v}")
        out[f.name] = v
    return out
