"""Speed and memory of the diffusion engine on a GPU: the 10 s clip of bench_speed.py, per
stage, with batches of takes, for the starter pack and for a network set at full pack size.

    python benchmarks/bench_gpu.py [--device cuda] [--out benchmarks/results/speed_gpu.json]

Rows:
- ``starter``: the shipped starter pack (its trained weights), as ``v2a generate --device cuda``
  runs it. Also checked: the same seed gives the same take on the CPU and the GPU.
- ``full_size``: the networks a full pack would carry, with random weights (timing only, no
  sound worth hearing): an open_clip ViT-B/16 at 224 px (layers 4/8/11 as in TiVA), a wider T,
  G over AudioLDM's VAE latent (8 x T/4 x 16) with U-Net channels 320/640/1280/1280, AudioLDM's
  VAE decoder and its HiFi-GAN vocoder (SpeechT5HifiGan, 1024 channels). One 10.24 s window.
- ``end_to_end``: fresh processes running ``v2a generate CLIP -o OUT.mp4 --device cuda``
  (imports, CUDA start-up, pack load, decode, generation, mux).

Stage times come from the job's own Progress events, with the device synchronised at each
event, so work queued on the GPU is charged to the stage that queued it. Nothing here runs in
the tests; the figures go to the JSON and the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_speed import make_clip  # noqa: E402

#: Networks at full pack size (see the module docstring); the VAE and vocoder are AudioLDM's.
FULL_NETWORKS: dict[str, dict[str, Any]] = {
    "visual": {"image_size": 224, "patch_size": 16, "width": 768, "layers": 12, "heads": 12, "mlp_ratio": 4.0,
               "feature_layers": [4, 8, 11], "patch_grid": 2, "motion_grid": 4},
    "layout": {"dim": 512, "heads": 8, "encoder_layers": 4, "decoder_layers": 4, "window": 5, "max_frames": 256,
               "bands": 5, "n_classes": 36, "frame_rate": 25.0, "frame_stream": 128, "frame_size": 64},
    "cond": {"text_dim": 384},
    "unet": {"channels": [320, 640, 1280, 1280], "layers_per_level": 2, "cross_attn_levels": [False, True, True, True],
             "token_dim": 768, "heads": 8, "time_embed_dim": 1280, "groups": 32, "kernel_size": 3},
}
FULL_WINDOW_S = 10.24


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timed_job(job, device: str) -> tuple[Any, dict[str, float]]:
    """Run a Job, charging wall time to the stage named by each Progress event."""
    stages: dict[str, float] = {}
    cur, t = None, time.perf_counter()
    try:
        while True:
            ev = next(job)
            _sync(device)
            now = time.perf_counter()
            if cur is not None:
                stages[cur] = stages.get(cur, 0.0) + now - t
            cur, t = ev.stage, now
    except StopIteration as stop:
        _sync(device)
        if cur is not None:
            stages[cur] = stages.get(cur, 0.0) + time.perf_counter() - t
        return stop.value, stages


def full_size_pack(device: str):
    """A Pack object at full size with random weights (timing only), built like a latent pack."""
    import torch

    from engine.engines.diffusion import Pack
    from engine.models import build_networks, consistent_configs, param_count
    from engine.models.hifigan import AUDIOLDM_CONFIG, HifiGanVocoder, build_hifigan
    from engine.models.mel_vae import (
        AUDIOLDM_VAE_CONFIG,
        MelVAE,
        build_vae,
        latent_unet_config,
        pack_vae_entry,
    )
    from engine.packs import find_pack, read_manifest

    base = read_manifest(find_pack(None))
    n_mels = int(base["audio"]["n_mels"])
    mel_rate = base["audio"]["sample_rate"] / base["audio"]["hop_length"]
    cfgs = consistent_configs(FULL_NETWORKS)
    cfgs["unet"] = latent_unet_config(cfgs["unet"], AUDIOLDM_VAE_CONFIG, n_mels, mel_rate, int(FULL_WINDOW_S * mel_rate))
    torch.manual_seed(0)
    nets = build_networks(cfgs)
    for n in nets.values():
        n.eval()
    vae = MelVAE(build_vae(AUDIOLDM_VAE_CONFIG).eval(), base["mel_norm"])
    manifest = {**base, "name": "full-size (random weights)", "networks": cfgs,
                "features": {"frame_rate": 25.0, "semantic_stride": 5, "image_size": 224},
                "window_seconds": FULL_WINDOW_S, "overlap_seconds": 1.0,
                "vae": pack_vae_entry(AUDIOLDM_VAE_CONFIG, n_mels), "vocoder": {"kind": "hifigan"}, "files": {}}
    pack = Pack(ROOT / "full-size", manifest, nets, vae).to(device)
    voc = HifiGanVocoder(build_hifigan(AUDIOLDM_CONFIG), pack.mel_cfg, device, max_batch=8)
    pack.vocoder = voc  # vocoder_for() returns the pack's built vocoder
    params = {k: param_count(v) for k, v in nets.items()}
    params["vae"] = param_count(vae.model)
    params["vocoder"] = param_count(voc.model)
    return pack, params


def gpu_mem_mb(device: str) -> float:
    if not device.startswith("cuda"):
        return float("nan")
    import torch

    return torch.cuda.max_memory_allocated() / 2**20


def reset_mem(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()


def run_pack(pack, clip: Path, cache: Path, device: str, takes_list: list[int], steps: int) -> dict[str, Any]:
    """Cold generate (features computed), warm generate, then K takes in one batch."""
    from engine.cli.generate_cmd import write_take
    from engine.generation import generate
    from engine.types import GenerationRequest

    out: dict[str, Any] = {}
    req = GenerationRequest(video_path=str(clip), steps=steps)
    reset_mem(device)
    takes, st = timed_job(generate(req, pack, cache_dir=cache), device)
    out["first_generate_stages_s"] = {k: round(v, 3) for k, v in st.items()}
    a = time.perf_counter()
    write_take(clip, takes[0].audio, takes[0].sample_rate, cache / "out.mp4")
    mux = time.perf_counter() - a
    takes, st = timed_job(generate(req, pack, cache_dir=cache), device)
    st = {k: round(v, 3) for k, v in st.items()}
    st["mux"] = round(mux, 3)
    out["warm_stages_s"] = st
    out["warm_total_s"] = round(sum(st.values()), 3)
    rows = []
    for k in takes_list:
        reset_mem(device)
        req_k = GenerationRequest(video_path=str(clip), steps=steps, takes=k)
        a = time.perf_counter()
        takes, st = timed_job(generate(req_k, pack, cache_dir=cache), device)
        total = time.perf_counter() - a
        rows.append({"takes": k, "seconds": round(total, 3), "per_take_s": round(total / k, 4),
                     "sampling_s": round(st.get("sampling", 0.0), 3),
                     "peak_gpu_mb": round(gpu_mem_mb(device), 1)})
        print(f"  takes {k:>3}: {total:7.3f} s  ({total / k:.4f} s per take)", flush=True)
    out["takes"] = rows
    return out


def cpu_gpu_agreement(clip: Path, cache: Path, device: str) -> dict[str, float]:
    """The same seed on the CPU and on ``device``: waveform correlation and log-mel difference."""
    from engine.audio.mel import MelConfig, log_mel
    from engine.generation import generate, load_pack
    from engine.progress import run_to_completion
    from engine.types import GenerationRequest

    req = GenerationRequest(video_path=str(clip), seed=3)
    a = run_to_completion(generate(req, load_pack(None, device="cpu"), cache_dir=cache))[0].audio
    b = run_to_completion(generate(req, load_pack(None, device=device), cache_dir=cache))[0].audio
    cfg = MelConfig()
    ma, mb = log_mel(a, cfg), log_mel(b, cfg)
    return {"waveform_corr": round(float(np.corrcoef(a, b)[0, 1]), 5),
            "log_mel_mean_abs_diff": round(float(np.mean(np.abs(ma - mb))), 5),
            "log_mel_range": round(float(ma.max() - ma.min()), 3)}


def end_to_end(clip: Path, td: Path, device: str, takes: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "engine.cli.main", "generate", str(clip), "-o", str(td / f"e2e{takes}.mp4"),
           "--device", device, "--takes", str(takes), "--quiet", "--cache-dir", str(td / f"e2e_cache{takes}")]
    a = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])))
    wall = time.perf_counter() - a
    if r.returncode != 0:
        raise RuntimeError(f"v2a generate failed ({r.returncode}): {r.stderr[-2000:]}")
    return {"command": "v2a generate CLIP -o OUT.mp4 --device " + device + f" --takes {takes}",
            "wall_s": round(wall, 3)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--takes", default="1,4,8,16")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--skip-full", action="store_true", help="only the starter pack")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "speed_gpu.json"))
    args = ap.parse_args()
    import torch

    dev = args.device
    takes_list = [int(x) for x in args.takes.split(",")]
    result: dict[str, Any] = {
        "clip": {"seconds": args.seconds, "video": "1280x720 H.264 25 fps (synthetic)"},
        "settings": {"steps": args.steps, "guidance": 5.0, "scheduler": "dpm", "precision": "fp32 (torch defaults)"},
        "machine": {"device": torch.cuda.get_device_name(0) if dev.startswith("cuda") else platform.machine(),
                    "torch": torch.__version__, "cuda": torch.version.cuda, "cpu_cores": os.cpu_count(),
                    "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        clip = make_clip(td / "clip.mp4", args.seconds)
        from engine.generation import load_pack

        _sync(dev)
        a = time.perf_counter()
        pack = load_pack(None, device=dev)
        _sync(dev)
        print("starter pack", flush=True)
        row = {"load_pack_s": round(time.perf_counter() - a, 3)}
        row.update(run_pack(pack, clip, td / "cache_starter", dev, takes_list, args.steps))
        row["peak_gpu_mb"] = round(gpu_mem_mb(dev), 1)
        if dev != "cpu":
            row["cpu_gpu_same_seed"] = cpu_gpu_agreement(clip, td / "cache_agree", dev)
            print("  cpu vs gpu:", row["cpu_gpu_same_seed"], flush=True)
        result["starter"] = row
        del pack
        if not args.skip_full:
            print("full size (random weights)", flush=True)
            a = time.perf_counter()
            pack, params = full_size_pack(dev)
            row = {"build_s": round(time.perf_counter() - a, 3), "param_counts": params,
                   "total_params_m": round(sum(params.values()) / 1e6, 1)}
            row.update(run_pack(pack, clip, td / "cache_full", dev, takes_list, args.steps))
            if dev.startswith("cuda"):  # the same with TF32 matrix products (torch's "high" precision)
                torch.backends.cuda.matmul.allow_tf32 = True
                row["tf32"] = run_pack(pack, clip, td / "cache_full", dev, takes_list[-1:], args.steps)["takes"]
                torch.backends.cuda.matmul.allow_tf32 = False
            result["full_size"] = row
            del pack
        print("end to end", flush=True)
        result["end_to_end"] = [end_to_end(clip, td, dev, k) for k in (1, takes_list[-1])]
    for k in ("starter", "full_size"):
        if k in result:
            print(k, json.dumps({kk: result[k][kk] for kk in ("warm_stages_s", "warm_total_s")}))
    print("end to end", result["end_to_end"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
