"""Job bodies that run in the engine worker process (see ``engine_client``). Qt-free.

Each ``*_job`` factory returns a picklable callable ``fn(ctx, cancel)`` — a
``functools.partial`` of a module-level function over plain data — because the engine thread
sends it to the worker process. Heavy modules (``engine.generation`` → torch) are imported
inside the job functions, so importing this module stays light and torch only ever loads in
the worker process.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from app.model.mix import normalize_loudness, placed, resample, spliced_take, take_display
from app.model.project import TakeRecord
from engine.api import (
    AudioLayout,
    Cancelled,
    CancelToken,
    GenerationRequest,
    MediaError,
    PackError,
    Progress,
    Take,
    resize_layout,
    timebase,
)

EngineJob = Callable[[Any, CancelToken], Any]  # (EngineContext in the worker, cancel token)


@dataclass(frozen=True)
class PredictResult:
    layout: AudioLayout
    source: str  # what the status bar tells the user



def audio_layout_of_clip(path: str, duration: float, columns_per_second: float, bands: int) -> AudioLayout | None:
    """The clip's own sound as a layout (the fallback when no predictor is available)."""
    from engine.api import LayoutConfig, layout_from_audio, probe, read_audio

    info = probe(path)
    if not info.audio:
        return None
    audio, sr = read_audio(path, 16000)
    if len(audio) == 0 or float(np.max(np.abs(audio))) < 1e-5:
        return None
    lay = layout_from_audio(audio, sr, layout_cfg=LayoutConfig(columns_per_second=columns_per_second, bands=bands))
    n = max(1, int(round(duration * columns_per_second)))
    vals = resize_layout(lay.values, lay.n_columns, bands) if lay.n_bands != bands else lay.values
    vals = vals[:n] if vals.shape[0] >= n else np.pad(vals, ((0, n - vals.shape[0]), (0, 0)))
    return AudioLayout(vals.astype(np.float32), columns_per_second)


def predict_layout_job(path: str, pack_name: str, duration: float, columns_per_second: float = 10.0,
                       bands: int = 5) -> EngineJob:
    return partial(_predict_layout, path, pack_name, duration, columns_per_second, bands)


def _predict_layout(path: str, pack_name: str, duration: float, columns_per_second: float, bands: int,
                    ctx, cancel: CancelToken) -> Generator[Progress, None, PredictResult]:
    yield Progress("predicting layout", 0, 1)
    from engine.api import predict_layout  # torch loads here, in the engine worker process

    try:
        pack = ctx.pack(pack_name)
        layout = yield from predict_layout(path, pack, cancel)
        return PredictResult(layout, f"Layout predicted from the picture by pack “{pack_name}”")
    except PackError as e:
        why = f"pack problem: {e.message}"
    cancel.check()
    lay = audio_layout_of_clip(path, duration, columns_per_second, bands)
    yield Progress("predicting layout", 1, 1)
    if lay is None:
        n = max(1, int(round(duration * columns_per_second)))
        return PredictResult(
            AudioLayout(np.zeros((n, bands), np.float32), columns_per_second),
            f"Empty layout ({why}; the clip has no audio to start from) — paint the events",
        )
    return PredictResult(lay, f"Layout taken from the clip's own audio ({why})")


@dataclass
class GeneratedTakes:
    """Per lane: finished take records (region takes already spliced into their base) and
    what the timeline shows for each (computed here, off the GUI thread)."""

    takes: dict[str, list[TakeRecord]]
    display: dict[str, tuple]


def generate_job(
    items: list[tuple[str, str, GenerationRequest]],
    pack_name: str,
    bases: dict[str, TakeRecord] | None = None,
) -> EngineJob:
    """``items`` = (lane id, lane name, request); ``bases`` = the picked take per lane when a
    region is regenerated (the new audio is spliced into it)."""
    return partial(_generate, items, pack_name, bases)


def _generate(items: list[tuple[str, str, GenerationRequest]], pack_name: str,
              bases: dict[str, TakeRecord] | None, ctx, cancel: CancelToken) -> Generator[Progress, None, GeneratedTakes]:
    raw = yield from _generate_raw(items, pack_name, ctx, cancel)
    yield Progress("analysing takes", 0, 1)
    out = GeneratedTakes({}, {})
    for lane_id, takes in raw.items():
        req = next(r for lid, _n, r in items if lid == lane_id)
        recs = []
        for t in takes:
            meta = {k: v for k, v in t.meta.items() if k != "log_mel"}
            audio = np.asarray(t.audio, np.float32)
            rec = TakeRecord(audio, int(t.sample_rate), int(t.seed), t.engine, None, meta)
            base = (bases or {}).get(lane_id)
            if req.region is not None and base is not None:
                rec = spliced_take(base, rec, req.region, t.start)
            elif t.start > 0:  # a region with nothing to splice into: silence before it
                n = timebase.seconds_to_samples(t.end, t.sample_rate)
                rec = TakeRecord(placed(audio, int(t.sample_rate), t.start, n), int(t.sample_rate), int(t.seed),
                                 t.engine, req.region, meta)
            cancel.check()
            out.display[rec.id] = take_display(rec.audio, rec.sample_rate)
            recs.append(rec)
        out.takes[lane_id] = recs
    return out


def _generate_raw(items: list[tuple[str, str, GenerationRequest]], pack_name: str, ctx,
                  cancel: CancelToken) -> Generator[Progress, None, dict[str, list[Take]]]:
    yield Progress("loading pack", 0, 1)
    from engine.api import generate  # torch loads here, in the engine worker process

    out: dict[str, list[Take]] = {}
    for k, (lane_id, name, req) in enumerate(items):
        # The library engine's "pack" is the sound library; the project's pack predicts or
        # fits its layout when the request needs one.
        pack = ctx.library(pack_name) if req.engine == "library" else ctx.pack(pack_name)
        g = generate(req, pack, cancel)
        while True:
            try:
                p = next(g)
            except StopIteration as stop:
                out[lane_id] = list(stop.value)
                break
            cancel.check()
            prefix = f"{name} ({k + 1}/{len(items)})" if len(items) > 1 else name
            yield Progress(f"{prefix}: {p.stage}", p.step, p.total)
    return out


def library_search_job(query: str, k: int = 20) -> EngineJob:
    """Recordings of the sound library for a query, best first, as plain dict rows (id,
    class, subclass, source, license, duration, sample_rate, path, start). A query that
    matches no class fails with the engine's one-line message, which lists the classes."""
    return partial(_library_search, query, k)


def _library_search(query: str, k: int, ctx, cancel: CancelToken) -> Generator[Progress, None, list[dict]]:
    from engine.api import choose_class
    from engine.api import search_library as search

    yield Progress("searching the sound library", 0, 1)
    index = ctx.library().index
    choose_class(index, query)  # LibraryError naming the classes when nothing fits
    cancel.check()
    rows = []
    for h in search(index, query, k=k):
        r = index.records[h.index]
        rows.append({"id": r.id, "class": r.cls, "subclass": r.subclass, "source": r.source,
                     "license": r.license, "duration": float(r.duration), "sample_rate": int(r.sample_rate),
                     "path": r.path, "start": float(r.start)})
    yield Progress("searching the sound library", 1, 1)
    return rows


def reference_layout_job(path: str, columns_per_second: float, bands: int) -> EngineJob:
    """A layout from a reference recording (vocal imitation / cue) for the dubbing workflow."""
    return partial(_reference_layout, path, columns_per_second, bands)


def _reference_layout(path: str, columns_per_second: float, bands: int, ctx,
                      cancel: CancelToken) -> Generator[Progress, None, np.ndarray]:
    from engine.api import LayoutConfig, layout_from_audio, read_audio

    yield Progress("reading reference", 0, 2)
    audio, sr = read_audio(path, 16000)
    if len(audio) == 0:
        raise MediaError("the recording is empty", path)
    cancel.check()
    yield Progress("analysing reference", 1, 2)
    lay = layout_from_audio(audio, sr, layout_cfg=LayoutConfig(columns_per_second=columns_per_second, bands=bands))
    n = int(round(lay.duration * columns_per_second)) if lay.columns_per_second != columns_per_second else lay.n_columns
    if (n, bands) == lay.values.shape:
        return lay.values
    return resize_layout(lay.values, n, bands).astype(np.float32)


@dataclass(frozen=True)
class ExportSpec:
    source: str
    out: str
    kind: str  # "video" | "wav" | "flac"
    mode: str = "replace"  # for video
    sample_rate: int = 48000
    normalize: bool = False
    target_lufs: float = -23.0
    stems: bool = False


def export_job(spec: ExportSpec, sources: list[tuple[str, np.ndarray, int, float]], duration: float,
               credits: list[tuple[str, list[str]]] | None = None) -> EngineJob:
    """Write the mix of ``sources`` (name, audio, sr, gain dB) and optionally one stem per
    source — never onto the source clip, always atomically (engine.media). ``credits`` =
    (lane name, credit lines) for lanes whose take uses library recordings: they are listed in
    ``<output stem>.credits.txt`` beside the export."""
    return partial(_export, spec, sources, duration, credits or [])


def credits_text(out_name: str, credits: list[tuple[str, list[str]]]) -> str:
    """The credits file: per lane, one line per recording (source, license, attribution)."""
    lines = [f"Sound credits for {out_name} (V2A Studio, library engine)",
             "Each line: file (class/subclass) — source: original path — license — attribution", ""]
    for lane, lane_credits in credits:
        lines.append(f"{lane}:")
        lines += [f"  {c}" for c in lane_credits]
        lines.append("")
    return "\n".join(lines)


def _export(spec: ExportSpec, sources: list[tuple[str, np.ndarray, int, float]], duration: float,
            credits: list[tuple[str, list[str]]], ctx, cancel: CancelToken) -> Generator[Progress, None, list[str]]:
    from engine.api import check_output_path, mux, seconds_to_samples, write_audio

    out = Path(spec.out)
    # Suffix and folder before rendering: a refusal must not come after the whole mix.
    from engine.api import MUX_CONTAINERS as CONTAINERS

    check_output_path(out, [spec.source], suffixes=CONTAINERS if spec.kind == "video" else (f".{spec.kind}",))
    total = 2 + (len(sources) if spec.stems else 0)
    yield Progress("rendering mix", 0, total)
    n = seconds_to_samples(duration, spec.sample_rate)
    stems: dict[str, np.ndarray] = {}
    for name, a, sr, gain_db in sources:
        buf = np.zeros(n, np.float32)
        r = resample(a, sr, spec.sample_rate) * (10 ** (gain_db / 20))
        buf[: min(n, len(r))] = r[:n]
        key, k = name, 2
        while key in stems:  # two lanes with one name still get two stems
            key, k = f"{name}-{k}", k + 1
        stems[key] = buf
        cancel.check()
    audio = np.sum(list(stems.values()), axis=0).astype(np.float32) if stems else np.zeros(n, np.float32)
    gain_db = 0.0
    if spec.normalize:
        audio, gain_db = normalize_loudness(audio, spec.sample_rate, spec.target_lufs)
    cancel.check()
    yield Progress("writing", 1, total)
    if spec.kind == "video":
        mux(spec.source, (audio, spec.sample_rate), out, mode=spec.mode, sample_rate=spec.sample_rate)
    else:
        write_audio(out, audio, spec.sample_rate)
    written = [str(out)]
    if spec.stems:
        suffix = ".wav" if spec.kind != "flac" else ".flac"
        for i, (name, a) in enumerate(stems.items()):
            if cancel.cancelled:
                raise Cancelled()
            yield Progress(f"stem {name}", 2 + i, total)
            s = a * (10 ** (gain_db / 20))
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "lane"
            p = out.with_name(f"{out.stem}.stem-{safe}{suffix}")
            check_output_path(p, [spec.source])
            write_audio(p, s, spec.sample_rate)
            written.append(str(p))
    if any(c for _lane, c in credits):
        from engine.api import atomic_output

        # Library recordings come with licenses that ask for attribution: the credits travel
        # with every export that uses them.
        cp = out.with_name(f"{out.stem}.credits.txt")
        with atomic_output(cp, [spec.source]) as tmp:
            tmp.write_text(credits_text(out.name, [(n, c) for n, c in credits if c]), encoding="utf-8")
        written.append(str(cp))
    yield Progress("done", total, total)
    return written
