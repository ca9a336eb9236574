"""Find recordings for a prompt or a reference recording.

A prompt is scored per class first (the class's own words found in the prompt, then the
sentence embedding of the prompt against each class's sentence), then per recording inside
the chosen class (embedding against the recording's description, plus its material when the
prompt names one). So "footsteps on gravel" picks the footstep class, then gravel steps.
A reference recording picks by the classifier's audio embedding (timbre), its class by vote.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.library.index import LibraryError, LibraryIndex
from engine.library.labels import class_text, keyword_classes, material_of

# Below this the best class's embedding similarity is "nothing matches well" (MiniLM cosine;
# unrelated prompts such as "spreadsheet" score ~0.1-0.25 against every class sentence).
MIN_CLASS_SIMILARITY = 0.30


@dataclass(frozen=True)
class Hit:
    index: int  # row in the index
    score: float
    cls: str


@dataclass(frozen=True)
class ClassChoice:
    cls: str
    score: float
    how: str  # "words", "embedding", "reference", "video"


def class_embeddings(index: LibraryIndex) -> dict[str, np.ndarray]:
    if index._class_emb is None:
        from engine.text_numpy import encode_text_numpy as encode_text

        classes = index.classes
        emb = encode_text([class_text(c) for c in classes]) if classes else np.zeros((0, 384), np.float32)
        index._class_emb = {c: e for c, e in zip(classes, emb, strict=True)}
    return index._class_emb


@lru_cache(maxsize=128)
def _query(prompt: str) -> np.ndarray:
    """The prompt's sentence embedding, once per prompt: choosing the class and ranking the
    recordings (and every take of a lane) ask for the same one."""
    from engine.text_numpy import encode_text_numpy

    q = encode_text_numpy(prompt)[0]
    q.setflags(write=False)
    return q


def rank_classes(index: LibraryIndex, prompt: str) -> list[ClassChoice]:
    """Every class of the library, best first, for a prompt."""
    cemb = class_embeddings(index)
    query = _query(prompt)
    kw = keyword_classes(prompt)
    out = []
    for cls, e in cemb.items():
        sim = float(e @ query)
        score = sim + (1.0 + 0.1 * kw[cls] if cls in kw else 0.0)
        out.append(ClassChoice(cls, score, "words" if cls in kw else "embedding"))
    return sorted(out, key=lambda c: -c.score)


def choose_class(index: LibraryIndex, prompt: str) -> ClassChoice:
    """The class a prompt asks for; LibraryError listing the classes when nothing fits."""
    if not prompt.strip():
        raise LibraryError("empty prompt")
    ranked = rank_classes(index, prompt)
    if not ranked:
        raise LibraryError("the sound library is empty; run `v2a library build`")
    best = ranked[0]
    if best.how != "words" and best.score < MIN_CLASS_SIMILARITY:
        raise LibraryError(
            f"no sound in the library matches {prompt!r} well; classes: " + ", ".join(index.classes)
        )
    return best


def search(index: LibraryIndex, prompt: str, k: int = 10, cls: str | None = None) -> list[Hit]:
    """Recordings for a prompt, best first (within ``cls`` when given, else the best class's,
    then the rest by similarity)."""
    q = _query(prompt)
    ranked = rank_classes(index, prompt)
    cscore = {c.cls: c.score for c in ranked}
    sims = index.text_emb @ q
    mat = material_of(prompt)
    scores = np.array([
        cscore.get(r.cls, 0.0) + 0.5 * float(s) + (0.3 if mat and mat == r.material else 0.0)
        for r, s in zip(index.records, sims, strict=True)
    ])
    if cls is not None:
        scores = np.where([r.cls == cls for r in index.records], scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return [Hit(int(i), float(scores[i]), index.records[i].cls) for i in order if np.isfinite(scores[i])]


@lru_cache(maxsize=1)
def _embedder():  # noqa: ANN202 - engine.classifier.numpy_embed.NumpyEmbedder, loaded once
    from engine.classifier.numpy_embed import load_numpy_embedder

    return load_numpy_embedder()


def search_audio(index: LibraryIndex, audio: np.ndarray, sr: int, k: int = 10) -> tuple[list[Hit], ClassChoice]:
    """Recordings that sound like ``audio`` (classifier embedding, in numpy: no torch), and the
    class they vote for."""
    e = _embedder().embed([audio], sr)[0]
    e = e / max(float(np.linalg.norm(e)), 1e-9)
    sims = index.audio_emb @ e
    order = np.argsort(-sims, kind="stable")
    top = order[: max(k, 5)]
    votes: dict[str, float] = {}
    for i in top[:5]:
        votes[index.records[i].cls] = votes.get(index.records[i].cls, 0.0) + float(sims[i])
    best = max(votes, key=votes.get)
    hits = [Hit(int(i), float(sims[i]), index.records[i].cls) for i in order[:k]]
    return hits, ClassChoice(best, votes[best] / 5.0, "reference")
