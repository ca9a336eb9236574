"""``v2a demo -o OUTDIR``: sound for the bundled sample clip(s) with the starter pack.

What ``./run.sh demo`` runs: for each video in resources/sample/ it predicts the layout,
generates a take, and writes ``<clip>_v2a.mp4`` (video stream copied, new soundtrack),
``<clip>_v2a.wav`` and the layout (``.npy`` + ``.png``) into OUTDIR, printing each path.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from engine.errors import MediaError, OutputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".mpg")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="generate sound for the bundled sample clip with the starter pack",
        description="Generate a soundtrack for resources/sample/<clip> and export mp4 + wav into OUTDIR.",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder to write into (created)")
    p.add_argument("--clip", help="a video to use instead of the bundled sample(s)")
    p.add_argument("--pack", help="model pack (default: the starter pack)")
    p.add_argument("--prompt", default="")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def sample_clips() -> list[Path]:
    from engine.paths import resource_path

    folder = resource_path("sample")
    clips = sorted(p for p in folder.glob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not clips:
        raise MediaError("no sample video found", folder)
    return clips


def run(args: argparse.Namespace) -> int:
    from engine.audio import save_layout, save_layout_png
    from engine.cli.generate_cmd import write_take
    from engine.cli.progress_bar import run_with_bar
    from engine.generation import generate, load_pack
    from engine.media import write_audio
    from engine.types import GenerationRequest

    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError("exists and is not a folder", outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    clips = [Path(args.clip)] if args.clip else sample_clips()
    t0 = time.perf_counter()
    pack = load_pack(args.pack)
    print(f"pack: {pack.name} ({pack.dir})")
    for clip in clips:
        if not clip.is_file():
            raise MediaError("no such file", clip)
        t1 = time.perf_counter()
        # settings left None are the pack's (engine.packs.config.resolve)
        req = GenerationRequest(video_path=str(clip), prompt=args.prompt, steps=args.steps, seed=args.seed)
        take = run_with_bar(generate(req, pack), quiet=args.quiet)[0]
        stem = clip.stem + "_v2a"
        mp4 = write_take(clip, take.audio, take.sample_rate, outdir / f"{stem}{clip.suffix if clip.suffix.lower() in ('.mp4', '.mov', '.mkv') else '.mp4'}")
        wav = write_audio(outdir / f"{stem}.wav", take.audio, take.sample_rate)
        lay = save_layout(take.layout, outdir / f"{stem}_layout.npy")
        png = save_layout_png(take.layout, outdir / f"{stem}_layout.png")
        for p in (mp4, wav, lay, png):
            print(f"wrote {p}")
        print(f"{clip.name}: {take.duration:.2f} s of sound in {time.perf_counter() - t1:.1f} s")
    print(f"demo done in {time.perf_counter() - t0:.1f} s")
    return 0
