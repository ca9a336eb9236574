"""The classifier's embedding (penultimate layer) in plain numpy: no torch.

Building a library index embeds every recording with the classifier; importing torch for that
alone took the build to 1.2 GB. This runs the same network (``AudioCNN.embedding``) from the
same sha256-checked safetensors file, read with ``safetensors.numpy``: time pooling, four
conv 3x3 -> batch norm (folded into the conv, eval statistics) -> ReLU -> 2x2 max pool
(ceil mode) blocks, mean over frequency, mean + max over time, the linear embedding layer.
Equal to the torch model within ~1e-5 (tests/engine/test_library_numpy.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.classifier.config import WEIGHTS, ClassifierConfig, segment_mel
from engine.errors import PackError

BN_EPS = 1e-5  # torch.nn.BatchNorm2d's default
MAX_FRAMES = 2048  # mel frames per batch (memory stays at a few tens of MB)


def _weights(path: Path, cfg: ClassifierConfig) -> dict[str, np.ndarray]:
    """The pack's weight file, checked like ``engine.packs.load_weights`` (listed, size, sha256,
    declared shapes) and against the shapes ``cfg`` needs, loaded as numpy arrays."""
    from safetensors.numpy import load_file

    from engine.packs.format import check_file_kind, read_manifest, sha256_file

    man = read_manifest(path)
    f = path / WEIGHTS
    check_file_kind(WEIGHTS, path)
    entry = man["files"].get(WEIGHTS)
    if entry is None:
        raise PackError("weight file is not listed in pack.json", f)
    if not f.is_file():
        raise PackError("listed in pack.json but missing", f)
    if f.stat().st_size != int(entry["bytes"]) or sha256_file(f) != str(entry["sha256"]).lower():
        raise PackError("checksum mismatch (file corrupted or altered); reinstall the pack", f)
    try:
        w = load_file(str(f))
    except Exception as exc:  # safetensors raises its own error types
        raise PackError(f"cannot read weights ({exc})", f) from exc
    for key, shape in _expected_shapes(cfg).items():
        if key not in w:
            raise PackError(f"tensor {key!r} missing for this architecture", f)
        if tuple(w[key].shape) != shape:
            raise PackError(f"tensor {key!r} has shape {tuple(w[key].shape)}, the config needs {shape}", f)
    return w


def _conv_keys(cfg: ClassifierConfig) -> list[tuple[str, str]]:
    """(conv, batch norm) module names of each block in ``AudioCNN.features``."""
    first = 1 if cfg.time_pool > 1 else 0
    return [(f"features.{first + 4 * i}", f"features.{first + 4 * i + 1}") for i in range(len(cfg.channels))]


def _expected_shapes(cfg: ClassifierConfig) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    c_in = 1
    for (conv, bn), c in zip(_conv_keys(cfg), cfg.channels, strict=True):
        out[f"{conv}.weight"] = (c, c_in, 3, 3)
        for k in ("weight", "bias", "running_mean", "running_var"):
            out[f"{bn}.{k}"] = (c,)
        c_in = c
    out["embed.weight"] = (cfg.embed_dim, 2 * c_in)
    out["embed.bias"] = (cfg.embed_dim,)
    return out


def _conv3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3x3 convolution, padding 1, channels last: x [B, H, W, C], w [9 * C, C_out] -> [B, H, W, C_out]."""
    bsz, h, wd, c = x.shape
    xp = np.zeros((bsz, h + 2, wd + 2, c), np.float32)
    xp[:, 1:-1, 1:-1] = x
    cols = np.empty((bsz, h, wd, 9, c), np.float32)
    for dy in range(3):
        for dx in range(3):
            cols[:, :, :, 3 * dy + dx] = xp[:, dy : dy + h, dx : dx + wd]
    out = cols.reshape(-1, 9 * c) @ w
    out += b
    return out.reshape(bsz, h, wd, -1)


def _maxpool2(x: np.ndarray) -> np.ndarray:
    """2x2 max pool, stride 2, ceil mode (an odd last row / column is pooled on its own)."""
    bsz, h, wd, c = x.shape
    if h % 2:
        x = np.concatenate([x, x[:, -1:]], axis=1)
    if wd % 2:
        x = np.concatenate([x, x[:, :, -1:]], axis=2)
    h2, w2 = x.shape[1] // 2, x.shape[2] // 2
    return x.reshape(bsz, h2, 2, w2, 2, c).max(axis=(2, 4))


class NumpyEmbedder:
    """``AudioClassifier.embed`` without torch: audio segments -> [N, embed_dim] float32."""

    def __init__(self, cfg: ClassifierConfig, weights: dict[str, np.ndarray]) -> None:
        self.config = cfg
        self.convs: list[tuple[np.ndarray, np.ndarray]] = []
        for conv, bn in _conv_keys(cfg):
            k = weights[f"{conv}.weight"].astype(np.float64)  # [C_out, C_in, 3, 3]
            scale = weights[f"{bn}.weight"].astype(np.float64) / np.sqrt(
                weights[f"{bn}.running_var"].astype(np.float64) + BN_EPS)
            shift = weights[f"{bn}.bias"] - weights[f"{bn}.running_mean"].astype(np.float64) * scale
            # rows ordered (dy, dx, c_in) like _conv3x3's columns
            mat = (k * scale[:, None, None, None]).transpose(2, 3, 1, 0).reshape(-1, k.shape[0])
            self.convs.append((np.ascontiguousarray(mat, np.float32), shift.astype(np.float32)))
        self.embed_w = np.ascontiguousarray(weights["embed.weight"].T, np.float32)
        self.embed_b = weights["embed.bias"].astype(np.float32)

    @classmethod
    def load(cls, path: str | Path | None = None) -> NumpyEmbedder:
        """The classifier pack at ``path`` (default: resources/classifier); PackError if missing/broken."""
        from engine.classifier import default_classifier_dir
        from engine.packs.format import read_manifest

        path = Path(path) if path is not None else default_classifier_dir()
        if not (path / "pack.json").is_file():
            raise PackError("no trained classifier here; train one with: python -m engine.classifier.train", path)
        man = read_manifest(path)
        if "classifier" not in man:
            raise PackError("pack.json has no 'classifier' config", path / "pack.json")
        cfg = ClassifierConfig.from_dict(man["classifier"])
        return cls(cfg, _weights(path, cfg))

    def embedding(self, mel: np.ndarray) -> np.ndarray:
        """[B, T, n_mels] normalised log-mel -> [B, embed_dim] (``AudioCNN.embedding``)."""
        x = np.asarray(mel, np.float32)[..., None]  # [B, T, F, 1]
        tp = self.config.time_pool
        if tp > 1:
            t = x.shape[1] // tp * tp
            x = x[:, :t].reshape(x.shape[0], t // tp, tp, x.shape[2], 1).mean(axis=2)
        for mat, shift in self.convs:
            x = _maxpool2(np.maximum(_conv3x3(x, mat, shift), 0.0))
        x = x.mean(axis=2)  # over frequency -> [B, T', C]
        x = np.concatenate([x.mean(axis=1), x.max(axis=1)], axis=1)
        return (x @ self.embed_w + self.embed_b).astype(np.float32)

    def mel(self, audio: np.ndarray, sr: int) -> np.ndarray:
        return segment_mel(audio, sr, self.config)

    def embed_mels(self, mels: Sequence[np.ndarray]) -> np.ndarray:
        """One embedding per mel [N, D]; equal lengths are batched (no padding enters the pooling)."""
        order = sorted(range(len(mels)), key=lambda i: mels[i].shape[0])
        out = np.zeros((len(mels), self.config.embed_dim), np.float32)
        i = 0
        while i < len(order):
            n = mels[order[i]].shape[0]
            group = [order[i]]
            i += 1
            while i < len(order) and mels[order[i]].shape[0] == n and (len(group) + 1) * n <= MAX_FRAMES:
                group.append(order[i])
                i += 1
            out[group] = self.embedding(np.stack([mels[j] for j in group]))
        return out

    def embed(self, segments: Sequence[np.ndarray], sr: int) -> np.ndarray:
        """One embedding per segment [N, D] (whole segment pooled), as ``AudioClassifier.embed``."""
        return self.embed_mels([self.mel(s, sr) for s in segments])


def load_numpy_embedder(path: str | Path | None = None) -> NumpyEmbedder:
    return NumpyEmbedder.load(path)
