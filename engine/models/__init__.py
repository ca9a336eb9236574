"""Networks of the diffusion (TiVA) engine, each built from a plain config dict.

``build_networks(config)`` takes the ``networks`` section of a pack.json and returns the
modules; the same code builds the tiny random configs of the tests and the shipped pack.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

from engine.models.layout_predictor import (
    DEFAULT_COND_CONFIG,
    DEFAULT_LAYOUT_CONFIG,
    ConditionEncoder,
    LayoutPredictor,
)
from engine.models.unet1d import DEFAULT_UNET_CONFIG, UNet1DCondition
from engine.models.visual import DEFAULT_VISUAL_CONFIG, VisualEncoder, motion_features

#: network name -> (weights file in the pack, class)
NETWORKS: dict[str, tuple[str, type[nn.Module]]] = {
    "visual": ("visual.safetensors", VisualEncoder),
    "layout": ("layout.safetensors", LayoutPredictor),
    "cond": ("cond.safetensors", ConditionEncoder),
    "unet": ("unet.safetensors", UNet1DCondition),
}


def consistent_configs(networks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Fill the dimensions one network takes from another (so a config can name each once)."""
    vis = {**DEFAULT_VISUAL_CONFIG, **networks.get("visual", {})}
    width = int(vis["width"]) * len(vis["feature_layers"])
    cls_dim, patch_dim = width, width * int(vis["patch_grid"]) ** 2
    motion_dim = int(vis["motion_grid"]) ** 2 + 1
    lay = {**DEFAULT_LAYOUT_CONFIG, **networks.get("layout", {})}
    lay.update(cls_dim=cls_dim, patch_dim=patch_dim, motion_dim=motion_dim)
    unet = {**DEFAULT_UNET_CONFIG, **networks.get("unet", {})}
    unet["cond_channels"] = int(lay["bands"]) + 1
    cond = {**DEFAULT_COND_CONFIG, **networks.get("cond", {})}
    cond.update(cls_dim=cls_dim, token_dim=int(unet["token_dim"]))
    return {"visual": vis, "layout": lay, "cond": cond, "unet": unet}


def build_networks(networks: dict[str, dict[str, Any]]) -> dict[str, nn.Module]:
    cfgs = consistent_configs(networks)
    return {name: cls(cfgs[name]) for name, (_, cls) in NETWORKS.items()}


def module_device(module: nn.Module) -> torch.device:
    """Where a network runs: its first parameter's (or buffer's) device; CPU for a stateless one."""
    first = next(itertools.chain(module.parameters(), module.buffers()), None)
    return torch.device("cpu") if first is None else first.device


def param_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "NETWORKS",
    "ConditionEncoder",
    "LayoutPredictor",
    "UNet1DCondition",
    "VisualEncoder",
    "build_networks",
    "consistent_configs",
    "module_device",
    "motion_features",
    "param_count",
]
