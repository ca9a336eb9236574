"""``v2a library build|add|search|list``: the index of real recordings the library engine uses."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "library",
        help="index and search real recordings (the library engine's sounds)",
        description="The sound library index (default folder: $V2A_LIBRARY or <user data>/library).",
    )
    p.add_argument("--index", help="index folder (default: $V2A_LIBRARY or the user data folder)")
    sub = p.add_subparsers(dest="library_cmd", metavar="ACTION")
    b = sub.add_parser("build", help="index the Foley library built by `v2a data sfx` (keeps added folders)")
    b.add_argument("--root", help="data root of `v2a data sfx` (default: $V2A_DATA or ./data)")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=_build)
    a = sub.add_parser("add", help="index a folder of your own WAV/FLAC/OGG/MP3 in place (never copied)")
    a.add_argument("folder")
    a.add_argument("--quiet", action="store_true")
    a.set_defaults(func=_add)
    s = sub.add_parser("search", help="recordings for a prompt, best first")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=10, help="how many (default 10)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_search)
    e = sub.add_parser("export", help="write a portable library (audio included) of N recordings per class")
    e.add_argument("output", help="folder to write (index.json, embeddings, sounds/, CREDITS.md)")
    e.add_argument("--per-class", type=int, default=6)
    e.add_argument("--splits", default="train,val", help="Foley library splits to take from ('' = all)")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=_export)
    ls = sub.add_parser("list", help="what the index holds (classes, sources, licenses)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def _dir(args) -> Path:
    """Where build/add write: --index, else $V2A_LIBRARY or the user data folder."""
    from engine.library import default_library_dir

    return Path(args.index) if args.index else default_library_dir()


def _read_dir(args) -> Path | None:
    """Where search/list read: --index, else the user's index or the starter library."""
    return Path(args.index) if args.index else None


def _export(args) -> int:
    from engine.cli.progress_bar import run_with_bar
    from engine.library import load_index
    from engine.library.index import export_portable, summary

    splits = tuple(s for s in args.splits.split(",") if s)
    idx = run_with_bar(export_portable(load_index(_read_dir(args)), args.output, args.per_class, splits), quiet=args.quiet)
    s = summary(idx)
    print(f"wrote {s['recordings']} recordings ({s['minutes']} min) in {len(s['classes'])} classes -> {args.output}")
    return 0


def _build(args) -> int:
    from engine.cli.progress_bar import run_with_bar
    from engine.data import data_root
    from engine.library.index import build_index, summary

    idx = run_with_bar(build_index(data_root(args.root), _dir(args)), quiet=args.quiet)
    s = summary(idx)
    print(f"indexed {s['recordings']} recordings ({s['minutes']} min) in {len(s['classes'])} classes -> {idx.root}")
    return 0


def _add(args) -> int:
    from engine.cli.progress_bar import run_with_bar
    from engine.library.index import (
        INDEX_FILE,
        Skipped,
        add_folder,
        load_index,
        starter_library_dir,
    )

    d = _dir(args)
    # A first `add` starts from the starter library, so its sounds stay available.
    index = load_index(d) if (d / INDEX_FILE).is_file() else load_index(starter_library_dir())
    d.mkdir(parents=True, exist_ok=True)
    skipped: list[Skipped] = []
    folder = Path(args.folder)
    before = len(index) if index is not None else 0
    new = run_with_bar(add_folder(index, folder, skipped=skipped, save=False), quiet=args.quiet)
    new.save(d)
    n_new = sum(1 for r in new.records if r.user and Path(r.path).is_relative_to(folder.resolve()))
    print(f"indexed {n_new} recordings from {folder} (index: {before} -> {len(new)}) -> {d}")
    for s in skipped:
        print(f"skipped {s.path}: {s.reason}")
    return 0


def _search(args) -> int:
    from engine.library import load_index
    from engine.library.search import choose_class, search

    idx = load_index(_read_dir(args))
    choice = choose_class(idx, args.query)  # one line listing the classes when nothing fits
    hits = search(idx, args.query, k=args.k)
    rows = [
        {"rank": i + 1, "score": round(h.score, 3), "id": idx.records[h.index].id, "class": h.cls,
         "subclass": idx.records[h.index].subclass, "duration": idx.records[h.index].duration,
         "sample_rate": idx.records[h.index].sample_rate, "source": idx.records[h.index].source,
         "license": idx.records[h.index].license, "path": idx.records[h.index].path,
         "start": idx.records[h.index].start}
        for i, h in enumerate(hits)
    ]
    if args.json:
        print(json.dumps({"query": args.query, "class": choice.cls, "hits": rows}, indent=1))
        return 0
    print(f"class: {choice.cls} ({choice.how})")
    for r in rows:
        print(f"{r['rank']:>3} {r['score']:.2f}  {r['class']}/{r['subclass']:<18} {r['duration']:5.2f} s "
              f"{r['sample_rate'] / 1000:g} kHz  {r['source']:<24} {r['license']:<16} {r['id']}")
    return 0


def _list(args) -> int:
    from engine.library import load_index
    from engine.library.index import summary

    s = summary(load_index(_read_dir(args)))
    if args.json:
        print(json.dumps(s, indent=1))
        return 0
    print(f"{s['recordings']} recordings, {s['minutes']} min")
    print("classes: " + ", ".join(f"{k} {v}" for k, v in s["classes"].items()))
    print("sources: " + ", ".join(f"{k} {v}" for k, v in s["sources"].items()))
    print("licenses: " + ", ".join(f"{k} {v}" for k, v in s["licenses"].items()))
    for f in s["folders"]:
        print(f"folder: {f}")
    return 0
