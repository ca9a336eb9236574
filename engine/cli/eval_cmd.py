"""``v2a eval --video V --audio GEN [--reference REF] [--layout L.npy] [--json]``: sync metrics."""

from __future__ import annotations

import argparse
import json
import math
import sys

from engine.errors import MediaError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score generated audio: AV-Align, AA-Align, onset acc/AP, ODF, energy, layout adherence",
        description="Compute every metric that applies (docs/METRICS.md).",
    )
    p.add_argument("--video", help="the video (AV-Align); its own soundtrack is used when --audio is absent")
    p.add_argument("--audio", help="generated audio (any audio file or video with sound)")
    p.add_argument("--reference", help="reference audio for AA-Align, onset acc/AP, ODF and energy metrics")
    p.add_argument("--layout", help="target layout .npy for layout adherence")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def run(args: argparse.Namespace) -> int:
    from engine.audio import load_layout
    from engine.cli.progress_bar import run_with_bar
    from engine.media import read_audio
    from engine.metrics import evaluate_job

    gen_path = args.audio or args.video
    if gen_path is None:
        raise MediaError("give --audio (and/or --video whose soundtrack to score)")
    layout = load_layout(args.layout) if args.layout else None
    audio, sr = read_audio(gen_path, mono=True)
    if audio.size == 0:
        raise MediaError("audio track is empty (zero length)", gen_path)
    reference = None
    if args.reference:
        ref, ref_sr = read_audio(args.reference, mono=True)
        if ref.size == 0:
            raise MediaError("audio track is empty (zero length)", args.reference)
        reference = (ref, ref_sr)
    result = run_with_bar(evaluate_job(args.video, audio, sr, reference=reference, layout=layout))
    result = {k: _clean(v) for k, v in result.items()}
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
    else:
        width = max(len(k) for k in result)
        for k, v in result.items():
            shown = "n/a" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))
            print(f"{k:<{width}}  {shown}")
    if not (args.video or args.reference or args.layout):
        print("v2a eval: nothing to compare against: give --video, --reference or --layout", file=sys.stderr)
    return 0
