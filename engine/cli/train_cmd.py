"""``v2a train``: train the diffusion pack's stages and export a pack (docs/DIFFUSION.md).

    v2a train --stage prep|layout|generator|joint|all --data data/ --out runs/starter [--steps N]
    v2a train --stage vocoder --data data/ --out runs/starter [--steps N]   (HiFi-GAN on data/sfx)
    v2a train --stage vae --data data/ --out runs/starter [--steps N]       (mel AutoencoderKL on data/sfx)
        (run before the generator stage: G then trains on the VAE's latent and export packs the VAE)
    v2a train --stage export --out runs/starter --pack-out resources/packs/starter

Stages run through Hugging Face accelerate (``accelerate launch -m engine.cli.main train ...``
on many GPUs); each resumes from its last checkpoint unless ``--no-resume``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.errors import OutputError

STAGE_CHOICES = ("prep", "layout", "layout_head", "onset", "generator", "joint", "vocoder", "vae", "all", "export")
DEFAULT_LR = {"layout": 5e-4, "layout_head": 5e-4, "onset": 1e-3, "generator": 4e-4, "joint": 2e-4, "vocoder": 1e-3,
              "vae": 4e-4}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train the diffusion pack (layout, generator, joint) and export it")
    p.add_argument("--stage", choices=STAGE_CHOICES, default="all")
    p.add_argument("--data", default=None, help="data root (default $V2A_DATA or ./data)")
    p.add_argument("--out", required=True, help="run folder (checkpoints, logs, prepared data)")
    p.add_argument("--steps", type=int, default=None, help="steps of the named stage")
    p.add_argument("--layout-steps", type=int, default=300)
    p.add_argument("--generator-steps", type=int, default=1000)
    p.add_argument("--joint-steps", type=int, default=200)
    p.add_argument("--layout-head-steps", type=int, default=500)
    p.add_argument("--onset-steps", type=int, default=600)
    p.add_argument("--from-pack", default=None,
                   help="start a new run folder from this pack's manifest and weights (to fine-tune a pack)")
    p.add_argument("--vocoder-steps", type=int, default=2000)
    p.add_argument("--segment", type=int, default=8000, help="vocoder: samples per training crop")
    p.add_argument("--vae-steps", type=int, default=2000)
    p.add_argument("--vae-frames", type=int, default=256, help="vae: mel frames per training window")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--augment-frames", action="store_true",
                   help="layout stages: mirror and relight the frame stream's input at random")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", choices=("starter", "tiny"), default="starter", help="network sizes")
    p.add_argument("--max-clips", type=int, default=None, help="use at most N clips per split")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1 is fastest on a shared 2-core machine; 0 = torch default)")
    p.add_argument("--ckpt-every", type=int, default=100, help="checkpoint (and refresh OUT/nets) every N steps")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--pack-out", help="export: pack folder to write")
    p.add_argument("--name", default="starter", help="export: pack name")
    p.add_argument("--fp32", action="store_true", help="export: keep fp32 weights (default fp16 on disk)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from engine.data import data_root
    from engine.train.export import export_run
    from engine.train.packio import STARTER_NETWORKS, TINY_NETWORKS
    from engine.train.run import Run, prepare_run
    from engine.train.trainers import TrainConfig, train_stage

    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    if args.from_pack and not (out / "manifest.json").is_file():
        from engine.train.run import seed_run_from_pack

        seed_run_from_pack(Path(args.from_pack), out)
    nets = STARTER_NETWORKS if args.config == "starter" else TINY_NETWORKS
    # "all" = the stages the starter pack ships; "joint" (measured worse: true-layout recall
    # 1.0 -> 0.58 on val clips, docs/DIFFUSION.md) runs only when asked for by name
    stages = {"all": ["prep", "layout", "generator", "layout_head"]}.get(args.stage, [args.stage])
    summaries = []
    for stage in stages:
        if stage == "prep":
            root = data_root(args.data)
            if not (root / "clips").is_dir():
                raise OutputError("no rendered clips (run `v2a data clips` first)", root / "clips")
            prepare_run(root, out, nets, max_clips=args.max_clips, quiet=args.quiet)
            continue
        if stage == "vocoder":
            summaries.append(_train_vocoder(args, out))
            print(json.dumps(summaries[-1]))
            continue
        if stage == "vae":
            summaries.append(_train_vae(args, out))
            print(json.dumps(summaries[-1]))
            continue
        if stage == "export":
            if not args.pack_out:
                raise OutputError("--stage export needs --pack-out DIR")
            run_ = Run(out)
            training = {}
            # the VAE's summary only when G runs on it (a mel run's pack stays as it was)
            for st in ("layout", "layout_head", "onset", "generator", "joint", "vocoder") + (("vae",) if run_.latent else ()):
                f = out / st / "summary.json"
                if f.is_file():
                    training[st] = json.loads(f.read_text())
            training["command"] = "v2a train --stage all --data data --out runs/starter; v2a train --stage export"
            p = export_run(run_, Path(args.pack_out), half=not args.fp32, name=args.name, training=training)
            print(f"wrote pack {p}")
            continue
        if not (out / "manifest.json").is_file():
            prepare_run(data_root(args.data), out, nets, max_clips=args.max_clips, quiet=args.quiet)
        run_ = Run(out)
        steps = args.steps if (args.steps is not None and args.stage == stage) else getattr(args, f"{stage}_steps")
        cfg = TrainConfig(
            out=out, steps=steps, batch=args.batch, lr=args.lr or DEFAULT_LR[stage], seed=args.seed,
            resume=not args.no_resume, quiet=args.quiet, threads=args.threads, ckpt_every=args.ckpt_every,
            augment_frames=args.augment_frames,
        )
        s = train_stage(run_, stage, cfg)
        summaries.append(s)
        print(json.dumps(s))
    return 0


def _train_vocoder(args: argparse.Namespace, out: Path) -> dict:
    """The vocoder stage: recordings of the library's train split (val split for the held-out loss)."""
    from engine.data import data_root
    from engine.models.hifigan import STARTER_CONFIG, TINY_CONFIG
    from engine.train.vocoder import VocoderTrainConfig, library_recordings, train_vocoder

    root = data_root(args.data)
    train = library_recordings(root, "train")
    val = library_recordings(root, "val")
    if args.max_clips:
        train, val = train[: args.max_clips], val[: args.max_clips]
    cfg = VocoderTrainConfig(
        out=out, steps=args.steps if args.steps is not None else args.vocoder_steps, batch=args.batch,
        lr=args.lr or DEFAULT_LR["vocoder"], seed=args.seed, segment=args.segment, ckpt_every=args.ckpt_every,
        resume=not args.no_resume, threads=args.threads, quiet=args.quiet,
    )
    return train_vocoder(cfg, STARTER_CONFIG if args.config == "starter" else TINY_CONFIG, train, val or None)


def _train_vae(args: argparse.Namespace, out: Path) -> dict:
    """The mel VAE stage (same recordings as the vocoder); the run's mel_norm when it has one."""
    from engine.data import data_root
    from engine.models.mel_vae import STARTER_VAE_CONFIG, TINY_VAE_CONFIG
    from engine.train.vae import VaeTrainConfig, train_vae
    from engine.train.vocoder import library_recordings

    root = data_root(args.data)
    train = library_recordings(root, "train")
    val = library_recordings(root, "val")
    if args.max_clips:
        train, val = train[: args.max_clips], val[: args.max_clips]
    norm = None
    if (out / "manifest.json").is_file():
        norm = json.loads((out / "manifest.json").read_text()).get("mel_norm")
    cfg = VaeTrainConfig(
        out=out, steps=args.steps if args.steps is not None else args.vae_steps, batch=args.batch,
        lr=args.lr or DEFAULT_LR["vae"], seed=args.seed, frames=args.vae_frames, ckpt_every=args.ckpt_every,
        resume=not args.no_resume, threads=args.threads, quiet=args.quiet,
    )
    return train_vae(cfg, STARTER_VAE_CONFIG if args.config == "starter" else TINY_VAE_CONFIG, train, val or None,
                     mel_norm=norm)
