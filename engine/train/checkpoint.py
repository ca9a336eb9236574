"""Resumable checkpoints of a training stage: weights, the optimizer's state and an EMA copy,
in one safetensors file (never pickles) plus ``state.json`` with the step. Used by the
diffusion stages (engine.train.trainers), the VAE (engine.train.vae) and the vocoder
(engine.train.vocoder)."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def save_ckpt(d: Path, step: int, modules: dict[str, torch.nn.Module], opt: torch.optim.Optimizer, ema: dict[str, torch.Tensor] | None) -> None:
    from safetensors.torch import save_file

    d.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, m in modules.items():
        for k, v in m.state_dict().items():
            tensors[f"model/{name}/{k}"] = v.detach().cpu().contiguous().clone()
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        st = opt.state.get(p, {})
        for k, v in st.items():
            tensors[f"optim/{i}/{k}"] = torch.as_tensor(v).detach().cpu().contiguous().clone()
    for k, v in (ema or {}).items():
        tensors[f"ema/{k}"] = v.detach().cpu().contiguous().clone()
    tmp = d / "ckpt.safetensors.tmp"
    save_file(tensors, str(tmp))
    tmp.replace(d / "ckpt.safetensors")
    (d / "state.json").write_text(json.dumps({"step": step}))


def load_ckpt(d: Path, modules: dict[str, torch.nn.Module], opt: torch.optim.Optimizer, ema: dict[str, torch.Tensor] | None) -> int:
    from safetensors.torch import load_file

    if not (d / "state.json").is_file() or not (d / "ckpt.safetensors").is_file():
        return 0
    t = load_file(str(d / "ckpt.safetensors"))
    for name, m in modules.items():
        pre = f"model/{name}/"
        m.load_state_dict({k[len(pre):]: v for k, v in t.items() if k.startswith(pre)})
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        # moments go to the parameter's device; AdamW keeps its step count on the CPU
        st = {(kk := k.split("/", 2)[2]): (v if kk == "step" else v.to(p.device))
              for k, v in t.items() if k.startswith(f"optim/{i}/")}
        if st:
            opt.state[p] = st
    if ema is not None:
        for k in ema:
            if f"ema/{k}" in t:
                ema[k].copy_(t[f"ema/{k}"])
    return int(json.loads((d / "state.json").read_text())["step"])

