"""Quality benchmark on held-out test clips: sync, semantics, realism, layout adherence.

    nice -n 10 .venv/bin/python benchmarks/bench_quality.py                 # default rows, N=16
    .venv/bin/python benchmarks/bench_quality.py --n 4 --rows reference,baseline_gl

Rows (``--rows``, comma-separated; ``all`` = every row):

- ``reference``          the clip's true soundtrack (upper bound of every metric; FAD 0 by definition)
- ``baseline_gl``        the TRUE layout upsampled to a mel and inverted with Griffin-Lim: timing
                         metrics cannot tell it from a good generator (REFERENCES.md), so class
                         accuracy and FAD must separate them
- ``diffusion_pred``     diffusion engine, layout predicted from the video (the product default)
- ``diffusion_true``     diffusion with the true layout (upper bound, TiVA ablation)
- ``diffusion_nolayout`` diffusion with the layout condition dropped (``layout_strength=0``)
- ``diffusion_painted``  diffusion with the true layout blurred + quantised as an editor paints it
- ``diffusion_event_tool`` diffusion with a layout painted by the studio's event tool: one click
                         (default decay and intensity) at each event's contact frame, over the
                         bands where that event's sound is loud
- ``ar``                 autoregressive engine (predicted layout), when ``engine.ar`` and its pack exist
- ``diffusion_true_random_phase`` the control: the same mels, Griffin-Lim from random phase
- ``diffusion_true_exemplar_phase`` diffusion with the true layout, but Griffin-Lim starts from the
                         phase of the library engine's placement on that layout (not random phase)
- ``library_*``          the library engine (real recordings placed on the layout), one lane per
                         sound class of the clip with that class's name as the prompt, lanes mixed
                         (as an editor dubs a clip); the index without the library's TEST split, so
                         a test clip's own recordings are never placed:
                         ``library_true`` (true layout of each class's events), ``library_painted``
                         (that layout soft-brushed), ``library_event_tool`` (event-tool clicks per
                         class), ``library_pred`` (predicted layout, the clip's main class as prompt),
                         ``library_reference`` (true layout, no prompt: a TRAIN recording of each
                         class as the reference file)

Metrics (means over clips; FAD over the row's whole set):
onset accuracy (±50 ms) and AP vs the true soundtrack; AA-Align vs the true soundtrack; AV-Align
of the track with the video; class accuracy of the clip's events (our classifier on each event's
segment); FAD (our classifier's embeddings, 1 s windows, vs the true soundtracks); ODF DTW and
Wasserstein; energy L1; layout adherence (recall ±40 ms, outside-event onset rate, envelope
correlation) against the layout the row was given (the true layout for rows given none).

A row that cannot run (engine, pack or classifier missing) is reported as "not available"
with the reason, never a crash. Prints a markdown table and writes JSON with the machine.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.audio import (  # noqa: E402
    LayoutConfig,
    MelConfig,
    denormalize_mel,
    griffin_lim,
    layout_from_audio,
    resample,
    resize_layout,
)
from engine.types import AudioLayout  # noqa: E402

SR = 16000
ALL_ROWS = (
    "reference",
    "baseline_gl",
    "diffusion_pred",
    "diffusion_true",
    "diffusion_nolayout",
    "diffusion_painted",
    "diffusion_event_tool",
    "ar",
    "library_true",
    "library_painted",
    "library_event_tool",
    "library_pred",
    "library_reference",
)
DEFAULT_ROWS = ALL_ROWS
DEFAULT_N = 16
ONSET_TOL_S = 0.05

# metric key -> (column title, format); the order of the table
COLUMNS = [
    ("onset_acc", "onset acc ±50ms ↑", ".3f"),
    ("onset_ap", "onset AP ↑", ".3f"),
    ("aa_align", "AA-Align ↑", ".3f"),
    ("av_align", "AV-Align", ".3f"),
    ("class_acc", "class acc ↑", ".3f"),
    ("fad", "FAD ↓", ".2f"),
    ("odf_dtw", "ODF DTW ↓", ".1f"),
    ("odf_wasserstein_s", "ODF W1 (s) ↓", ".3f"),
    ("energy_l1", "energy L1 ↓", ".4f"),
    ("layout_recall_40ms", "layout recall ±40ms ↑", ".3f"),
    ("layout_recall_20ms", "layout recall ±20ms ↑", ".3f"),
    ("layout_outside_rate", "outside-event onsets ↓", ".3f"),
    ("layout_envelope_corr", "envelope corr ↑", ".3f"),
    ("seconds_per_clip", "s/clip", ".2f"),
]


class NotAvailable(Exception):
    """A row cannot run here (engine/pack missing); the reason goes in the table."""


@dataclass
class Clip:
    id: str
    video: Path
    audio: np.ndarray  # true soundtrack, mono float32 at SR
    events: list[tuple[float, str]]  # (onset seconds, class)
    true_layout: AudioLayout
    meta: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.audio) / SR


# ------------------------------------------------------------------------------ data ----
def _events_from_json(meta: dict) -> list[tuple[float, str]]:
    evs = meta.get("events", [])
    out = []
    for e in evs:
        t = next((e[k] for k in ("time", "onset", "t", "start") if k in e), None)
        c = next((e[k] for k in ("class", "cls", "label") if k in e), None)
        if t is not None and c is not None:
            out.append((float(t), str(c).split("/")[0]))
    return sorted(out)


def _read_reference(video: Path) -> np.ndarray:
    """The exact mix (<id>.flac) when the renderer left one, else the video's audio track."""
    flac = video.with_suffix(".flac")
    if flac.is_file():
        import soundfile as sf

        a, sr = sf.read(str(flac), dtype="float32", always_2d=True)
        a = a.mean(axis=1)
    else:
        from engine.media import read_audio

        a, sr = read_audio(video, sample_rate=SR, mono=True)
    return resample(np.asarray(a, np.float32), sr, SR) if sr != SR else np.asarray(a, np.float32)


def load_clips(data: Path, split: str, n: int, layout_cfg: LayoutConfig, max_seconds: float | None = None,
               skip: int = 0) -> list[Clip]:
    """The first ``n`` clips after the first ``skip`` (sorted by id, so every run sees the same
    ones) of a split."""
    if skip < 0:
        raise SystemExit(f"--skip must be 0 or more, not {skip}")
    folder = data / "clips" / split
    # finished clips only: skip renderer temp files (".x.video.mp4") and clips without events
    videos = sorted(v for v in folder.glob("*.mp4") if not v.name.startswith(".") and v.with_suffix(".json").is_file())
    if not videos:
        raise SystemExit(f"no clips in {folder}; run `v2a data clips` first")
    clips = []
    for v in videos[skip : skip + n]:
        meta_p = v.with_suffix(".json")
        meta = json.loads(meta_p.read_text()) if meta_p.is_file() else {}
        audio = _read_reference(v)
        events = _events_from_json(meta)
        if max_seconds:
            audio = audio[: int(max_seconds * SR)]
            events = [e for e in events if e[0] < max_seconds]
        lay = layout_from_audio(audio, SR, MelConfig(), layout_cfg)
        clips.append(Clip(v.stem, v, audio, events, lay, meta))
    return clips


# --------------------------------------------------------------------------- layouts ----
def painted_like(layout: AudioLayout, levels: int = 4) -> AudioLayout:
    """The true layout as an editor would paint it: smeared in time (~±80 ms) and across
    neighbouring bands by a soft brush, with only a few loudness levels."""
    from scipy.ndimage import gaussian_filter1d

    v = np.asarray(layout.values, np.float64)
    sigma_cols = 0.08 * layout.columns_per_second
    v = gaussian_filter1d(v, sigma=max(sigma_cols, 1e-3), axis=0, mode="nearest")
    if v.shape[1] > 1:
        v = gaussian_filter1d(v, sigma=0.6, axis=1, mode="nearest")
    v = np.round(np.clip(v, 0, 1) * levels) / levels
    return AudioLayout(v.astype(np.float32), layout.columns_per_second)


def event_tool_layout(clip: Clip, band_share: float = 0.5) -> AudioLayout:
    """A layout as an editor makes it with the studio's event tool at its default decay and
    intensity: one event at each of the clip's contact times, over the bands whose loudness in
    the true layout's first 3 columns of the event is at least ``band_share`` of its loudest."""
    from app.model.tools import ToolSettings  # the studio's defaults (no Qt, no torch)
    from engine.audio.layout import paint_event

    tools = ToolSettings()
    true = np.asarray(clip.true_layout.values, np.float32)
    cps = float(clip.true_layout.columns_per_second)
    values = np.zeros_like(true)
    for t, _cls in clip.events:
        k = min(len(true) - 1, int(t * cps))
        profile = true[k : k + 3].max(axis=0)
        loud = np.nonzero(profile >= band_share * profile.max())[0] if profile.max() > 0 else np.arange(true.shape[1])
        paint_event(values, t, cps, tools.decay, int(loud.min()), int(loud.max()), tools.intensity)
    return AudioLayout(values, cps)


def layout_to_audio_gl(layout: AudioLayout, duration: float, n_iter: int = 32, seed: int = 0) -> np.ndarray:
    """Trivial baseline: the layout upsampled to a 64-bin log-mel, Griffin-Lim to a waveform."""
    cfg = MelConfig()
    n_frames = max(1, int(math.ceil(duration * SR / cfg.hop_length)))
    values = np.clip(resize_layout(layout.values, n_frames, cfg.n_mels), 0.0, 1.0)
    mel = denormalize_mel(values, LayoutConfig(columns_per_second=layout.columns_per_second, bands=layout.n_bands))
    y = griffin_lim(mel, cfg, n_iter=n_iter, seed=seed)[: int(round(duration * SR))]
    return np.pad(y, (0, max(0, int(round(duration * SR)) - len(y)))).astype(np.float32)


# ---------------------------------------------------------------------------- engines ----
class Engines:
    """Lazy access to the generation module and the packs; failures become NotAvailable."""

    def __init__(
        self, pack: str | None, steps: int, seed: int, generation: Any = None, cache_dir: Path | None = None,
        ar_pack: str | None = None, layout_guidance: float | None = None,
        layout_guidance_steps: float | None = None,
    ) -> None:
        self.pack_name = pack
        self.layout_guidance = layout_guidance  # None: the pack's sampling setting
        self.layout_guidance_steps = layout_guidance_steps  # None: the pack's sampling setting
        self.ar_pack = ar_pack  # None: engine.ar picks its own (starter-ar)
        self.steps = steps
        self.seed = seed
        self._gen = generation
        self._pack: Any = None
        self._pack_error: str | None = None
        self.cache_dir = cache_dir

    def generation(self) -> Any:
        if self._gen is None:
            try:
                import engine.generation as gen
            except Exception as exc:  # module missing or broken: the row is not available
                raise NotAvailable(f"engine.generation cannot be imported ({type(exc).__name__}: {exc})") from exc
            self._gen = gen
        for fn in ("load_pack", "generate"):
            if not hasattr(self._gen, fn):
                raise NotAvailable(f"engine.generation has no {fn}()")
        return self._gen

    def pack(self) -> Any:
        if self._pack is None and self._pack_error is None:
            gen = self.generation()
            try:
                self._pack = gen.load_pack(self.pack_name)
            except Exception as exc:
                self._pack_error = f"pack {self.pack_name or 'starter'}: {getattr(exc, 'message', exc)}"
        if self._pack_error:
            raise NotAvailable(self._pack_error)
        return self._pack

    def library(self) -> Any:
        """The library engine over the index without the TEST split (see the module doc)."""
        if getattr(self, "_library", None) is None:
            try:
                from engine.library import load_library

                self._library = load_library(None, layout_pack=self.pack(), exclude_splits=("test",))
            except Exception as exc:
                raise NotAvailable(f"library: {getattr(exc, 'message', exc)}") from exc
        return self._library

    def layout_cfg(self) -> LayoutConfig:
        try:
            from engine.packs import find_pack, read_manifest

            lay = read_manifest(find_pack(self.pack_name)).get("layout", {})
            return LayoutConfig(**{k: lay[k] for k in ("columns_per_second", "bands") if k in lay})
        except Exception:
            return LayoutConfig()

    def run(self, clip: Clip, engine: str = "diffusion", layout: AudioLayout | None = None, **changes: Any) -> np.ndarray:
        from engine.progress import run_to_completion
        from engine.types import GenerationRequest

        gen = self.generation()
        if engine == "ar":
            try:
                importlib.import_module("engine.ar")  # (a plain import would rebind `engine`)
            except Exception as exc:
                raise NotAvailable(f"engine.ar cannot be imported ({exc})") from exc
        pack = self.ar_pack if engine == "ar" else self.library() if engine == "library" else self.pack()
        if self.layout_guidance is not None:
            changes.setdefault("layout_guidance", self.layout_guidance)
        if self.layout_guidance_steps is not None:
            changes.setdefault("layout_guidance_steps", self.layout_guidance_steps)
        req = GenerationRequest(video_path=str(clip.video), layout=layout, steps=self.steps, seed=self.seed,
                                takes=1, engine=engine, **changes)
        kwargs = {}
        if self.cache_dir is not None and "cache_dir" in inspect.signature(gen.generate).parameters:
            kwargs["cache_dir"] = self.cache_dir  # features computed once per clip for all rows
        try:
            takes = run_to_completion(gen.generate(req, pack, **kwargs))
        except Exception as exc:
            from engine.errors import PackError

            if isinstance(exc, PackError | ImportError | ModuleNotFoundError):
                raise NotAvailable(f"{engine}: {getattr(exc, 'message', exc)}") from exc
            raise
        take = takes[0]
        self.last_take = take
        audio = np.asarray(take.audio, np.float32)
        if take.sample_rate != SR:
            audio = resample(audio, take.sample_rate, SR)
        return audio


RowFn = Callable[[Clip, Engines], tuple[np.ndarray, AudioLayout | None]]


def _given(e: Engines, c: Clip, layout: AudioLayout) -> tuple[np.ndarray, AudioLayout]:
    """Diffusion with ``layout``, which is also the row's adherence target (built once)."""
    return e.run(c, "diffusion", layout), layout


def class_layouts(clip: Clip, layout: AudioLayout, tail_s: float = 0.1) -> dict[str, AudioLayout]:
    """``layout`` kept only where each sound class's events sound (one lane per class)."""
    cps = float(layout.columns_per_second)
    out: dict[str, AudioLayout] = {}
    evs = clip.meta.get("events", [])
    for cls in sorted({e["class"] for e in evs}):
        mask = np.zeros(layout.n_columns, bool)
        for ev in (e for e in evs if e["class"] == cls):
            a = int(np.floor(float(ev["start"]) * cps)) - 1
            b = int(np.ceil((float(ev["start"]) + float(ev.get("sound_duration", 0.5)) + tail_s) * cps))
            mask[max(0, a) : max(0, b)] = True
        out[cls] = AudioLayout((layout.values * mask[:, None]).astype(np.float32), cps)
    return out


def _class_event_tool(clip: Clip) -> dict[str, AudioLayout]:
    out = {}
    for cls in sorted({e["class"] for e in clip.meta.get("events", [])}):
        sub = Clip(clip.id, clip.video, clip.audio, [ev for ev in clip.events if ev[1] == cls], clip.true_layout, clip.meta)
        out[cls] = event_tool_layout(sub)
    return out


def _prompt(cls: str) -> str:
    from engine.library.labels import CLASS_WORDS

    return CLASS_WORDS.get(cls, (cls,))[0]


def _library_lanes(e: Engines, c: Clip, lanes: dict[str, AudioLayout], target: AudioLayout,
                   reference: bool = False) -> tuple[np.ndarray, AudioLayout]:
    """One library-engine lane per class, mixed (peak-limited like the studio's mix)."""
    mix = np.zeros(len(c.audio), np.float32)
    for cls, lay in lanes.items():
        if reference:
            y = e.run(c, "library", lay, prompt="", reference=_train_reference(e, cls))
        else:
            y = e.run(c, "library", lay, prompt=_prompt(cls))
        n = min(len(mix), len(y))
        mix[:n] += y[:n]
    peak = float(np.max(np.abs(mix))) if mix.size else 0.0
    return (mix * (0.98 / peak) if peak > 0.98 else mix), target


def _train_reference(e: Engines, cls: str) -> str:
    """A TRAIN-split recording of ``cls`` (its original file when it is a whole file)."""
    lib = e.library()
    recs = [r for r in lib.index.records if r.cls == cls and r.split == "train" and r.start == 0.0]
    if not recs:
        raise NotAvailable(f"no train recording of {cls} to use as a reference")
    return recs[0].path


def _exemplar_phase(e: Engines, c: Clip, exemplar: bool = True) -> tuple[np.ndarray, AudioLayout]:
    """Diffusion with the true layout, vocoded by Griffin-Lim (32 iterations) started from the
    phase of the library engine's placement of real recordings on the same layout, or (the
    control, ``exemplar=False``) from random phase (issue 19's vocoder test)."""
    from engine.audio.mel import MelConfig as _Mel

    placed = _library_lanes(e, c, class_layouts(c, c.true_layout), c.true_layout)[0] if exemplar else None
    e.run(c, "diffusion", c.true_layout)
    log_mel = np.asarray(e.last_take.meta["log_mel"], np.float32)
    y = griffin_lim(log_mel, _Mel(), n_iter=32, seed=e.seed, init_audio=placed)
    n = len(c.audio)
    return np.pad(y[:n], (0, max(0, n - len(y)))), c.true_layout


def _main_class(c: Clip) -> str:
    from collections import Counter

    return Counter(cls for _, cls in c.events).most_common(1)[0][0] if c.events else ""


def _row_functions() -> dict[str, RowFn]:
    return {
        "reference": lambda c, e: (c.audio, c.true_layout),
        "baseline_gl": lambda c, e: (layout_to_audio_gl(c.true_layout, c.duration), c.true_layout),
        "diffusion_pred": lambda c, e: (e.run(c, "diffusion", None), None),
        "diffusion_true": lambda c, e: (e.run(c, "diffusion", c.true_layout), c.true_layout),
        "diffusion_nolayout": lambda c, e: (e.run(c, "diffusion", None, layout_strength=0.0), None),
        "diffusion_painted": lambda c, e: _given(e, c, painted_like(c.true_layout)),
        "diffusion_event_tool": lambda c, e: _given(e, c, event_tool_layout(c)),
        "ar": lambda c, e: (e.run(c, "ar", None), None),
        "ar_true": lambda c, e: (e.run(c, "ar", c.true_layout), c.true_layout),
        "library_true": lambda c, e: _library_lanes(e, c, class_layouts(c, c.true_layout), c.true_layout),
        "library_painted": lambda c, e: _library_lanes(
            e, c, {k: painted_like(v) for k, v in class_layouts(c, c.true_layout).items()}, painted_like(c.true_layout)),
        "library_event_tool": lambda c, e: _library_lanes(e, c, _class_event_tool(c), event_tool_layout(c)),
        "library_pred": lambda c, e: (e.run(c, "library", None, prompt=_prompt(_main_class(c))), None),
        "library_reference": lambda c, e: _library_lanes(e, c, class_layouts(c, c.true_layout), c.true_layout, reference=True),
        "diffusion_true_exemplar_phase": lambda c, e: _exemplar_phase(e, c),
        "diffusion_true_random_phase": lambda c, e: _exemplar_phase(e, c, exemplar=False),
    }


# ---------------------------------------------------------------------------- metrics ----
class VideoPeaks:
    """Optical-flow peaks per clip, computed once and shared by all rows (AV-Align)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[np.ndarray, float]] = {}

    def get(self, clip: Clip) -> tuple[np.ndarray, float]:
        if clip.id not in self._cache:
            from engine.metrics.align import _read_video_gray, flow_magnitudes_job, video_peaks
            from engine.progress import run_to_completion

            frames, fps, total = _read_video_gray(clip.video)
            flow = run_to_completion(flow_magnitudes_job(frames, total))
            self._cache[clip.id] = (video_peaks(flow, fps), float(fps))
        return self._cache[clip.id]


def clip_metrics(
    clip: Clip, audio: np.ndarray, target_layout: AudioLayout, peaks: VideoPeaks, classifier: Any
) -> dict[str, float]:
    from engine.audio import detect_onsets
    from engine.metrics import (
        aa_align,
        energy_l1,
        iou_score,
        layout_adherence,
        odf_dtw,
        odf_wasserstein,
        onset_accuracy_ap,
    )
    from engine.metrics.align import AV_ONSETS

    n = len(clip.audio)
    audio = np.asarray(audio, np.float32)[:n]
    audio = np.pad(audio, (0, n - len(audio)))
    out: dict[str, float] = {}
    oa = onset_accuracy_ap(audio, SR, reference=clip.audio, tolerance=ONSET_TOL_S)
    out["onset_acc"], out["onset_ap"] = oa["onset_acc"], oa["onset_ap"]
    out["aa_align"] = aa_align(audio, clip.audio, SR)
    vp, fps = peaks.get(clip)
    out["av_align"] = iou_score(detect_onsets(audio, SR, AV_ONSETS), vp, 1.0 / fps, strict=True)
    out["odf_dtw"] = odf_dtw(audio, SR, clip.audio)
    out["odf_wasserstein_s"] = odf_wasserstein(audio, SR, clip.audio)
    out["energy_l1"] = energy_l1(audio, SR, clip.audio)
    ad = layout_adherence(target_layout, audio, SR)
    out["layout_recall_40ms"] = ad["recall_40ms"]
    out["layout_recall_20ms"] = ad["recall_20ms"]
    out["layout_outside_rate"] = ad["outside_rate"]
    out["layout_envelope_corr"] = ad["envelope_corr"]
    if classifier is not None and clip.events:
        ev = classifier.event_accuracy(audio, SR, clip.events)
        out["class_acc"] = ev["accuracy"]
        out["class_acc_top3"] = ev.get("top3_accuracy", float("nan"))
        out["_class_hits"], out["_class_n"] = ev.get("hits", 0), ev["n"]
        out["_class_top3_hits"] = ev.get("top3_hits", 0)
    return {k: float(v) for k, v in out.items()}


def _mean(values: Sequence[float]) -> float:
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    return float(v.mean()) if v.size else float("nan")


# -------------------------------------------------------------------------- benchmark ----
def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()
        info["memory_gb"] = round(int(mem[1]) / 1024**2, 1)
    except OSError:
        info["cpu"] = platform.processor()
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:
        pass
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def run_benchmark(
    clips: Sequence[Clip],
    rows: Sequence[str],
    engines: Engines,
    classifier: Any = None,
    classifier_problem: str = "",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    fns = _row_functions()
    peaks = VideoPeaks()
    ref_emb = classifier.embed_windows([c.audio for c in clips], SR) if classifier is not None else None
    results: dict[str, Any] = {}
    for row in rows:
        if row not in fns:
            raise SystemExit(f"unknown row {row!r}; rows: {', '.join(fns)}")
        per_clip: list[dict] = []
        audios: list[np.ndarray] = []
        status, reason = "ok", ""
        t_gen = 0.0
        for clip in clips:
            t0 = time.perf_counter()
            try:
                audio, given_layout = fns[row](clip, engines)
            except NotAvailable as exc:
                status, reason = "not available", str(exc)
                break
            except Exception as exc:  # a crash in one engine must not lose the other rows
                status, reason = "error", f"{type(exc).__name__}: {exc}"
                log(traceback.format_exc())
                break
            t_gen += time.perf_counter() - t0
            m = clip_metrics(clip, audio, given_layout or clip.true_layout, peaks, classifier)
            m["id"] = clip.id
            per_clip.append(m)
            audios.append(audio)
        entry: dict[str, Any] = {"status": status}
        if status != "ok":
            entry["reason"] = reason
            log(f"{row}: {status} ({reason})")
            results[row] = entry
            continue
        keys = [k for k, _, _ in COLUMNS if k not in ("fad", "seconds_per_clip")]
        entry["metrics"] = {k: _mean([m.get(k, float("nan")) for m in per_clip]) for k in keys}
        hits = sum(m.get("_class_hits", 0) for m in per_clip)
        n_ev = sum(m.get("_class_n", 0) for m in per_clip)
        entry["metrics"]["class_acc_events"] = hits / n_ev if n_ev else float("nan")  # pooled over events
        top3 = sum(m.get("_class_top3_hits", 0) for m in per_clip)
        entry["metrics"]["class_acc_top3_events"] = top3 / n_ev if n_ev else float("nan")
        if classifier is not None:
            from engine.classifier import fad

            emb = classifier.embed_windows(audios, SR)
            entry["metrics"]["fad"] = fad(emb, ref_emb)
        else:
            entry["metrics"]["fad"] = float("nan")
            entry["metrics_missing"] = f"class accuracy and FAD: {classifier_problem}"
        entry["metrics"]["seconds_per_clip"] = t_gen / max(1, len(per_clip))
        entry["per_clip"] = [{k: v for k, v in m.items() if not k.startswith("_")} for m in per_clip]
        entry["n_clips"] = len(per_clip)
        results[row] = entry
        log(f"{row}: done ({len(per_clip)} clips, {t_gen:.1f} s generating)")
    return results


def markdown_table(results: dict[str, Any]) -> str:
    head = "| row | " + " | ".join(t for _, t, _ in COLUMNS) + " |"
    sep = "|---|" + "---|" * len(COLUMNS)
    lines = [head, sep]
    for row, entry in results.items():
        if entry["status"] != "ok":
            lines.append(f"| {row} | {entry['status']}: {entry.get('reason', '')} |" + " |" * (len(COLUMNS) - 1))
            continue
        cells = []
        for k, _, fmt in COLUMNS:
            v = entry["metrics"].get(k, float("nan"))
            cells.append("–" if v is None or not np.isfinite(v) else format(v, fmt))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return None if not np.isfinite(obj) else round(float(obj), 6)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def load_classifier_or_reason(path: str | None) -> tuple[Any, str]:
    try:
        from engine.classifier import load_classifier

        return load_classifier(path), ""
    except Exception as exc:
        return None, str(getattr(exc, "message", exc))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="data root (default $V2A_DATA or ./data)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--n", type=int, default=DEFAULT_N, help=f"number of clips (default {DEFAULT_N})")
    ap.add_argument("--skip", type=int, default=0,
                    help="skip the first K clips (more held-out clips without re-running the first n)")
    ap.add_argument("--rows", default=",".join(DEFAULT_ROWS), help="comma-separated rows, or 'all'")
    ap.add_argument("--pack", default=None, help="diffusion pack (default: starter)")
    ap.add_argument("--ar-pack", default=None, help="autoregressive pack (default: engine.ar's choice)")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--layout-guidance", type=float, default=None,
                    help="diffusion layout guidance (default: the pack's, 1.0)")
    ap.add_argument("--layout-guidance-steps", type=float, default=None,
                    help="share of the steps layout guidance acts on (default: the pack's, 0.5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=None, help="cut clips to this length")
    ap.add_argument("--classifier", default=None, help="classifier folder (default resources/classifier)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "quality.json")
    args = ap.parse_args(argv)

    from engine.data import data_root

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = list(_row_functions()) if args.rows == "all" else [r.strip() for r in args.rows.split(",") if r.strip()]
    t_start = time.time()
    with tempfile.TemporaryDirectory(prefix="v2a-bench-") as cache:
        engines = Engines(args.pack, args.steps, args.seed, cache_dir=Path(cache), ar_pack=args.ar_pack,
                          layout_guidance=args.layout_guidance, layout_guidance_steps=args.layout_guidance_steps)
        clips = load_clips(data_root(args.data), args.split, args.n, engines.layout_cfg(), args.max_seconds,
                           args.skip)
        classifier, problem = load_classifier_or_reason(args.classifier)
        if classifier is None:
            print(f"classifier not available: {problem}", file=sys.stderr)
        results = run_benchmark(clips, rows, engines, classifier, problem, log=lambda s: print(s, file=sys.stderr))
    table = markdown_table(results)
    print(table)
    report = {
        "benchmark": "quality",
        "split": args.split,
        "n_clips": len(clips),
        "clip_ids": [c.id for c in clips],
        "total_audio_seconds": round(sum(c.duration for c in clips), 2),
        "n_events": sum(len(c.events) for c in clips),
        "settings": {"pack": args.pack or "starter", "ar_pack": args.ar_pack, "steps": args.steps, "seed": args.seed,
                     "skip": args.skip,
                     "onset_tolerance_s": ONSET_TOL_S, "max_seconds": args.max_seconds,
                     "layout_guidance": (args.layout_guidance if args.layout_guidance is not None
                                         else "the pack's (starter: 1.0)"),
                     "layout_guidance_steps": (args.layout_guidance_steps if args.layout_guidance_steps is not None
                                               else "the pack's (starter: 0.5)")},
        "classifier": None if classifier is None else {
            "path": args.classifier or "resources/classifier",
            "test_accuracy": classifier.config.extra.get("test_accuracy"),
            "classes": len(classifier.class_names),
        },
        "machine": machine(),
        "wall_seconds": round(time.time() - t_start, 1),
        "rows": results,
        "table_markdown": table,
    }
    from engine.safe_write import atomic_output

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out) as tmp:
        tmp.write_text(json.dumps(_jsonable(report), indent=2) + "\n")
    print(f"\nwrote {args.out} ({report['wall_seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
