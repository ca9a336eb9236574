"""``v2a generate VIDEO -o OUT`` and ``v2a predict-layout VIDEO -o L.npy``.

OUT's suffix chooses the output: .wav / .flac write the sound only; anything else (.mp4,
.mov, .mkv, ...) writes the video with the new soundtrack (video stream copied bit-exact).
With ``--takes K`` take k>1 goes to ``OUT-stem_take<k>.suffix``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from engine.cli.sampling_flags import add_sampling_flags, sampling_overrides
from engine.errors import MediaError, OutputError

AUDIO_SUFFIXES = (".wav", ".flac")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate",
        help="generate a soundtrack for a video (offline, CPU or GPU)",
        description="Generate sound for VIDEO and write it muxed into a copy of the video, or as WAV/FLAC.",
    )
    p.add_argument("video", metavar="VIDEO")
    p.add_argument("-o", "--output", required=True, help="output .mp4/.mov/.mkv (muxed) or .wav/.flac")
    p.add_argument("--engine", choices=("auto", "diffusion", "ar", "library"), default="auto",
                   help="auto (default): library when a --prompt or --reference says what the sound is, else "
                        "diffusion; diffusion; ar; library: real recordings from the sound library placed on the layout")
    p.add_argument("--reference", help="library engine: a recording (WAV/FLAC/OGG/MP3) whose sound to use")
    p.add_argument("--library", help="library engine: index folder (default: $V2A_LIBRARY or the user data folder)")
    p.add_argument("--pack", help="model pack name or folder (default: the starter pack)")
    p.add_argument("--prompt", default="", help="text prompt (e.g. 'footsteps on gravel')")
    p.add_argument("--negative-prompt", default="", help="what to steer away from")
    p.add_argument("--layout", help="layout .npy (from `v2a layout` / `v2a predict-layout` / the studio); any length")
    add_sampling_flags(p)  # --steps, --guidance, --text-guidance, --scheduler, ... (None = the pack's)
    p.add_argument("--layout-strength", type=float, default=1.0, help="0..1: share of the steps that follow the layout")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--takes", type=int, default=1, help="takes to generate in one batch (seeds seed..seed+K-1)")
    p.add_argument("--save-layout", help="also write the layout used (.npy + .json sidecar)")
    p.add_argument("--cache-dir", help="feature cache folder (default: the user cache)")
    p.add_argument("--device", default="auto", help="auto (CUDA when torch sees a GPU, else the CPU), cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_generate)

    q = subparsers.add_parser(
        "predict-layout",
        help="predict the audio layout of a silent video (what `v2a generate --layout` takes)",
        description="Write the layout the pack's predictor sees in VIDEO as .npy (+ .json sidecar).",
    )
    q.add_argument("video", metavar="VIDEO")
    q.add_argument("-o", "--output", required=True, help="layout .npy")
    q.add_argument("--png", help="also write a picture of the layout")
    q.add_argument("--pack", help="model pack name or folder (default: the starter pack)")
    q.add_argument("--cache-dir")
    q.add_argument("--quiet", action="store_true")
    q.add_argument("--device", default="auto", help="auto (CUDA when torch sees a GPU, else the CPU), cpu or cuda")
    q.set_defaults(func=run_predict_layout)


def take_paths(out: Path, k: int) -> list[Path]:
    return [out if i == 0 else out.with_name(f"{out.stem}_take{i + 1}{out.suffix}") for i in range(k)]


def load_any_pack(engine: str, pack: str | None, device: str = "cpu"):
    """The pack (or library index) ``engine`` runs on."""
    from engine.generation import load_pack

    return load_pack(pack, device=device, engine=engine)


def run_generate(args: argparse.Namespace) -> int:
    from engine.cli.progress_bar import run_with_bar
    from engine.safe_write import check_output_path
    from engine.types import GenerationRequest

    video = Path(args.video)
    if not video.is_file():
        raise MediaError("no such file" if not video.exists() else "is not a file", video)
    if args.engine == "auto":
        # Prompted generation defaults to real recordings: on held-out recordings and the quality
        # bench the library engine follows the prompt, the neural starter packs do not (README).
        args.engine = "library" if (args.prompt.strip() or args.reference) else "diffusion"
    from engine.media import probe

    if probe(video).video is None:  # refuse an audio-only input before loading a pack
        raise MediaError("has no video stream (an audio-only file); give a video clip", video)
    out = Path(args.output)
    from engine.media.mux import CONTAINERS
    from engine.safe_write import check_output_suffix

    check_output_suffix(out, AUDIO_SUFFIXES + CONTAINERS)  # not after minutes of sampling
    if args.takes < 1 or args.takes > 16:
        raise OutputError(f"--takes must be 1..16, got {args.takes}")
    sampling = sampling_overrides(args)  # range-checked before any work
    inputs = [video, *([args.layout] if args.layout else [])]  # --save-layout X --layout X is refused too
    outs = take_paths(out, args.takes)
    for o in outs:  # refuse bad outputs before the long work
        check_output_path(o, inputs)
    if args.save_layout:
        if Path(args.save_layout).suffix != ".npy":
            raise OutputError("--save-layout must end in .npy", args.save_layout)
        check_output_path(args.save_layout, inputs)
    layout = None
    if args.layout:
        from engine.audio import load_layout

        layout = load_layout(args.layout)
    t0 = time.perf_counter()
    if args.reference:
        _check_reference(Path(args.reference))
    pack = load_any_pack(args.engine, args.library if args.engine == "library" else args.pack, args.device)
    req = GenerationRequest(
        video_path=str(video),
        layout=layout,
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        layout_strength=args.layout_strength,
        seed=args.seed,
        takes=args.takes,
        engine=args.engine,
        reference=args.reference,
        **sampling,  # only what the user set: the engine fills the rest from the pack
    )
    # the library engine with a given layout imports no torch
    from engine.generation import generate

    takes = run_with_bar(generate(req, pack, cache_dir=args.cache_dir), quiet=args.quiet)
    if not args.quiet:
        print(f"engine: {args.engine}")
    if takes and takes[0].meta.get("notice"):
        print(f"sound: {takes[0].meta['notice']}")
    for take, o in zip(takes, outs, strict=True):
        write_take(video, take.audio, take.sample_rate, o)
        print(f"wrote {o} ({take.duration:.2f} s, {take.sample_rate / 1000:g} kHz, seed {take.seed})")
        if take.meta.get("credits"):
            credits = write_credits(o, take.meta["credits"])
            print(f"wrote {credits} ({len(take.meta['credits'])} recordings credited)")
    if args.save_layout:
        from engine.audio import save_layout

        save_layout(takes[0].layout, args.save_layout)
        print(f"wrote {args.save_layout}")
    if not args.quiet:
        print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def _check_reference(ref: Path) -> None:
    """A reference must be a decodable recording: one line, exit 2, before any work."""
    from engine.library.records import read_stretch

    if not ref.is_file():
        raise MediaError("no such file" if not ref.exists() else "is not a file", ref)
    try:
        y, sr = read_stretch(ref, 0.0, 1.0)
    except MediaError as exc:
        raise MediaError("reference is not an audio recording", ref) from exc
    if len(y) == 0:
        raise MediaError("reference is not an audio recording", ref)


def credits_path(out: Path) -> Path:
    return out.with_name(out.stem + ".credits.txt")


def write_credits(out: Path, credits: list[str]) -> Path:
    """The recordings a take used, with source, license and attribution, next to the output."""
    from engine.safe_write import atomic_output

    dest = credits_path(out)
    text = (f"Sound credits for {out.name} (V2A Studio, library engine)\n"
            "Each line: file (class/subclass) — source: original path — license — attribution\n\n"
            + "".join(c + "\n" for c in credits))
    with atomic_output(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return dest


def write_take(video: Path, audio, sr: int, out: Path) -> Path:
    if out.suffix.lower() in AUDIO_SUFFIXES:
        from engine.media import write_audio

        return write_audio(out, audio, sr)
    from engine.media import mux

    return mux(video, (audio, sr), out, mode="replace")


def run_predict_layout(args: argparse.Namespace) -> int:
    from engine.audio import save_layout, save_layout_png
    from engine.cli.progress_bar import run_with_bar
    from engine.generation import load_pack, predict_layout
    from engine.safe_write import check_output_path

    video = Path(args.video)
    if not video.is_file():
        raise MediaError("no such file" if not video.exists() else "is not a file", video)
    from engine.media import probe

    if probe(video).video is None:  # before loading a pack
        raise MediaError("has no video stream (an audio-only file); give a video clip", video)
    out = Path(args.output)
    if out.suffix != ".npy":
        raise OutputError("layout output must end in .npy", out)
    check_output_path(out, [video])
    if args.png:
        check_output_path(args.png, [video], suffixes=(".png",))
    pack = load_pack(args.pack, device=args.device)
    layout = run_with_bar(predict_layout(video, pack, cache_dir=args.cache_dir), quiet=args.quiet)
    save_layout(layout, out)
    print(f"wrote {out} ({layout.n_columns} columns x {layout.n_bands} bands, {layout.columns_per_second:g}/s)")
    if args.png:
        save_layout_png(layout, args.png)
        print(f"wrote {args.png}")
    return 0
