"""Visual encoder: an open_clip ``VisionTransformer`` per frame, plus a cheap motion stream.

Per frame it gives the CLS token of several layers (TiVA uses layers 4/8/11 of CLIP) and the
patch tokens of the same layers average-pooled to a small grid. The starter pack trains a
small tower (48 px, patch 8) here; a full pack builds a pretrained open_clip tower from the
same kind of config and loads its weights from local files.

The motion stream is not learned: per-region mean absolute frame difference of a small
grayscale copy, at the full frame rate. It carries the timing the ViT (run at a lower rate)
would miss. Packs whose T has a learned frame stream (``frame_stream`` in its config) also
get :func:`motion_frames`: the small grayscale frames and their differences, for T's CNN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_VISUAL_CONFIG: dict[str, Any] = {
    "image_size": 48,
    "patch_size": 8,
    "width": 128,
    "layers": 4,
    "heads": 4,
    "mlp_ratio": 2.0,
    "feature_layers": [1, 3],  # 0-based block indices whose CLS/patch tokens we keep
    "patch_grid": 2,  # patch tokens pooled to grid x grid
    "motion_grid": 4,
}

#: Private package name under which open_clip's own module files are loaded (see below).
_OPEN_CLIP_ALIAS = "_v2a_open_clip"


def vision_transformer_class() -> type:
    """open_clip's ``VisionTransformer`` class, without running ``open_clip/__init__``.

    That package import also builds its CLIP/CoCa/HF-text models and imports transformers and
    timm: ~1.5 s of an 8 s cold ``v2a generate`` on 2 cores, for a class that needs only
    ``transformer.py``, ``utils.py`` and ``pos_embed.py``. Those files of the installed open_clip
    are loaded under a private package name (same code, same state-dict keys). When open_clip is
    already imported, or the files are not where a package would have them, the normal import
    is used."""
    import importlib
    import importlib.util
    import sys
    import types

    if "open_clip.transformer" in sys.modules:
        return sys.modules["open_clip.transformer"].VisionTransformer
    if _OPEN_CLIP_ALIAS + ".transformer" in sys.modules:
        return sys.modules[_OPEN_CLIP_ALIAS + ".transformer"].VisionTransformer
    try:
        spec = importlib.util.find_spec("open_clip")  # locates the package, runs nothing
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("open_clip is not a package on this path")
        pkg = types.ModuleType(_OPEN_CLIP_ALIAS)
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__package__ = _OPEN_CLIP_ALIAS
        sys.modules[_OPEN_CLIP_ALIAS] = pkg
        _load_utils_without_torchvision(pkg.__path__[0])
        return importlib.import_module(_OPEN_CLIP_ALIAS + ".transformer").VisionTransformer
    except Exception:  # noqa: BLE001 - any layout we do not expect: the plain import decides
        for name in [m for m in sys.modules if m == _OPEN_CLIP_ALIAS or m.startswith(_OPEN_CLIP_ALIAS + ".")]:
            del sys.modules[name]
        from open_clip.transformer import VisionTransformer

        return VisionTransformer


#: open_clip/utils.py's only torchvision import, for the ResNet tower's batch-norm freezing,
#: which a VisionTransformer never calls. torchvision's package import drags in torchvision.models
#: and torch._dynamo: ~1.1 s of a cold ``v2a generate`` on 2 cores.
_TORCHVISION_IMPORT = "from torchvision.ops.misc import FrozenBatchNorm2d\n"
#: One line in its place (tracebacks keep utils.py's line numbers): imports torchvision on use.
_LAZY_FROZEN_BN = (
    "def FrozenBatchNorm2d(*a, **k): from torchvision.ops.misc import FrozenBatchNorm2d as cls; return cls(*a, **k)\n"
)


def _load_utils_without_torchvision(package_dir: str) -> None:
    """Register ``<alias>.utils`` from open_clip's utils.py with the torchvision import made lazy.

    Does nothing (transformer.py's own ``from .utils import`` then loads the file as it is) when
    the file is not there as source or its import line is not the one we know."""
    import sys
    import types
    from pathlib import Path

    path = Path(package_dir) / "utils.py"
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        return
    if source.count(_TORCHVISION_IMPORT) != 1:
        return
    name = _OPEN_CLIP_ALIAS + ".utils"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    module.__package__ = _OPEN_CLIP_ALIAS
    sys.modules[name] = module
    exec(compile(source.replace(_TORCHVISION_IMPORT, _LAZY_FROZEN_BN), str(path), "exec"), module.__dict__)


CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class VisualEncoder(nn.Module):
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        VisionTransformer = vision_transformer_class()
        cfg = {**DEFAULT_VISUAL_CONFIG, **config}
        self.config = cfg
        self.vit = VisionTransformer(
            image_size=int(cfg["image_size"]),
            patch_size=int(cfg["patch_size"]),
            width=int(cfg["width"]),
            layers=int(cfg["layers"]),
            heads=int(cfg["heads"]),
            mlp_ratio=float(cfg["mlp_ratio"]),
            output_dim=int(cfg["width"]),
        )
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def cls_dim(self) -> int:
        return int(self.config["width"]) * len(self.config["feature_layers"])

    @property
    def patch_dim(self) -> int:
        return self.cls_dim * int(self.config["patch_grid"]) ** 2

    @property
    def motion_dim(self) -> int:
        return int(self.config["motion_grid"]) ** 2 + 1

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames uint8 or float in [0, 1], [N, H, W, 3] (resized to image_size here).

        Returns (cls [N, cls_dim], patch [N, patch_dim])."""
        x = frames
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        x = x.permute(0, 3, 1, 2)
        size = int(self.config["image_size"])
        if x.shape[-1] != size or x.shape[-2] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        x = (x - self.mean) / self.std
        out = self.vit.forward_intermediates(
            x,
            indices=list(self.config["feature_layers"]),
            output_fmt="NLC",
            output_extra_tokens=True,
            intermediates_only=True,
        )
        cls = torch.cat([p[:, 0] for p in out["image_intermediates_prefix"]], dim=-1)
        grid = int(self.config["image_size"]) // int(self.config["patch_size"])
        g = int(self.config["patch_grid"])
        pooled = []
        for p in out["image_intermediates"]:
            n, _, c = p.shape
            sp = p.transpose(1, 2).reshape(n, c, grid, grid)
            pooled.append(F.adaptive_avg_pool2d(sp, g).flatten(1))
        return cls, torch.cat(pooled, dim=-1)


def motion_features(frames: np.ndarray, grid: int = 4) -> np.ndarray:
    """[F, H, W, 3] uint8 -> [F, grid*grid + 1] float32: mean |frame difference| per region
    (and overall), compressed with log1p; frame 0 copies frame 1's value."""
    f = np.asarray(frames)
    if f.shape[0] == 0:
        return np.zeros((0, grid * grid + 1), np.float32)
    g = f.astype(np.float32).mean(axis=-1) / 255.0  # [F, H, W]
    d = np.abs(np.diff(g, axis=0))
    if d.shape[0] == 0:
        return np.zeros((f.shape[0], grid * grid + 1), np.float32)
    d = np.concatenate([d[:1], d], axis=0)
    fh, fw = d.shape[1] // grid * grid, d.shape[2] // grid * grid
    cells = d[:, :fh, :fw].reshape(d.shape[0], grid, fh // grid, grid, fw // grid).mean(axis=(2, 4))
    feats = np.concatenate([cells.reshape(d.shape[0], -1), d.mean(axis=(1, 2))[:, None]], axis=1)
    return np.log1p(20.0 * feats).astype(np.float32)


def motion_frames(frames: np.ndarray, size: int = 64, color: bool = False) -> np.ndarray:
    """uint8 [F, H, W, 3] -> uint8 [F, 2, size, size]: grayscale, and |difference to the previous
    *distinct* frame| (x4, clipped). A clip decoded above its own frame rate repeats frames
    (15 fps sampled at 25 fps repeats two in five); a repeat carries the last real difference
    forward instead of a zero, which would put a fake rhythm into the timing signal.
    ``color``: [F, 4, size, size] = R, G, B and the same grayscale difference (an object and its
    background can share a brightness but rarely a colour)."""
    return motion_frames_carry(frames, size, color)[0]


def motion_frames_carry(
    frames: np.ndarray, size: int = 64, color: bool = False, carry: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``motion_frames`` in pieces: ``carry`` is the difference carried in (None: ``frames``
    starts the clip; else ``frames[0]`` is the previous piece's last frame, whose row the caller
    drops). Returns (rows, the carry for the next piece); pieces give the one-shot numbers."""
    f = np.asarray(frames)
    ch = 4 if color else 2
    if f.shape[0] == 0:
        return np.zeros((0, ch, size, size), np.uint8), carry
    if color:  # not shipped: engine.experimental.frame_stream (layout.frame_color)
        from engine.experimental.frame_stream import color_frames

        x = color_frames(f, size)  # [F, 3, size, size]
    else:  # gray first (as the shipped packs were trained)
        x = torch.from_numpy(np.ascontiguousarray(f)).float().mean(-1)[:, None] / 255.0  # [F, 1, H, W]
        if x.shape[-1] != size or x.shape[-2] != size:
            x = F.interpolate(x, size=(size, size), mode="area")
    g = x.mean(1).numpy()
    d = np.zeros_like(g)
    last = np.zeros_like(g[0]) if carry is None else carry
    for t in range(1, g.shape[0]):
        dt = np.abs(g[t] - g[t - 1])
        if dt.mean() >= 0.5 / 255.0:
            last = dt
        d[t] = last
    if g.shape[0] > 1 and carry is None:
        d[0] = d[1]
    d = np.clip(4.0 * d, 0.0, 1.0)[:, None]
    out = np.concatenate([x.numpy(), d], 1) if color else np.concatenate([g[:, None], d], 1)
    return np.round(out * 255.0).astype(np.uint8), last


# EXPERIMENTAL (not shipped), re-exported for their callers and tests
from engine.experimental.motion_colour import motion_color_histogram, motion_color_histogram_carry  # noqa: E402, F401
