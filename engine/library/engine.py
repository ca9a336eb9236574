"""The library engine (``--engine library``): real recordings placed on the layout.

Per request: the layout (given, or predicted by the diffusion starter pack's T), the sound
(a reference file, the prompt, or — with neither — the class the video suggests), candidate
recordings from the index, then one-shot placement or texture synthesis (engine.library.render).
Takes are different seeded draws. Output is at the recordings' native rate (44.1/48 kHz when
the library has them). Every take lists the recordings it used for the export's credits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio.dsp import peak_limit
from engine.errors import MediaError
from engine.library.index import LibraryError, LibraryIndex, load_index
from engine.library.labels import CLASS_WORDS, is_sustained, keyword_classes
from engine.library.records import SoundRecord, read_stretch
from engine.library.render import Placement, place_events, texture
from engine.library.search import ClassChoice, choose_class, search, search_audio
from engine.progress import CancelToken, Job, Progress
from engine.timebase import seconds_to_samples
from engine.types import AudioLayout, GenerationRequest, Take

CANDIDATES = 8  # recordings a lane rotates through
REFERENCE_S = 8.0  # of a reference file, this much is placed (the index's segment length x 2)
REFERENCE_SEARCH_S = 30.0  # ... and this much is heard when searching for its neighbours


@dataclass
class LibraryPack:
    """What ``load_pack`` is to the neural engines: the index, plus the diffusion pack that
    predicts a missing layout (``engine.engines.library`` loads the starter one on demand)."""

    index: LibraryIndex
    name: str = "library"
    engine: str = "library"
    sampling: dict = field(default_factory=dict)
    _layout_pack: Any = None


def load_library(folder: str | Path | None = None, layout_pack: Any = None,
                 exclude_splits: tuple[str, ...] = ()) -> LibraryPack:
    index = load_index(folder)
    if exclude_splits:
        index = index.without_splits(exclude_splits)
    return LibraryPack(index, _layout_pack=layout_pack)


@dataclass(frozen=True)
class SoundChoice:
    cls: str
    candidates: list[SoundRecord]
    how: str  # a sentence for the user: why these recordings


def reference_record(path: str | Path, cls: str, audio: tuple[np.ndarray, int] | None = None) -> SoundRecord:
    """A user's reference file as a record (it is itself placed, like a library hit); its
    first 8 s. ``audio``: the file's samples when the caller has already read them."""
    from engine.library.index import _resample16, analyse

    p = Path(path)
    if not p.is_file():
        raise MediaError("no such file" if not p.exists() else "is not a file", p)
    y, sr = audio if audio is not None else read_stretch(p, 0.0, REFERENCE_S)
    y = y[: int(REFERENCE_S * sr)]
    if len(y) < 0.02 * sr or float(np.max(np.abs(y))) < 1e-5:
        raise MediaError("reference has no sound (silent or shorter than 20 ms)", p)
    an = analyse(_resample16(y, sr))
    return SoundRecord(
        id="ref-" + p.stem, path=str(p.resolve()), start=0.0, duration=round(len(y) / sr, 5), sample_rate=int(sr),
        cls=cls, subclass="reference", material="", description=f"reference {p.name}", source="reference",
        license="user's own", attribution=f"reference file {p}", onset=an.onset, loudness_db=an.loudness_db,
        bands=an.bands, user=True, original=p.name, hit=an.hit,
    )


def _excluded(negative: str) -> set[str]:
    return set(keyword_classes(negative)) if negative.strip() else set()


def choose_sound(index: LibraryIndex, prompt: str, reference: str | None, negative: str = "",
                 video_class: ClassChoice | None = None) -> SoundChoice:
    """Which recordings a lane uses (module doc); LibraryError when nothing fits."""
    banned = _excluded(negative)
    if reference:
        ref_p = Path(reference)
        if not ref_p.is_file():
            raise MediaError("no such file" if not ref_p.exists() else "is not a file", ref_p)
        y, sr = read_stretch(ref_p, 0.0, REFERENCE_SEARCH_S)
        hits, vote = search_audio(index, y, sr, k=60)
        cls = choose_class(index, prompt).cls if prompt.strip() else vote.cls
        near = [index.records[h.index] for h in hits if h.cls == cls][: CANDIDATES - 1]
        ref = reference_record(ref_p, cls, (y, sr))
        how = f"reference {ref_p.name} ({'class from the prompt' if prompt.strip() else 'sounds like'} {cls}) + {len(near)} similar recordings"
        return SoundChoice(cls, [ref, *near], how)
    if prompt.strip():
        choice = choose_class(index, prompt)
    elif video_class is not None:
        choice = video_class
    else:
        raise LibraryError("no prompt, no reference and no video class to choose a sound with")
    if choice.cls in banned:
        raise LibraryError(f"the prompt asks for {choice.cls!r} but the negative prompt excludes it")
    query = prompt.strip() or CLASS_WORDS.get(choice.cls, (choice.cls,))[0]
    hits = search(index, query, k=CANDIDATES, cls=choice.cls)
    if not hits:
        raise LibraryError(f"the library has no {choice.cls!r} recordings")
    how = {
        "words": f"prompt names {choice.cls}",
        "embedding": f"prompt is closest to {choice.cls}",
        "video": f"no prompt: using the class the video suggests, {choice.cls}",
    }.get(choice.how, choice.how)
    return SoundChoice(choice.cls, [index.records[h.index] for h in hits], how)


def output_rate(candidates: list[SoundRecord]) -> int:
    """48 kHz if any candidate is recorded at 48 kHz, else 44.1 kHz (never below the source)."""
    rates = {r.sample_rate for r in candidates}
    return 48000 if any(r >= 48000 for r in rates) else 44100


def render(layout: AudioLayout, choice: SoundChoice, duration: float, seed: int,
           sample_rate: int | None = None) -> Placement:
    rng = np.random.default_rng(seed)
    sr = sample_rate or output_rate(choice.candidates)
    if is_sustained(choice.cls):
        return texture(layout, choice.candidates, sr, duration, rng)
    return place_events(layout, choice.candidates, sr, duration, rng)


def fit_to_duration(layout: AudioLayout, duration: float) -> AudioLayout:
    """A layout of any length stretched over the clip at its own column rate (the neural packs'
    ``fit_layout`` resamples to their grid; placement needs no grid, and no torch)."""
    from engine.audio.layout import resize_layout
    from engine.errors import LayoutError
    from engine.timebase import columns_for

    v = np.asarray(layout.values, np.float32)
    if v.ndim != 2 or v.shape[0] == 0 or not np.all(np.isfinite(v)):
        raise LayoutError(f"layout must be a finite [time, bands] array, got shape {v.shape}")
    if abs(layout.duration - duration) <= 1e-3 or duration <= 0:
        return layout
    m = columns_for(duration, layout.columns_per_second)
    return AudioLayout(np.clip(resize_layout(v, m, v.shape[1]), 0, 1).astype(np.float32), m / duration)


def generate(request: GenerationRequest, lib: LibraryPack, cancel: CancelToken | None = None,
             layout_predictor: Callable[[str, CancelToken | None], Job[AudioLayout]] | None = None,
             video_class: Callable[[AudioLayout], Job[ClassChoice]] | None = None) -> Job[list[Take]]:
    """Takes of ``request.region`` (or the whole clip), each starting at the region's start.
    ``layout_predictor`` (video, cancel) fills a missing layout; ``video_class`` (layout) says
    what the video sounds like when neither a prompt nor a reference does."""
    from engine.media import probe
    from engine.timebase import region_bounds

    if request.takes < 1:
        raise ValueError("takes must be at least 1")
    reference = getattr(request, "reference", None)
    info = probe(request.video_path)
    duration = float(info.duration)
    if request.layout is None:
        if layout_predictor is None:
            raise LibraryError("no layout was given and no layout predictor is installed")
        layout = yield from layout_predictor(request.video_path, cancel)
    else:
        layout = fit_to_duration(request.layout, duration)
    vc = None
    if not request.prompt.strip() and not reference:
        if video_class is None:
            raise LibraryError("no prompt or reference says what the sound is, and the video's class cannot be guessed here")
        vc = yield from video_class(layout)
    choice = choose_sound(lib.index, request.prompt, reference, request.negative_prompt, vc)
    a, b = region_bounds(request.region, duration)
    takes = []
    for k in range(int(request.takes)):
        if cancel is not None:
            cancel.check()
        yield Progress("placing recordings", k, int(request.takes))
        seed = int(request.seed) + k
        pl = render(layout, choice, duration, seed)
        s0, s1 = seconds_to_samples(a, pl.sample_rate), seconds_to_samples(b, pl.sample_rate)
        audio = peak_limit(pl.audio[s0:s1])  # never clip
        used = list(dict.fromkeys(pl.used))  # first use order, no duplicates
        takes.append(Take(
            audio=audio.astype(np.float32), sample_rate=pl.sample_rate, seed=seed, layout=layout,
            engine="library",
            meta={
                "pack": lib.name, "region": (a, b), "prompt": request.prompt,
                "negative_prompt": request.negative_prompt, "reference": reference or "",
                "class": choice.cls, "notice": choice.how,
                "recordings": [r.to_dict() for r in used],
                "credits": [r.credit for r in used],
                "placed_onsets": [t for t in pl.onsets if a <= t < b],
            },
            start=a,
        ))
    yield Progress("placing recordings", int(request.takes), int(request.takes))
    return takes
