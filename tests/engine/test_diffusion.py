"""Sampling: windows + blending (no seam, exact length), CFG branches, layout strength,
seeds/takes, schedulers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.diffusion.sampler import SampleSpec, sample, window_tokens
from engine.diffusion.schedulers import SAMPLERS, training_scheduler
from engine.diffusion.windows import blend_weights, plan_windows
from engine.models import build_networks
from engine.progress import CancelToken, run_to_completion
from engine.train.packio import TINY_NETWORKS


@pytest.mark.parametrize("total", [1, 7, 64, 65, 200, 399, 1234, 12000])
def test_windows_cover_exactly_and_weights_sum_to_one(total):
    starts, win = plan_windows(total, 100, 25, multiple=4)
    assert win % 4 == 0
    assert starts[0] == 0
    assert max(s + win for s in starts) == max(total, win)
    cover = max(total, win)
    w = blend_weights(starts, win, cover, 25 if len(starts) > 1 else 0)
    acc = np.zeros(cover)
    for s, wi in zip(starts, w, strict=True):
        acc[s : s + win] += wi
    assert np.allclose(acc, 1.0, atol=1e-5)
    if len(starts) > 1:
        assert all(b - a <= win - 25 for a, b in zip(starts, starts[1:], strict=False))


class LayoutEcho(torch.nn.Module):
    """A 'perfect' x0 model: predicts the layout's first band on every mel channel (+ records
    what it was given)."""

    def __init__(self) -> None:
        super().__init__()
        self.config = {"in_channels": 8, "cond_channels": 6, "frame_rate": 100.0}
        self.length_multiple = 4
        self.flags: list[float] = []
        self.batches: list[int] = []

    def forward(self, x, t, layout, tokens, pos, mask=None):
        self.flags.append(float(layout[:, -1].mean()))
        self.batches.append(x.shape[0])
        sem = tokens[:, :1, :1].mean()  # makes the branches differ
        return layout[:, :1].expand(-1, x.shape[1], -1) + 0 * sem


class NullCond(torch.nn.Module):
    def tokens(self, cls, times, text, drop_semantic=None, drop_text=None):
        b = cls.shape[0]
        sem = cls[..., :4].clone()
        if drop_semantic is not None:
            sem[drop_semantic] = 0
        tt = torch.zeros(b, 1, 4) if text is None else text[:, None, :4]
        return torch.cat([sem, tt], 1), torch.cat([times, torch.full((b, 1), float("nan"))], 1)


def _run(model, n_frames, layout, takes=(0,), **kw):
    spec = SampleSpec(n_frames=n_frames, frame_rate=100.0, window=200, overlap=50, steps=kw.pop("steps", 6),
                      x0_clip=(-5, 5), **kw)
    sem = torch.randn(int(n_frames / 100 * 5) + 2, 8)
    return run_to_completion(sample(model, NullCond(), spec, {}, layout, sem, 5.0, list(takes)))


def test_long_clip_blending_has_no_seam_and_exact_length():
    n = 1234  # 12.34 s with 2 s windows
    ramp = np.linspace(0, 1, n, dtype=np.float32)
    layout = np.stack([ramp] * 5, 1)
    out = _run(LayoutEcho(), n, layout)
    assert out.shape == (1, 8, n)
    # the model's x0 is the ramp everywhere, so the sample must end exactly on it
    assert torch.allclose(out[0, 0], torch.from_numpy(ramp), atol=1e-3)
    d = torch.diff(out[0, 0])
    assert float(d.max()) < 3 / n  # no jump anywhere (a seam would show here)


def test_layout_strength_controls_steps_with_layout():
    layout = np.ones((300, 5), np.float32)
    m = LayoutEcho()
    _run(m, 300, layout, steps=8, layout_strength=0.5)
    assert m.flags[:4] == [1.0] * 4 and m.flags[4:] == [0.0] * 4
    m2 = LayoutEcho()
    _run(m2, 300, None, steps=4)
    assert m2.flags == [0.0] * 4


def test_layout_guidance_pushes_toward_the_layout_while_it_is_applied():
    n = 300
    n_win = len(plan_windows(n, 200, 50, 4)[0])
    layout = np.full((n, 5), 0.5, np.float32)
    plain = _run(LayoutEcho(), n, layout, steps=5, layout_guidance=0.0)
    pushed = _run(LayoutEcho(), n, layout, steps=5, layout_guidance=1.0, layout_guidance_steps=1.0)
    # c_v = layout, c_v without layout = 0: x0 = 0.5 + 1.0 * (0.5 - 0)
    assert torch.allclose(plain, torch.full_like(plain, 0.5), atol=0.05)
    assert torch.allclose(pushed, torch.full_like(pushed, 1.0), atol=0.05)
    # one more branch (layout dropped) on the first share of the steps, none after them ...
    m = LayoutEcho()
    _run(m, n, layout, steps=8, layout_guidance=1.0, layout_guidance_steps=0.25)
    assert m.batches[:2] == [3 * n_win] * 2 and m.batches[2:] == [2 * n_win] * 6
    # ... and never after the layout itself stops (layout strength)
    m = LayoutEcho()
    _run(m, n, layout, steps=6, layout_guidance=1.0, layout_guidance_steps=1.0, layout_strength=0.5)
    assert m.batches[:3] == [3 * n_win] * 3 and m.batches[3:] == [2 * n_win] * 3
    assert m.flags[0] < 1.0  # that branch's rows carry no layout
    m2 = LayoutEcho()
    _run(m2, n, None, steps=3, layout_guidance=1.0)
    assert m2.batches == [2 * n_win] * 3  # no layout: nothing to guide toward


def test_takes_batch_and_text_branch():
    m = LayoutEcho()
    n = 500
    out = _run(m, n, np.zeros((n, 5), np.float32), takes=(3, 4, 5), steps=2)
    assert out.shape == (3, 8, n)
    n_win = len(plan_windows(n, 200, 50, 4)[0])
    assert m.batches[0] == 3 * 2 * n_win  # takes x (uncond, cond) x windows
    m2 = LayoutEcho()
    spec = SampleSpec(n_frames=n, frame_rate=100.0, window=200, overlap=50, steps=2)
    run_to_completion(sample(m2, NullCond(), spec, {}, None, torch.randn(30, 8), 5.0, [0], text=torch.ones(8)))
    assert m2.batches[0] == 3 * n_win  # + the text branch


def test_seeds_reproducible_per_take():
    torch.manual_seed(0)
    nets = build_networks(TINY_NETWORKS)
    spec = SampleSpec(n_frames=150, frame_rate=100.0, window=100, overlap=20, steps=3)
    sem = torch.randn(10, nets["cond"].config["cls_dim"])
    lay = np.random.default_rng(0).random((150, 5)).astype(np.float32)
    both = run_to_completion(sample(nets["unet"], nets["cond"], spec, {}, lay, sem, 5.0, [7, 8]))
    alone = run_to_completion(sample(nets["unet"], nets["cond"], spec, {}, lay, sem, 5.0, [8]))
    assert torch.allclose(both[1], alone[0], atol=1e-5)
    assert not torch.allclose(both[0], both[1])


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_scheduler_samples(name):
    layout = np.full((200, 5), 0.5, np.float32)
    out = _run(LayoutEcho(), 200, layout, steps=5, scheduler=name)
    assert out.shape == (1, 8, 200) and torch.isfinite(out).all()
    if name in ("dpm", "ddim", "unipc"):
        assert torch.allclose(out, torch.full_like(out, 0.5), atol=0.05)


def test_cancel_stops_sampling():
    tok = CancelToken()
    tok.cancel()
    spec = SampleSpec(n_frames=100, frame_rate=100.0, window=100, overlap=0, steps=3)
    from engine.errors import Cancelled

    with pytest.raises(Cancelled):
        run_to_completion(sample(LayoutEcho(), NullCond(), spec, {}, None, torch.randn(5, 8), 5.0, [0], cancel=tok))


def test_window_tokens_relative_times():
    sem = torch.arange(20, dtype=torch.float32)[:, None].repeat(1, 3)
    feats, times, mask = window_tokens(sem, 5.0, 1.0, 2.0, 11)
    assert mask.sum() == 10  # frames at 1.0, 1.2, ... 2.8 s
    assert torch.allclose(times[:10], torch.arange(10) * 0.2, atol=1e-6)
    assert feats[0, 0] == 5 and not mask[10]


def test_training_noise_schedule_is_x0():
    s = training_scheduler()
    assert s.config.prediction_type == "sample"


def test_network_batch_size_does_not_change_the_sound():
    # The GPU feeds G all rows at once, the CPU 24 at a time: the takes must not depend on it.
    torch.manual_seed(0)
    nets = build_networks(TINY_NETWORKS)
    sem = torch.randn(12, nets["cond"].config["cls_dim"])
    lay = np.random.default_rng(1).random((260, 5)).astype(np.float32)
    outs = []
    for mb in (1, 5, 256):
        spec = SampleSpec(n_frames=260, frame_rate=100.0, window=100, overlap=20, steps=3, max_batch=mb)
        outs.append(run_to_completion(sample(nets["unet"], nets["cond"], spec, {}, lay, sem, 5.0, [4, 5, 6])))
    assert outs[0].shape == (3, nets["unet"].config["in_channels"], 260)
    assert torch.allclose(outs[0], outs[1], atol=1e-5) and torch.allclose(outs[0], outs[2], atol=1e-5)


def test_module_device_follows_parameters_then_buffers():
    from engine.models import module_device

    assert module_device(torch.nn.Linear(2, 2).to("meta")).type == "meta"
    buf_only = torch.nn.Module()
    buf_only.register_buffer("b", torch.zeros(1, device="meta"))
    assert module_device(buf_only).type == "meta"
    assert module_device(torch.nn.Module()).type == "cpu"


def test_samplers_skip_scipy_stats_at_import_and_load_it_on_use():
    # diffusers' DPM-Solver / Euler / UniPC modules import scipy.stats (~0.5 s cold) for beta
    # sigmas only. A fresh interpreter builds each without it; the module's `scipy` still reaches
    # scipy.stats when used, and diffusers keeps reporting scipy as installed.
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = r"""
import json, sys
from engine.diffusion.schedulers import sampling_scheduler
out = {}
for name in ("dpm", "euler", "unipc", "ddim"):
    s = sampling_scheduler(name)
    s.set_timesteps(10)
    out[name] = len(s.timesteps)
out["stats_imported"] = "scipy.stats" in sys.modules
from diffusers.utils import is_scipy_available
out["scipy_available"] = is_scipy_available()
mod = sys.modules[type(sampling_scheduler("dpm")).__module__]
out["beta_ppf"] = round(float(mod.scipy.stats.beta.ppf(0.5, 2.0, 2.0)), 6)
out["stats_after_use"] = "scipy.stats" in sys.modules
print(json.dumps(out))
"""
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"dpm": 10, "euler": 10, "unipc": 10, "ddim": 10, "stats_imported": False,
                   "scipy_available": True, "beta_ppf": 0.5, "stats_after_use": True}


def test_generate_never_loads_torch_dynamo_and_hiding_is_per_thread(tmp_path):
    # torch._dynamo (1-1.8 s of a cold generate on 2 cores) only came in through diffusers'
    # torch_utils, which falls back to an identity decorator without it. A whole fresh
    # `v2a generate` must not load it; inside dynamo_hidden() only the hiding thread is refused,
    # and afterwards it imports as usual.
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out_wav = tmp_path / "take.wav"
    code = r"""
import json, sys, threading
from engine.cli.main import main
rc = main(["generate", "resources/sample/big_buck_bunny_excerpt.mp4", "-o", sys.argv[1], "--steps", "4"])
res = {"rc": rc, "after_generate": "torch._dynamo" in sys.modules}
from diffusers.utils.torch_utils import maybe_allow_in_graph
class C: pass
res["identity_decorator"] = maybe_allow_in_graph(C) is C
from engine.diffusers_import import dynamo_hidden
with dynamo_hidden():
    try:
        import torch._dynamo
        res["same_thread"] = "imported"
    except ModuleNotFoundError:
        res["same_thread"] = "hidden"
    other = {}
    def imp():
        import torch._dynamo
        other["ok"] = hasattr(torch._dynamo, "disable")
    t = threading.Thread(target=imp); t.start(); t.join()
    res["other_thread"] = other.get("ok", False)
res["finder_removed"] = not any(type(f).__name__ == "_HideDynamo" for f in sys.meta_path)
print(json.dumps(res))
"""
    r = subprocess.run([sys.executable, "-c", code, str(out_wav)], capture_output=True, text=True, cwd=root, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res == {"rc": 0, "after_generate": False, "identity_decorator": True, "same_thread": "hidden",
                   "other_thread": True, "finder_removed": True}
    assert out_wav.stat().st_size > 1000
