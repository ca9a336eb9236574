"""Fingerprints of takes on the quality bench's first clips: proof that a refactor changed no
output (issue 23: "takes are bit-identical before/after on the quality bench's first 12 clips").

    .venv/bin/python benchmarks/take_fingerprints.py --out before.json
    .venv/bin/python benchmarks/take_fingerprints.py --compare before.json

Per clip: the diffusion engine on the predicted layout (2 takes, the pack's settings), the
diffusion engine with a prompt on the clip's true layout, the autoregressive engine with a
prompt, and the library engine with the clip's main class as prompt. Each take's samples are
hashed (sha256 of the float32 bytes) with its rate and length.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_quality import _main_class, _prompt, load_clips  # noqa: E402
from engine.audio import LayoutConfig  # noqa: E402


def _digest(takes: list) -> list[dict]:
    return [
        {"sha256": hashlib.sha256(np.ascontiguousarray(t.audio, np.float32).tobytes()).hexdigest(),
         "rate": int(t.sample_rate), "samples": int(len(t.audio)), "seed": int(t.seed)}
        for t in takes
    ]


def fingerprints(n: int, data: Path, steps: int) -> dict[str, list[dict]]:
    from engine import generation
    from engine.library import load_library
    from engine.progress import run_to_completion
    from engine.types import GenerationRequest

    pack = generation.load_pack(None)
    library = load_library(None, layout_pack=pack, exclude_splits=("test",))
    clips = load_clips(data, "test", n, LayoutConfig())
    out: dict[str, list[dict]] = {}
    for c in clips:
        prompt = _prompt(_main_class(c))
        runs = {
            "diffusion_pred": (GenerationRequest(video_path=str(c.video), takes=2, steps=steps), pack),
            "diffusion_true_prompt": (GenerationRequest(video_path=str(c.video), layout=c.true_layout, prompt=prompt,
                                                        steps=steps, seed=3), pack),
            "ar_prompt": (GenerationRequest(video_path=str(c.video), layout=c.true_layout, prompt=prompt, engine="ar",
                                            seed=1), pack),
            "library_prompt": (GenerationRequest(video_path=str(c.video), layout=c.true_layout, prompt=prompt,
                                                 engine="library", takes=2, seed=5), library),
        }
        for name, (req, p) in runs.items():
            takes = run_to_completion(generation.generate(req, p))
            out[f"{c.id}/{name}"] = _digest(takes)
        print(c.id, "done", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--compare", type=Path, default=None, help="fingerprints written before a change")
    args = ap.parse_args(argv)
    got = fingerprints(args.n, args.data, args.steps)
    if args.out:
        args.out.write_text(json.dumps(got, indent=1))
    if args.compare:
        want = json.loads(args.compare.read_text())
        diff = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        print(f"{len(got)} runs, {sum(len(v) for v in got.values())} takes; {len(diff)} differ")
        for k in diff:
            print("  differs:", k)
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
