"""``v2a probe FILE [--json]``: streams, rates, duration of a media file."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser("probe", help="describe a media file (streams, frame rate, duration)")
    p.add_argument("file", help="video or audio file")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def _fmt(info) -> str:
    lines = [
        f"{info.path}",
        f"  container  {info.container}, {info.duration:.3f} s, starts at {info.start_time:.3f} s",
    ]
    v = info.video
    if v is not None:
        fps = (
            f"{v.fps.numerator}/{v.fps.denominator}"
            if v.fps.denominator != 1
            else str(v.fps.numerator)
        )
        lines.append(
            f"  video #{v.index}   {v.codec} {v.width}x{v.height}"
            + (
                f" (rotated {v.rotation}°, shown {v.display_size[0]}x{v.display_size[1]})"
                if v.rotation
                else ""
            )
            + f", {fps} fps (~{float(v.fps):.3f}){', variable rate' if v.variable_rate else ''}"
            + f", {v.frame_count} frames, {v.duration:.3f} s from {v.start_time:.3f} s"
        )
    else:
        lines.append("  video      none")
    for a in info.audio:
        lines.append(
            f"  audio #{a.index}   {a.codec} {a.sample_rate} Hz, {a.channels} ch ({a.layout}), {a.duration:.3f} s"
        )
    if not info.audio:
        lines.append("  audio      none")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from engine.media import probe

    info = probe(args.file)
    print(json.dumps(info.to_dict(), indent=2) if args.json else _fmt(info))
    return 0
