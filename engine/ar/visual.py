"""Visual features for the AR engine.

Two sources, named in the pack's ``visual`` entry:

- ``{"kind": "motion_thumb", "fps": 25, ...}`` (starter AR pack): per frame at V-AURA's 25 fps,
  the diffusion engine's motion stream (``engine.models.visual.motion_features``: mean
  |frame difference| per region) plus a coarse colour thumbnail (grid x grid RGB means).
  Cheap (a 10 s clip decodes and encodes in well under a second), and timing-rich.
- any other kind: features handed in by the caller (e.g. the diffusion pack's ClipFeatures),
  as long as their width matches the pack's ``visual_dim``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_VISUAL: dict[str, Any] = {"kind": "motion_thumb", "fps": 25, "size": 32, "motion_grid": 4, "thumb_grid": 4}


def feature_dim(spec: dict[str, Any]) -> int:
    return int(spec["motion_grid"]) ** 2 + 1 + 3 * int(spec["thumb_grid"]) ** 2


def features_from_frames(frames: np.ndarray, spec: dict[str, Any] = DEFAULT_VISUAL) -> np.ndarray:
    """[N, H, W, 3] uint8 frames at ``spec['fps']`` -> [N, feature_dim] float32."""
    from engine.models.visual import motion_features

    f = np.asarray(frames)
    n = f.shape[0]
    if n == 0:
        return np.zeros((0, feature_dim(spec)), np.float32)
    mot = motion_features(f, int(spec["motion_grid"]))
    g = int(spec["thumb_grid"])
    h, w = f.shape[1] // g * g, f.shape[2] // g * g
    thumb = f[:, :h, :w].astype(np.float32).reshape(n, g, h // g, g, w // g, 3).mean(axis=(2, 4)) / 255.0
    return np.concatenate([mot, thumb.reshape(n, -1) - 0.5], axis=1).astype(np.float32)


def features_for_video(path: str | Path, spec: dict[str, Any] = DEFAULT_VISUAL) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``path`` at the spec's rate (by timestamp) -> (features [N, D], times [N] s)."""
    from engine.errors import MediaError
    from engine.media import read_frames_array

    frames, times = read_frames_array(path, int(spec["fps"]), size=int(spec["size"]), crop=False)
    if len(frames) == 0:
        raise MediaError("no video frames could be decoded", path)
    return features_from_frames(frames, spec), times
