"""``v2a`` entry point: one sub-command per module in this package.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a callable ``(args) -> int``. Expected failures (``V2AError``) print one line
naming the file and the problem and exit 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import warnings

from engine.errors import Cancelled, MediaWarning, V2AError

# Order is the order shown in --help.
COMMAND_MODULES = [
    "probe_cmd",
    "layout_cmd",
    "mux_cmd",
    "eval_cmd",
    "data_cmd",
    "generate_cmd",
    "train_cmd",
    "pack_cmd",
    "library_cmd",
    "demo_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="v2a", description="V2A Studio command line")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        modname = f"engine.cli.{name}"
        if importlib.util.find_spec(modname) is None:
            continue
        importlib.import_module(modname).register(sub)
    return parser


def _one_line_warnings(show):
    """``warnings.showwarning`` that prints engine warnings (damaged media decoded in part) as
    one line, like errors, and hands every other warning to ``show``."""

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, MediaWarning):
            print(f"v2a: warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return show_warning


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(warnings.showwarning)
            return int(args.func(args) or 0)
    except Cancelled:
        print("v2a: cancelled", file=sys.stderr)
        return 130
    except V2AError as exc:
        if args.debug:
            raise
        print(f"v2a: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("v2a: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
