"""``v2a data sfx|clips|cache|stats``: the training-data pipeline (engine.data)."""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from pathlib import Path


def _root(args) -> Path:
    from engine.data import data_root

    return data_root(args.root)


def _run(job) -> object:
    from engine.cli.progress_bar import run_with_bar

    return run_with_bar(job)


def _sfx(args) -> int:
    from engine.data.library import build_library
    from engine.data.sources import fetch_packages

    root = _root(args)
    packages = args.packages.split(",") if args.packages else None
    if not args.no_fetch:
        present = fetch_packages(root, packages)
        print(f"packages: {', '.join(present)}")
    rep = _run(build_library(root, packages, licenses=args.licenses))
    print(f"kept {rep.kept} recordings in {len(rep.per_class)} classes -> {rep.manifest}")
    print("splits: " + ", ".join(f"{k} {v}" for k, v in sorted(rep.per_split.items())))
    print("classes: " + ", ".join(f"{k} {v}" for k, v in rep.per_class.most_common()))
    print("dropped: " + ", ".join(f"{k} {v}" for k, v in rep.dropped.most_common()))
    return 0


def _parse_fps(text: str | None):
    if not text:
        return None
    vals = tuple(Fraction(v) for v in text.split(","))
    return vals[0] if len(vals) == 1 else vals


def _parse_size(text: str | None):
    if not text:
        return None
    sizes = tuple(tuple(int(x) for x in s.lower().split("x")) for s in text.split(","))
    return sizes[0] if len(sizes) == 1 else sizes


def _parse_duration(text: str):
    parts = [float(x) for x in text.split("-")]
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def _clips(args) -> int:
    from engine.data.clips import ClipSpec, make_clips

    spec = ClipSpec(duration=_parse_duration(args.duration), fps=_parse_fps(args.fps), size=_parse_size(args.size))
    paths = _run(make_clips(_root(args), args.count, args.split, seed=args.seed, spec=spec, start_index=args.start))
    print(f"{len(paths)} clips in {Path(paths[0]).parent if paths else '-'}")
    return 0


def _cache(args) -> int:
    from engine.data.cache import CacheConfig, cache_clips

    rates = tuple((float(r.split(":")[0]), int(r.split(":")[1])) for r in args.rates.split(","))
    splits = tuple(args.splits.split(","))
    index = _run(cache_clips(_root(args), splits, CacheConfig(rates=rates)))
    print(f"cache index: {index}")
    return 0


def _stats(args) -> int:
    from engine.data.stats import format_stats, library_stats

    st = library_stats(_root(args))
    if args.json:
        print(json.dumps(st, indent=1))
    else:
        print(format_stats(st))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="build the training data: sound library, paired clips, feature cache")
    p.add_argument("--root", help="data root (default $V2A_DATA or ./data)")
    sub = p.add_subparsers(dest="data_command", metavar="STEP")

    s = sub.add_parser("sfx", help="fetch the Debian sound packages and build the cleaned library + manifest")
    s.add_argument("--packages", help="comma-separated package names (default: all known)")
    s.add_argument("--licenses", choices=["free", "permissive"], default="free",
                   help="free: CC0/CC-BY/CC-BY-SA/GPL; permissive: CC0/CC-BY only")
    s.add_argument("--no-fetch", action="store_true", help="use what is already unpacked under <root>/src")
    s.set_defaults(func=_sfx)

    c = sub.add_parser("clips", help="render paired audio-visual clips from the library")
    c.add_argument("--count", type=int, default=100)
    c.add_argument("--split", choices=["train", "val", "test"], default="train")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--start", type=int, default=0, help="first clip index (to extend a set)")
    c.add_argument("--duration", default="2-30", help="seconds, fixed (6) or a range (2-30)")
    c.add_argument("--fps", help="rate or comma list to draw from, e.g. 25 or 8,24000/1001,60 (default 8-60)")
    c.add_argument("--size", help="WxH or comma list, e.g. 256x256,1280x720 (default 160x120 .. 1280x720)")
    c.set_defaults(func=_clips)

    k = sub.add_parser("cache", help="decode clips once into cached features (by content hash)")
    k.add_argument("--splits", default="train,val,test")
    k.add_argument("--rates", default="10:64,25:64", help="fps:size pairs, e.g. 10:64,25:112")
    k.set_defaults(func=_cache)

    t = sub.add_parser("stats", help="classes, counts, durations and licenses per split")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=_stats)

    def _help(args) -> int:
        p.print_help()
        return 1

    p.set_defaults(func=_help)
