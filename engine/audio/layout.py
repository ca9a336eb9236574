"""The audio layout (TiVA Eq. 1): Resize(Norm(mel), [M, C]), plus resizing, files and pictures.

Norm is a FIXED affine map of the natural-log mel from ``[log(1e-5), norm_max]`` to [0, 1],
clipped — not per-clip min-max — so a painted value means the same loudness in every clip
and a silent clip gives an all-zero layout. Resize is area averaging (exact overlap weights)
when shrinking and linear interpolation (half-pixel centres) when growing.

M is ``round(T * columns_per_second / mel_fps)`` and the stored rate is ``M * mel_fps / T``,
so the columns span the audio exactly (10.24 s at 10/s -> 102 columns at 9.961/s, TiVA's
[102, 5]; whole-second clips keep exactly 10/s).
"""

from __future__ import annotations

import io
import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio.mel import LOG_FLOOR, MelConfig, _mono_float, log_mel
from engine.errors import LayoutError
from engine.safe_write import atomic_output
from engine.timebase import seconds_to_column
from engine.types import AudioLayout


@dataclass(frozen=True)
class LayoutConfig:
    columns_per_second: float = 10.0
    bands: int = 5
    norm_min: float = math.log(LOG_FLOOR)  # -11.51: digital silence -> 0
    norm_max: float = 2.5  # a full-scale tone reaches ~2.0, a loud explosion ~2.7


def mel_norm(cfg: LayoutConfig = LayoutConfig()) -> dict[str, float]:
    """The generator's mel scaling: x = (log_mel - center) / scale maps the layout's
    [norm_min, norm_max] range to [-1, 1] (packs record it as ``mel_norm``)."""
    return {"center": (cfg.norm_min + cfg.norm_max) / 2, "scale": (cfg.norm_max - cfg.norm_min) / 2}


def normalize_mel(mel: np.ndarray, cfg: LayoutConfig = LayoutConfig()) -> np.ndarray:
    return np.clip((mel - cfg.norm_min) / (cfg.norm_max - cfg.norm_min), 0.0, 1.0).astype(np.float32)


def denormalize_mel(values: np.ndarray, cfg: LayoutConfig = LayoutConfig()) -> np.ndarray:
    return (np.asarray(values, np.float32) * (cfg.norm_max - cfg.norm_min) + cfg.norm_min).astype(np.float32)


def _resize_matrix(n_in: int, n_out: int, o0: int = 0, o1: int | None = None) -> np.ndarray:
    """[n_out, n_in] weights: area average when shrinking, linear interpolation when growing;
    rows ``o0:o1`` only (the full matrix of a long clip is n_out x n_in float64: gigabytes)."""
    o1 = n_out if o1 is None else min(o1, n_out)
    if n_in == n_out:
        return np.eye(o1 - o0, n_in, o0, dtype=np.float64)
    w = np.zeros((o1 - o0, n_in), dtype=np.float64)
    if n_out < n_in:
        scale = n_in / n_out
        edges = np.arange(n_out + 1) * scale
        for o in range(o0, o1):
            a, b = edges[o], edges[o + 1]
            i0, i1 = int(math.floor(a)), min(n_in, int(math.ceil(b)))
            for i in range(i0, i1):
                w[o - o0, i] = min(b, i + 1) - max(a, i)
        return w / w.sum(axis=1, keepdims=True)
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    pos = np.clip(pos, 0, n_in - 1)[o0:o1]
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = pos - i0
    w[np.arange(o1 - o0), i0] += 1 - frac
    w[np.arange(o1 - o0), i1] += frac
    return w


#: Time-matrix elements per block in ``resize_layout`` (32 MB of float64): a short clip is one
#: block (the one-shot product); a 10-minute clip's layout -> mel grid (60,000 x 15,000) would
#: be 7.2 GB whole. Each block keeps every input column, so its rows' sums are the same.
RESIZE_BLOCK = 1 << 22


def resize_layout(values: np.ndarray, n_columns: int, n_bands: int) -> np.ndarray:
    """Resize a [T, C] array to [n_columns, n_bands] (separable area/linear resampling)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] == 0:
        raise ValueError(f"need a non-empty 2-D array, got shape {v.shape}")
    if n_columns < 1 or n_bands < 1:
        raise ValueError(f"target grid must be positive, got [{n_columns}, {n_bands}]")
    right = _resize_matrix(v.shape[1], n_bands).T
    rows = max(1, RESIZE_BLOCK // v.shape[0])
    if n_columns <= rows:
        out = _resize_matrix(v.shape[0], n_columns) @ v @ right
    else:
        out = np.concatenate([
            _resize_matrix(v.shape[0], n_columns, o, o + rows) @ v @ right for o in range(0, n_columns, rows)
        ])
    return out.astype(np.float32)


def n_columns_for(n_frames: int, frames_per_second: float, columns_per_second: float) -> int:
    return max(1, int(round(n_frames * columns_per_second / frames_per_second)))


def layout_from_mel(mel: np.ndarray, mel_cfg: MelConfig = MelConfig(), layout_cfg: LayoutConfig = LayoutConfig()) -> AudioLayout:
    """TiVA Eq. 1 on a log-mel [T, n_mels] (from :func:`engine.audio.log_mel`)."""
    mel = np.asarray(mel, dtype=np.float32)
    if mel.ndim != 2 or mel.shape[0] == 0:
        raise ValueError(f"mel must be [T>0, n_mels], got shape {mel.shape}")
    fps = mel_cfg.frames_per_second
    m = n_columns_for(mel.shape[0], fps, layout_cfg.columns_per_second)
    values = np.clip(resize_layout(normalize_mel(mel, layout_cfg), m, layout_cfg.bands), 0.0, 1.0)
    rate = m * fps / mel.shape[0]
    if abs(rate - layout_cfg.columns_per_second) < 1e-9:
        rate = float(layout_cfg.columns_per_second)
    return AudioLayout(values=values.astype(np.float32), columns_per_second=float(rate))


def layout_from_audio(
    audio: np.ndarray, sr: int, mel_cfg: MelConfig = MelConfig(), layout_cfg: LayoutConfig = LayoutConfig()
) -> AudioLayout:
    """Layout of a waveform at any rate (resampled to ``mel_cfg.sample_rate``)."""
    from engine.audio.dsp import resample

    y = resample(_mono_float(audio), sr, mel_cfg.sample_rate)
    if len(y) == 0:
        raise ValueError("cannot make a layout of empty audio")
    return layout_from_mel(log_mel(y, mel_cfg), mel_cfg, layout_cfg)


def layout_to_grid(layout: AudioLayout | np.ndarray, h: int, w: int) -> np.ndarray:
    """The layout resized to a latent grid [h (time), w (frequency)], float32 in [0, 1]."""
    values = layout.values if isinstance(layout, AudioLayout) else np.asarray(layout)
    return np.clip(resize_layout(values, h, w), 0.0, 1.0)


def layout_energy(layout: AudioLayout | np.ndarray) -> np.ndarray:
    """Per-column total energy: mean over bands, [T]."""
    values = layout.values if isinstance(layout, AudioLayout) else np.asarray(layout)
    return np.asarray(values, dtype=np.float64).mean(axis=1)


def paint_event(
    values: np.ndarray,
    t: float,
    columns_per_second: float,
    decay: float,
    band_lo: int,
    band_hi: int,
    intensity: float = 1.0,
    attack: float = 0.0,
) -> tuple[int, int, int, int] | None:
    """Paint one sound event into ``values`` [T, bands] in place, as the studio's event tool does.

    From the column holding ``t``: a linear ``attack`` (seconds) then an exponential decay
    (``decay`` seconds to 1/e) until it falls under 1 %, at ``intensity``, over bands
    ``band_lo..band_hi`` (inclusive, either order); existing louder cells are kept (max).
    Returns the touched box (c0, c1, b0, b1), or None when ``t`` lies past the last column."""
    n_cols, n_bands = values.shape
    start = min(n_cols, seconds_to_column(t, columns_per_second))
    if start >= n_cols:
        return None
    tail = max(1, int(math.ceil((attack + max(decay, 1e-3) * 4.6) * columns_per_second)))  # to 1 %
    c1 = min(n_cols, start + tail + 1)
    b0 = max(0, min(band_lo, band_hi))
    b1 = min(n_bands, max(band_lo, band_hi) + 1)
    tt = (np.arange(start, c1) - start) / columns_per_second
    env = np.where(tt < attack, tt / max(attack, 1e-6), np.exp(-(tt - attack) / max(decay, 1e-3)))
    env = (env * float(np.clip(intensity, 0, 1))).astype(values.dtype)
    box = values[start:c1, b0:b1]
    np.maximum(box, env[:, None], out=box)
    return start, c1, b0, b1


# ---------------------------------------------------------------------- files ----
def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def save_layout(layout: AudioLayout, path: str | Path) -> Path:
    """Write ``values`` as .npy float32 [T, C] and ``columns_per_second`` in a .json sidecar."""
    p = Path(path)
    if p.suffix != ".npy":
        raise LayoutError("layout files must end in .npy", p)
    with atomic_output(_sidecar(p)) as tmp_json, atomic_output(p) as tmp:
        # Through memory (a layout is small): numpy's own file writer reports a full disk as a
        # "requested and written" OSError without errno, Python's write as ENOSPC.
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(layout.values, dtype=np.float32), allow_pickle=False)
        tmp.write_bytes(buf.getvalue())
        tmp_json.write_text(
            json.dumps(
                {"columns_per_second": layout.columns_per_second, "n_columns": layout.n_columns,
                 "n_bands": layout.n_bands, "format": "v2a-layout-1"},
                indent=1,
            )
        )
    return p


def load_layout(path: str | Path, default_columns_per_second: float = 10.0) -> AudioLayout:
    """Read a layout .npy (+ optional sidecar); LayoutError on anything malformed."""
    p = Path(path)
    if not p.is_file():
        raise LayoutError("no such layout file" if not p.exists() else "is not a file", p)
    try:
        values = np.load(p, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for junk
        raise LayoutError(f"not a readable .npy array ({type(exc).__name__})", p) from exc
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] == 0:
        raise LayoutError(f"expected a 2-D [time, bands] array, got shape {values.shape}", p)
    if not np.issubdtype(values.dtype, np.floating) and not np.issubdtype(values.dtype, np.integer):
        raise LayoutError(f"expected numbers, got dtype {values.dtype}", p)
    values = values.astype(np.float32)
    if not np.all(np.isfinite(values)):
        raise LayoutError("contains NaN or infinite values", p)
    if values.min() < -1e-3 or values.max() > 1 + 1e-3:
        raise LayoutError(f"values must lie in [0, 1], found [{values.min():.3g}, {values.max():.3g}]", p)
    cps = float(default_columns_per_second)
    side = _sidecar(p)
    if side.is_file():
        try:
            cps = float(json.loads(side.read_text())["columns_per_second"])
        except (ValueError, KeyError, TypeError) as exc:
            raise LayoutError("sidecar has no valid columns_per_second", side) from exc
        if not (cps > 0 and math.isfinite(cps)):
            raise LayoutError(f"columns_per_second must be positive, got {cps}", side)
    return AudioLayout(values=np.clip(values, 0.0, 1.0), columns_per_second=cps)


# ---------------------------------------------------------------------- pictures ----
# "inferno"-like anchors (black -> purple -> orange -> pale yellow): readable, print-safe.
_ANCHORS = np.array(
    [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]],
    dtype=np.float64,
)


def colormap(values: np.ndarray) -> np.ndarray:
    """Map [0, 1] floats to uint8 RGB with the built-in inferno-like ramp."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0) * (len(_ANCHORS) - 1)
    i0 = np.minimum(np.floor(v).astype(int), len(_ANCHORS) - 2)
    f = (v - i0)[..., None]
    return np.round(_ANCHORS[i0] * (1 - f) + _ANCHORS[i0 + 1] * f).astype(np.uint8)


def layout_to_image(layout: AudioLayout | np.ndarray, px_per_column: int = 8, px_per_band: int = 24) -> np.ndarray:
    """uint8 RGB [H, W, 3]: time runs left -> right, the lowest band at the bottom."""
    values = layout.values if isinstance(layout, AudioLayout) else np.asarray(layout)
    img = colormap(values.T[::-1])  # [bands, T], low band last row
    return np.repeat(np.repeat(img, px_per_band, axis=0), px_per_column, axis=1)


def encode_png(rgb: np.ndarray) -> bytes:
    """Minimal PNG encoder (8-bit RGB, no filtering), so pictures need no image library."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + tag + data + zlib.crc32(tag + data).to_bytes(4, "big")

    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def save_layout_png(layout: AudioLayout | np.ndarray, path: str | Path, px_per_column: int = 8, px_per_band: int = 24) -> Path:
    p = Path(path)
    data = encode_png(layout_to_image(layout, px_per_column, px_per_band))
    with atomic_output(p) as tmp:
        tmp.write_bytes(data)
    return p
