"""``v2a mux VIDEO AUDIO -o OUT [--mode replace|add|mix]``: video stream copied, new audio."""

from __future__ import annotations

import argparse
import time


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mux", help="put an audio file under a video (video stream copied bit-exact)"
    )
    p.add_argument("video", help="source video")
    p.add_argument("audio", help="new audio (wav/flac/ogg/mp3 or any file with audio)")
    p.add_argument("-o", "--output", required=True, help="output file (.mp4, .mov, .mkv, .webm)")
    p.add_argument(
        "--mode",
        choices=["replace", "add", "mix"],
        default="replace",
        help="replace the original audio, add a track beside it, or mix into it",
    )
    p.add_argument(
        "--codec", default=None, help="audio codec: aac (default), flac, pcm, opus, alac"
    )
    p.add_argument(
        "--sample-rate", type=int, default=None, help="resample the new audio to this rate"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.media import mux

    t0 = time.perf_counter()
    out = mux(
        args.video,
        args.audio,
        args.output,
        mode=args.mode,
        sample_rate=args.sample_rate,
        codec=args.codec,
    )
    print(f"wrote {out} ({args.mode}, {time.perf_counter() - t0:.2f} s)")
    return 0
