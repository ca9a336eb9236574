"""``v2a layout FILE -o layout.npy [--png layout.png]``: the audio layout of a sound or a video's soundtrack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.errors import MediaError, OutputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "layout",
        help="compute the audio layout (low-resolution mel) of an audio file or a video's audio",
        description="Write the TiVA audio layout [columns, bands] of FILE as .npy (+ .json sidecar).",
    )
    p.add_argument("file", metavar="FILE", help="audio file, or a video with an audio track")
    p.add_argument("-o", "--output", required=True, help="layout .npy to write")
    p.add_argument("--png", help="also write a picture of the layout")
    p.add_argument("--columns-per-second", type=float, default=10.0, help="time resolution (default 10)")
    p.add_argument("--bands", type=int, default=5, help="frequency bands (default 5)")
    p.add_argument("--stream", type=int, default=0, help="audio stream index (default 0)")
    p.set_defaults(func=run)


def load_audio_16k(path: str | Path, stream: int = 0):
    """Mono float32 at 16 kHz through engine.media; MediaError names the file on failure."""
    from engine.media import read_audio

    audio, sr = read_audio(path, sample_rate=16000, mono=True, stream=stream)
    if audio.size == 0:
        raise MediaError("audio track is empty (zero length)", path)
    return audio, sr


def run(args: argparse.Namespace) -> int:
    from engine.audio import (
        LayoutConfig,
        MelConfig,
        layout_from_audio,
        save_layout,
        save_layout_png,
    )
    from engine.safe_write import check_output_path

    if args.columns_per_second <= 0 or args.columns_per_second > 100:
        raise OutputError(f"--columns-per-second must be in (0, 100], got {args.columns_per_second}")
    if not 1 <= args.bands <= 64:
        raise OutputError(f"--bands must be between 1 and 64, got {args.bands}")
    out = Path(args.output)
    if out.suffix != ".npy":
        raise OutputError("layout output must end in .npy", out)
    # Refuse bad outputs (suffix, input, read-only folder) before the (possibly long) decode.
    check_output_path(out, [args.file])
    if args.png:
        check_output_path(args.png, [args.file], suffixes=(".png",))
    audio, sr = load_audio_16k(args.file, args.stream)
    layout = layout_from_audio(
        audio, sr, MelConfig(), LayoutConfig(columns_per_second=args.columns_per_second, bands=args.bands)
    )
    save_layout(layout, out)
    if args.png:
        save_layout_png(layout, args.png)
    print(
        f"{out}: layout [{layout.n_columns}, {layout.n_bands}] at {layout.columns_per_second:.4g} columns/s "
        f"({layout.duration:.2f} s)",
        file=sys.stderr,
    )
    return 0
