"""Building a library index without torch: the numpy classifier embedding and text encoder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _starter_records(n_per_class: int = 1, classes: int = 8):
    from engine.library.index import load_index, starter_library_dir

    idx = load_index(starter_library_dir())
    seen: dict[str, int] = {}
    picked = []
    for i, r in enumerate(idx.records):
        if seen.get(r.cls, 0) < n_per_class and (r.cls in seen or len(seen) < classes):
            seen[r.cls] = seen.get(r.cls, 0) + 1
            picked.append(i)
    return idx, picked


def _audio16(rec) -> np.ndarray:
    from engine.library.index import _resample16
    from engine.library.records import read_stretch

    y, sr = read_stretch(rec.path, rec.start, rec.duration)
    return _resample16(y, sr)


def test_numpy_classifier_embedding_matches_torch_on_real_recordings():
    from engine.classifier import load_classifier
    from engine.classifier.numpy_embed import load_numpy_embedder

    idx, picked = _starter_records(classes=10)
    ys = [_audio16(idx.records[i]) for i in picked]
    ys.append(ys[0][:1000])  # shorter than min_seconds: padded with silence
    ys.append(np.concatenate([ys[1], ys[2]]))  # an odd number of frames at some layers
    ref = load_classifier().embed(ys, 16000)
    got = load_numpy_embedder().embed(ys, 16000)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.abs(got - ref).max() < 3e-5  # measured 7e-6 (values up to ~20)
    cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.99999
    # the classifier's own mel batching (equal lengths together) gives the same rows
    one = load_numpy_embedder().embed(ys[:1], 16000)
    assert np.abs(one[0] - got[0]).max() < 1e-5


def test_numpy_embedder_refuses_a_damaged_pack(tmp_path):
    import shutil

    from engine.classifier import default_classifier_dir
    from engine.classifier.numpy_embed import load_numpy_embedder
    from engine.errors import PackError

    d = tmp_path / "clf"
    shutil.copytree(default_classifier_dir(), d)
    w = d / "classifier.safetensors"
    raw = bytearray(w.read_bytes())
    raw[-1] ^= 0xFF
    w.write_bytes(bytes(raw))
    with pytest.raises(PackError, match="checksum"):
        load_numpy_embedder(d)
    with pytest.raises(PackError):
        load_numpy_embedder(tmp_path / "nothing")


def test_numpy_text_encoder_batches_by_length_and_repeats():
    from engine.text import encode_text
    from engine.text_numpy import encode_text_numpy

    texts = ["footsteps on gravel", "a door", "footsteps on gravel", "", "heavy rain on a tin roof at night",
             "a door", "dog barking"]
    got = encode_text_numpy(texts)
    assert got.shape == (len(texts), 384)
    assert np.abs(got - encode_text(texts)).max() < 1e-5
    assert np.array_equal(got[0], got[2])
    assert np.abs(encode_text_numpy("a door")[0] - got[1]).max() < 1e-6
    assert encode_text_numpy([]).shape == (0, 384)


_BUILD = """
import json, sys
from engine.library.index import add_folder
from engine.progress import run_to_completion
idx = run_to_completion(add_folder(None, sys.argv[1], save=False))
idx.save(sys.argv[2])
print(json.dumps({"torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                  "n": len(idx), "paths": [r.path for r in idx.records]}))
"""


def test_building_an_index_never_imports_torch_and_keeps_the_embeddings(tmp_path):
    """add_folder over a few real recordings (WAV copies of starter ones) in a fresh process:
    no torch; the audio embeddings equal the torch classifier's on the same audio; the text
    embeddings of the starter records equal the committed (torch-built) ones."""
    import soundfile as sf

    from engine.classifier import load_classifier
    from engine.library.index import _record_text, load_index
    from engine.text_numpy import encode_text_numpy

    idx, picked = _starter_records(classes=4)
    folder = tmp_path / "my sounds"
    for i in picked:
        r = idx.records[i]
        y, sr = sf.read(r.path, dtype="float32")
        (folder / r.cls).mkdir(parents=True, exist_ok=True)
        sf.write(folder / r.cls / f"{r.cls}_{Path(r.path).stem}.wav", y, sr)
    out = subprocess.run([sys.executable, "-c", _BUILD, str(folder), str(tmp_path / "idx")], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=300)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["torch"] is False and res["transformers"] is False
    assert res["n"] >= len(picked)

    built = load_index(tmp_path / "idx")
    ref = load_classifier().embed([_audio16(r) for r in built.records], 16000)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    assert (built.audio_emb * ref).sum(1).min() >= 0.9999
    assert np.abs(built.audio_emb - ref).max() < 1e-5

    text = encode_text_numpy([_record_text(idx.records[i]) for i in picked])
    assert (text * idx.text_emb[picked]).sum(1).min() >= 0.9999
