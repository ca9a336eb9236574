"""Does training T on real clips with their real sound help on real clips it never saw?

    .venv/bin/python benchmarks/footage_finetune.py [--steps 300] [--folds 3]

Issue 20 item 1 asks for T "trained on real clips where a real soundtrack exists". The only
real clips whose sound follows the picture that the registries give us are the ``sync`` group
of bench_footage.py (Planet Blupi's 14 animations and pymecavideo's ball). This is a k-fold
cross-validation on them: for each fold, the starter pack's T is fine-tuned (L2 to the real
track's layout, TiVA Eq. 1, on random 4 s windows of the other folds' clips, frozen visual
features and T's motion-frame stream as in the ``layout_head`` stage) and scored on the held-out fold exactly as
bench_footage scores ``current`` (Pearson of per-column energy with the real layout, after the
still-picture gate). The shipped pack is not changed; each setting tried is one entry of
benchmarks/results/footage_finetune.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

OUT = ROOT / "benchmarks" / "results" / "footage_finetune.json"


def clip_data(path: Path, pack) -> dict:
    """Frozen features and the real track's layout at T's frame rate."""
    from engine.audio import log_mel
    from engine.diffusion.features import clip_features, still_mask
    from engine.media import read_audio
    from engine.progress import run_to_completion
    from engine.train.data import layout_target

    feats = run_to_completion(clip_features(path, pack))
    audio, _ = read_audio(path, pack.sample_rate)
    n = feats.motion.shape[0]
    mel = log_mel(audio, pack.mel_cfg)  # [frames, mels] at the mel rate
    target = layout_target(mel, pack.layout_cfg, n)
    cls_f, patch_f = feats.at_frame_rate()
    d = {"cls": cls_f, "patch": patch_f, "motion": feats.motion, "target": target,
         "still": still_mask(feats), "feats": feats}
    if feats.frames is not None and getattr(pack.net("layout"), "uses_frames", False):
        d["frames"] = feats.frames  # uint8 motion frames for T's frame stream
    return d


def predict(T, d: dict, pack) -> np.ndarray:
    """T's layout for one clip (the engine's own windowed inference), still frames silenced."""
    from engine.engines.diffusion import _run_layout_predictor

    saved = pack.net("layout")
    pack._nets["layout"] = T
    try:
        v = _run_layout_predictor(pack, d["feats"])
    finally:
        pack._nets["layout"] = saved
    v[d["still"]] = 0.0
    return v


def finetune(T0, train: list[dict], steps: int, win: int, lr: float, seed: int, head_only: bool = False):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    T = copy.deepcopy(T0).train()
    for n, p in T.named_parameters():  # frozen weights get no gradients at all
        p.requires_grad_(not head_only or n.startswith(("head.", "norm_out.")))
    params = [p for p in T.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    lengths = np.array([len(d["target"]) for d in train], np.float64)
    for _ in range(steps):
        batch = {k: [] for k in ("cls", "patch", "motion", "target", "frames") if k in train[0]}
        for _ in range(8):
            d = train[rng.choice(len(train), p=lengths / lengths.sum())]
            n = len(d["target"])
            s = int(rng.integers(0, max(1, n - win + 1)))
            for k in batch:
                a = d[k][s : s + win]
                if len(a) < win:  # a clip shorter than a window: repeat its last frame
                    a = np.concatenate([a, np.repeat(a[-1:], win - len(a), 0)])
                batch[k].append(a)
        t = {k: torch.from_numpy(np.stack(v) if k == "frames" else np.stack(v).astype(np.float32))
             for k, v in batch.items()}
        pred, _ = T(t["cls"], t["patch"], t["motion"], t.get("frames"))
        loss = F.mse_loss(pred[:, :win], t["target"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return T.eval()


def main() -> None:
    import bench_footage as B
    import torch

    from engine.generation import load_pack

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--head-only", action="store_true", help="train T's output head only (fewer weights to overfit)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    pack = load_pack()
    T0 = pack.net("layout")
    names = [n for n, (p, g) in B.CLIPS.items() if g == "sync" and p.is_file()]
    data = {n: clip_data(B.CLIPS[n][0], pack) for n in names}
    win = int(round(pack.config.window_seconds * pack.config.features.frame_rate))
    per_clip: dict[str, dict] = {}
    t0 = time.perf_counter()
    for f in range(args.folds):
        held = [n for i, n in enumerate(names) if i % args.folds == f]
        train = [data[n] for n in names if n not in held]
        T = finetune(T0, train, args.steps, win, args.lr, seed=f, head_only=args.head_only)
        with torch.no_grad():
            # how well it fits what it trained on (an overfit check)
            fit = float(np.nanmean([B.pearson(predict(T, d, pack).mean(1), d["target"].mean(1)) for d in train]))
            for n in held:
                d = data[n]
                e_real = d["target"].mean(1)
                per_clip[n] = {
                    "fold": f,
                    "before": B.pearson(predict(T0, d, pack).mean(1), e_real),
                    "after": B.pearson(predict(T, d, pack).mean(1), e_real),
                    "train_fit_after": fit,
                }
    mean = {k: float(np.nanmean([r[k] for r in per_clip.values()])) for k in ("before", "after")}
    out = {
        "what": "k-fold CV of fine-tuning the starter pack's T on real clips with synchronous sound",
        "clips": names,
        "folds": args.folds,
        "steps": args.steps,
        "lr": args.lr,
        "head_only": args.head_only,
        "batch": 8,
        "window_frames": win,
        "seconds": round(time.perf_counter() - t0, 1),
        "held_out_corr": mean,
        "per_clip": per_clip,
    }
    # one entry per setting tried (steps, lr, folds, head only): re-running a setting replaces its entry
    runs = json.loads(OUT.read_text()).get("runs", []) if OUT.is_file() else []
    key = (args.steps, args.lr, args.folds, args.head_only)
    runs = [r for r in runs if (r["steps"], r["lr"], r["folds"], r.get("head_only", False)) != key]
    OUT.write_text(json.dumps({"runs": [*runs, out]}, indent=1) + "\n")
    for n, r in per_clip.items():
        print(f"{n:12s} fold {r['fold']}  before {r['before']:+.2f}  after {r['after']:+.2f}")
    print(f"held-out mean corr: before {mean['before']:+.3f}  after {mean['after']:+.3f}")
    print("wrote", OUT.relative_to(ROOT))


if __name__ == "__main__":
    main()
