"""Held-out content benchmark: does the output sound like the class it was asked for?

    .venv/bin/python -m benchmarks.heldout.fetch       # once: Debian packages -> data/heldout (gitignored)
    .venv/bin/python -m benchmarks.heldout.train       # once: the independent judge -> results/heldout_classifier.json
    nice -n 10 .venv/bin/python benchmarks/bench_heldout.py --rows real,gl,diffusion,ar,library --n 3 --seed 0

Material and judge are independent of everything the engines trained on: real sound effects
from Debian game packages the library does not use (benchmarks/heldout/labels.py), judged by
librosa statistics + a numpy logistic regression trained only on those recordings
(benchmarks/heldout/classifier.py). For every case the judge is refitted WITHOUT the recordings
in that case's montage ("leave-case-out"), so the real montage is never judged by a model that
heard it; the saved all-recordings judge's verdict is recorded too (``label_full``).

Protocol, per class (8) and case (``--n``, seeded): a montage of 2-4 held-out recordings of that
class (each at most 2.5 s) at random times over 6-8 s at 16 kHz; its audio layout
(``engine.audio.layout_from_audio`` with the starter pack's layout settings: 25 columns/s,
5 bands); a still-picture MP4 of the same length (8 fps, 160x120 mid-grey, no audio) as the
video. Rows:

- ``real``      the montage itself
- ``gl``        the layout upsampled to a mel and inverted with Griffin-Lim (layout-shaped noise;
                bench_quality's trivial baseline)
- ``ENGINE``    (``diffusion``, ``ar``, ``library``): the engine with the layout over the still
                clip, twice: prompt = the layout's class ("right") and prompt = another class,
                rotating ("wrong"); see ``run_row``

Metrics per row: how many outputs the judge classes as the layout's class (right prompt / no
prompt) and as the PROMPT's class (wrong prompt), as counts; agreement with the Griffin-Lim
row's label on the same case; mean spectral flatness (frames within 40 dB of the loudest).
A row that cannot run prints why and is recorded as "not available".
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.heldout.classifier import (  # noqa: E402
    LogReg,
    audio_windows_features,
    spectral_flatness_mean,
)
from benchmarks.heldout.labels import CLASSES, PROMPTS  # noqa: E402
from engine.audio import LayoutConfig, MelConfig, layout_from_audio, resample  # noqa: E402
from engine.types import AudioLayout  # noqa: E402

SR = 16000
FPS = 8
SIZE = (160, 120)
MAX_REC_S = 2.5
CLASSIFIER_JSON = ROOT / "benchmarks" / "results" / "heldout_classifier.json"
ENGINE_ROWS = ("diffusion", "ar", "library")
ROW_TITLES = {"real": "real montage", "gl": "layout → Griffin-Lim noise"}


class NotAvailable(Exception):
    """An engine row cannot run here (module, pack or hook missing)."""


# --------------------------------------------------------------------------- montage ----
def place(recordings: Sequence[np.ndarray], times: Sequence[float], duration: float, sr: int = SR) -> np.ndarray:
    """Mix ``recordings`` into ``duration`` seconds of silence, recording i starting at sample
    round(times[i] * sr) (cut at the end)."""
    n = int(round(duration * sr))
    out = np.zeros(n, np.float32)
    for rec, t in zip(recordings, times, strict=False):
        s = int(round(float(t) * sr))
        if s >= n:
            continue
        r = np.asarray(rec, np.float32)[: n - s]
        out[s : s + len(r)] += r
    peak = float(np.max(np.abs(out))) if n else 0.0
    return out / peak * 0.7 if peak > 0.7 else out  # no clipping where events overlap


def crop(rec: np.ndarray, max_s: float = MAX_REC_S, sr: int = SR, fade_s: float = 0.05) -> np.ndarray:
    """At most ``max_s`` seconds; a cut recording fades out over ``fade_s``."""
    n = int(max_s * sr)
    if len(rec) <= n:
        return np.asarray(rec, np.float32)
    r = np.array(rec[:n], np.float32)
    f = int(fade_s * sr)
    r[-f:] *= np.linspace(1.0, 0.0, f, dtype=np.float32)
    return r


@dataclass
class Case:
    id: str
    cls: str
    duration: float
    recording_ids: list[str]
    times: list[float]
    audio: np.ndarray = field(repr=False)
    layout: AudioLayout = field(repr=False)
    wrong_cls: str = ""
    video: Path | None = None

    def record(self) -> dict:
        return {"id": self.id, "class": self.cls, "duration_s": self.duration, "recordings": self.recording_ids,
                "times_s": [round(t, 4) for t in self.times], "wrong_prompt_class": self.wrong_cls,
                "layout_columns": int(self.layout.values.shape[0])}


def make_case(cls: str, j: int, pool: Sequence[tuple[dict, np.ndarray]], seed: int, layout_cfg: LayoutConfig,
              classes: Sequence[str] = CLASSES) -> Case:
    """Case ``j`` of class ``cls``: 2-4 recordings of the class at random times over 6-8 s."""
    ci = list(classes).index(cls)
    rng = np.random.default_rng([seed, ci, j])
    duration = float(rng.integers(6 * FPS, 8 * FPS + 1)) / FPS  # a whole number of video frames
    k = int(min(len(pool), rng.integers(2, 5)))
    pick = rng.choice(len(pool), size=k, replace=False)
    recs = [crop(pool[i][1]) for i in pick]
    times = [float(rng.uniform(0.1, max(0.2, duration - len(r) / SR - 0.1))) for r in recs]  # each fits
    ids = [pool[i][0]["id"] for i in pick]
    audio = place(recs, times, duration)
    layout = layout_from_audio(audio, SR, MelConfig(), layout_cfg)
    wrong = classes[(ci + 1 + j) % len(classes)]
    return Case(f"{cls}-{j}", cls, duration, ids, times, audio, layout, wrong)


def still_video(path: Path, duration: float, fps: int = FPS, size: tuple[int, int] = SIZE, gray: int = 128) -> Path:
    """A video-only H.264 MP4 of one grey picture, ``round(duration * fps)`` frames."""
    from engine.data.clips import write_video

    w, h = size
    frame = np.full((h, w, 3), gray, np.uint8)
    frame[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3] = 96  # a darker square: not a blank frame
    write_video(path, (frame for _ in range(int(round(duration * fps)))), Fraction(fps), w, h)
    return path


# ---------------------------------------------------------------------------- rows ----
def _bench_quality() -> Any:
    """benchmarks/bench_quality.py as a module (this file also runs as a script)."""
    mod = sys.modules.get("bench_quality")
    if mod is None:
        spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "benchmarks" / "bench_quality.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["bench_quality"] = mod
        spec.loader.exec_module(mod)
    return mod


def layout_to_gl(layout: AudioLayout, duration: float) -> np.ndarray:
    """bench_quality's trivial baseline (layout -> 64-bin mel -> Griffin-Lim)."""
    return _bench_quality().layout_to_audio_gl(layout, duration)


class Packs:
    """Each engine's pack, loaded once; a failure becomes NotAvailable for that engine only."""

    def __init__(self, packs: dict[str, str | None] | None = None) -> None:
        self.names = packs or {}
        self._packs: dict[str, Any] = {}
        self._errors: dict[str, str] = {}

    def get(self, engine: str) -> Any:
        if engine not in self._packs and engine not in self._errors:
            try:
                self._packs[engine] = self._load(engine)
            except NotAvailable as exc:
                self._errors[engine] = str(exc)
            except Exception as exc:
                self._errors[engine] = f"{engine} pack: {type(exc).__name__}: {getattr(exc, 'message', exc)}"
        if engine in self._errors:
            raise NotAvailable(self._errors[engine])
        return self._packs[engine]

    def _load(self, engine: str) -> Any:
        name = self.names.get(engine)
        if engine == "diffusion":
            from engine.generation import load_pack

            return load_pack(name)
        if engine == "ar":
            try:
                ar = importlib.import_module("engine.ar")
            except Exception as exc:
                raise NotAvailable(f"engine.ar cannot be imported ({exc})") from exc
            return ar.load_pack(name)
        if engine == "library":
            try:
                lib = importlib.import_module("engine.library")
            except Exception as exc:
                raise NotAvailable(f"engine.library cannot be imported ({type(exc).__name__}: {exc})") from exc
            load = getattr(lib, "load_library", None)
            if load is None:
                raise NotAvailable("engine.library has no load_library() yet")
            return load() if name is None else load(name)
        raise NotAvailable(f"unknown engine {engine!r}")


def run_row(engine: str, prompt_mode: str, case: Case, packs: Packs, seed: int = 0, steps: int | None = None,
            cache_dir: Path | None = None) -> tuple[np.ndarray, str]:
    """``engine`` ("diffusion", "ar", "library", or any engine generation.generate knows) with the
    case's layout over its still clip; prompt = the case's class ("right") or its wrong class.
    Returns (mono audio at SR, the prompt's class)."""
    if prompt_mode not in ("right", "wrong"):
        raise ValueError(f"prompt_mode must be right or wrong, not {prompt_mode!r}")
    import inspect

    from engine.generation import generate
    from engine.progress import run_to_completion
    from engine.types import GenerationRequest

    pcls = case.cls if prompt_mode == "right" else case.wrong_cls
    pack = packs.get(engine)
    kw: dict[str, Any] = {} if steps is None else {"steps": steps}
    req = GenerationRequest(video_path=str(case.video), layout=case.layout, prompt=PROMPTS[pcls], engine=engine,
                            seed=seed, takes=1, **kw)
    gkw = {}
    if cache_dir is not None and "cache_dir" in inspect.signature(generate).parameters:
        gkw["cache_dir"] = cache_dir
    try:
        takes = run_to_completion(generate(req, pack, **gkw))
    except ValueError as exc:
        if "unknown engine" in str(exc):
            raise NotAvailable(f"engine.generation.generate does not dispatch {engine!r} yet ({exc})") from exc
        raise
    take = takes[0]
    audio = np.asarray(take.audio, np.float32)
    if audio.ndim > 1:
        audio = audio.mean(axis=-1)
    if take.sample_rate != SR:
        audio = resample(audio, take.sample_rate, SR)
    return audio, pcls


# --------------------------------------------------------------------------- judge ----
class Judge:
    """Leave-case-out judges: refit without the case's recordings (features cached per recording)."""

    def __init__(self, records: Sequence[dict], audios: Sequence[np.ndarray], full: LogReg | None,
                 l2: float = 1e-2, iters: int = 2000) -> None:
        self.records = list(records)
        self.full = full
        self.l2, self.iters = l2, iters
        self.feats = [audio_windows_features(a, SR) for a in audios]
        self._models: dict[tuple[str, ...], LogReg] = {}

    def model_without(self, ids: Sequence[str]) -> LogReg:
        key = tuple(sorted(ids))
        if key not in self._models:
            X, y, w = [], [], []
            for rec, F in zip(self.records, self.feats, strict=False):
                if rec["id"] in key:
                    continue
                X.append(F)
                y += [CLASSES.index(rec["class"])] * len(F)
                w += [1.0 / len(F)] * len(F)
            self._models[key] = LogReg.fit(np.concatenate(X), y, list(CLASSES), l2=self.l2, iters=self.iters,
                                           sample_weight=np.array(w))
        return self._models[key]

    def judge(self, audio: np.ndarray, case: Case) -> dict:
        F = audio_windows_features(audio, SR)
        p = self.model_without(case.recording_ids).predict_proba(F).mean(axis=0)
        out = {"label": CLASSES[int(p.argmax())], "p_layout_class": float(p[CLASSES.index(case.cls)]),
               "p_wrong_class": float(p[CLASSES.index(case.wrong_cls)]), "n_windows": int(len(F))}
        if self.full is not None:
            out["label_full"] = self.full.classes[int(self.full.predict_proba(F).mean(axis=0).argmax())]
        return out


class ProjectClassifierJudge:
    """The second judge: the project's evaluation CNN (engine.classifier, trained on the Foley
    library's TRAIN split; it trained no engine), its probabilities restricted to the
    benchmark's 8 classes. Fair to the library engine only when the library row places
    recordings the CNN never heard: run it with ``--library`` on an index of the val/test splits."""

    def __init__(self) -> None:
        from engine.classifier import load_classifier

        self.clf = load_classifier()
        self.idx = [self.clf.class_names.index(c) for c in CLASSES]
        self.full = None

    def judge(self, audio: np.ndarray, case: Case) -> dict:
        a = np.asarray(audio, np.float32)
        w, h = SR, SR // 2  # 1 s windows every 0.5 s, kept within 20 dB of the loudest (as the other judge)
        segs = [a[i : i + w] for i in range(0, max(1, len(a) - w + 1), h)] or [a]
        rms = np.array([np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12 for x in segs])
        segs = [x for x, r in zip(segs, rms, strict=True) if r >= rms.max() * 0.1]
        p = self.clf.predict_proba(segs, SR).mean(axis=0)[self.idx]
        return {"label": CLASSES[int(p.argmax())], "p_layout_class": float(p[CLASSES.index(case.cls)] / p.sum()),
                "p_wrong_class": float(p[CLASSES.index(case.wrong_cls)] / p.sum())}


# ------------------------------------------------------------------------- benchmark ----
def row_summary(name: str, recs: list[dict], prompt_mode: str | None) -> dict:
    n = len(recs)
    hit_layout = sum(r["label"] == r["class"] for r in recs)
    s: dict[str, Any] = {"row": name, "status": "ok", "n": n, "prompt": prompt_mode or "none",
                         "layout_class_hits": hit_layout, "layout_class_frac": hit_layout / n if n else None}
    if prompt_mode == "wrong":
        hp = sum(r["label"] == r["prompt_class"] for r in recs)
        s.update(prompt_class_hits=hp, prompt_class_frac=hp / n if n else None)
    if recs and "label_full" in recs[0]:
        s["layout_class_hits_full_judge"] = sum(r["label_full"] == r["class"] for r in recs)
        if prompt_mode == "wrong":
            s["prompt_class_hits_full_judge"] = sum(r["label_full"] == r["prompt_class"] for r in recs)
    fl = [r["flatness"] for r in recs if r.get("flatness") is not None and np.isfinite(r["flatness"])]
    s["flatness_mean"] = float(np.mean(fl)) if fl else None
    s["seconds_per_case"] = float(np.mean([r["seconds"] for r in recs])) if recs else None
    return s


def markdown_table(rows: list[dict]) -> str:
    lines = ["| row | prompt | classed as layout's class | classed as prompt's class | same label as GL noise "
             "| spectral flatness | s / case |", "|---|---|---|---|---|---|---|"]
    for s in rows:
        if s["status"] != "ok":
            lines.append(f"| {s['row']} | – | {s['status']}: {s.get('reason', '')} | | | | |")
            continue
        n = s["n"]
        lay = f"{s['layout_class_hits']}/{n}"
        pr = f"{s['prompt_class_hits']}/{n}" if "prompt_class_hits" in s else "–"
        gl = f"{s['same_as_gl']}/{n}" if "same_as_gl" in s else "–"
        fl = f"{s['flatness_mean']:.3f}" if s.get("flatness_mean") is not None else "–"
        sp = f"{s['seconds_per_case']:.2f}" if s.get("seconds_per_case") is not None else "–"
        lines.append(f"| {s['row']} | {s['prompt']} | {lay} | {pr} | {gl} | {fl} | {sp} |")
    return "\n".join(lines)


def run_benchmark(cases: list[Case], rows: Sequence[str], judge: Judge, packs: Packs, seed: int = 0,
                  steps: int | None = None, cache_dir: Path | None = None, save_audio: Path | None = None,
                  log=print) -> tuple[list[dict], dict[str, list[dict]]]:
    summaries: list[dict] = []
    per_row: dict[str, list[dict]] = {}
    plan: list[tuple[str, str, str | None]] = []  # (row name, kind, prompt mode)
    for r in rows:
        if r in ("real", "gl"):
            plan.append((ROW_TITLES[r], r, None))
        else:
            plan += [(f"{r}, right prompt", r, "right"), (f"{r}, WRONG prompt", r, "wrong")]
    for name, kind, mode in plan:
        recs: list[dict] = []
        status, reason = "ok", ""
        for case in cases:
            t0 = time.perf_counter()
            try:
                if kind == "real":
                    audio, pcls = case.audio, case.cls
                elif kind == "gl":
                    audio, pcls = layout_to_gl(case.layout, case.duration), case.cls
                else:
                    audio, pcls = run_row(kind, mode, case, packs, seed=seed, steps=steps, cache_dir=cache_dir)
            except NotAvailable as exc:
                status, reason = "not available", str(exc)
                break
            except Exception as exc:
                status, reason = "error", f"{type(exc).__name__}: {exc}"
                log(traceback.format_exc())
                break
            dt = time.perf_counter() - t0
            rec = {"case": case.id, "class": case.cls, "prompt_class": pcls, "seconds": round(dt, 3),
                   **judge.judge(audio, case), "flatness": spectral_flatness_mean(audio, SR)}
            recs.append(rec)
            if save_audio is not None:
                import soundfile as sf

                save_audio.mkdir(parents=True, exist_ok=True)
                sf.write(str(save_audio / f"{case.id}__{kind}_{mode or 'none'}.wav"), audio, SR)
        if status != "ok":
            log(f"{name}: {status} ({reason})")
            summaries.append({"row": name, "status": status, "reason": reason})
            continue
        s = row_summary(name, recs, mode)
        summaries.append(s)
        per_row[name] = recs
        log(f"{name}: {s['layout_class_hits']}/{s['n']} classed as the layout's class"
            + (f", {s['prompt_class_hits']}/{s['n']} as the prompt's" if mode == "wrong" else ""))
    gl = per_row.get(ROW_TITLES["gl"])
    if gl is not None:
        gl_label = {r["case"]: r["label"] for r in gl}
        for s in summaries:
            if s["status"] == "ok" and s["row"] != ROW_TITLES["gl"]:
                s["same_as_gl"] = sum(r["label"] == gl_label[r["case"]] for r in per_row[s["row"]])
    return summaries, per_row


def build_cases(records: Sequence[dict], audios: Sequence[np.ndarray], n: int, seed: int, layout_cfg: LayoutConfig,
                workdir: Path) -> list[Case]:
    cases = []
    for cls in CLASSES:
        pool = [(r, a) for r, a in zip(records, audios, strict=False) if r["class"] == cls]
        for j in range(n):
            c = make_case(cls, j, pool, seed, layout_cfg)
            c.video = still_video(workdir / f"{c.id}.mp4", c.duration)
            cases.append(c)
    return cases


def pack_layout_cfg(name: str | None = None) -> LayoutConfig:
    """The diffusion pack's layout settings (starter: 25 columns/s, 5 bands)."""
    try:
        from engine.packs import find_pack, read_manifest

        lay = read_manifest(find_pack(name)).get("layout", {})
        return LayoutConfig(**{k: lay[k] for k in ("columns_per_second", "bands", "norm_min", "norm_max") if k in lay})
    except Exception:
        return LayoutConfig(columns_per_second=25)


def machine() -> dict:
    info = _bench_quality().machine()
    try:
        import os

        info["load_avg"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info


def _library_where() -> str | None:
    """The index the library row uses (the user's, else the embedded starter)."""
    try:
        from engine.library.index import find_library

        return str(find_library().relative_to(ROOT)) if find_library().is_relative_to(ROOT) else str(find_library())
    except Exception:
        return None


def _jsonable(obj: Any) -> Any:
    return _bench_quality()._jsonable(obj)


def foley_judge_records(sfx: Path, splits: Sequence[str]) -> tuple[list[dict], list[np.ndarray]]:
    """The Foley library's recordings of the benchmark's classes in ``splits`` (16 kHz FLAC), as
    extra judge training data. Never used to build cases; never placed by the library engine
    when it runs on the starter library (train split only)."""
    import soundfile as sf

    from engine.data.library import read_manifest, sound_path

    recs, auds = [], []
    for r in read_manifest(sfx):
        if r["split"] in splits and r["class"] in CLASSES:
            a, sr = sf.read(str(sound_path(sfx, r)), dtype="float32", always_2d=True)
            recs.append({"id": "foley-" + r["id"], "class": r["class"], "package": r["source"]})
            auds.append(a.mean(axis=1) if sr == SR else resample(a.mean(axis=1), sr, SR))
    return recs, auds


def main(argv: list[str] | None = None) -> int:
    from benchmarks.heldout.fetch import DATA, load_audio, load_index

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", default="real,gl,diffusion", help="comma-separated: real,gl,diffusion,ar,library")
    ap.add_argument("--n", type=int, default=3, help="cases per class")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None, help="sampling steps (default: the request's, 25)")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--classifier", type=Path, default=CLASSIFIER_JSON)
    ap.add_argument("--pack", default=None, help="diffusion pack (default starter)")
    ap.add_argument("--ar-pack", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--save-audio", type=Path, default=None, help="write every output as WAV here (never commit)")
    ap.add_argument("--judge-extra-splits", default="",
                    help="also train the judge on these splits of the Foley library (e.g. val,test): recordings "
                         "the engines never train on or place (the starter library is the train split), so the "
                         "judge knows those packages' sound too; cases stay held-out montages")
    ap.add_argument("--judge", choices=("independent", "project-classifier"), default="independent",
                    help="independent: the numpy logistic regression trained on held-out packages only; "
                         "project-classifier: engine.classifier (see ProjectClassifierJudge)")
    ap.add_argument("--library", default=None, help="library index folder for the library row (default: the user's, else the starter)")
    ap.add_argument("--sfx", type=Path, default=ROOT / "data" / "sfx", help="the Foley library (v2a data sfx)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "heldout.json")
    args = ap.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    for r in rows:
        if r not in ("real", "gl", *ENGINE_ROWS):
            raise SystemExit(f"unknown row {r!r} (real, gl, {', '.join(ENGINE_ROWS)})")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    t_start = time.time()
    records = load_index(args.data)
    audios = [load_audio(r, args.data) for r in records]
    full = LogReg.load(args.classifier) if args.classifier.is_file() else None
    cinfo = json.loads(args.classifier.read_text()) if args.classifier.is_file() else {}
    extra_splits = [x for x in args.judge_extra_splits.split(",") if x]
    j_records, j_audios = foley_judge_records(args.sfx, extra_splits) if extra_splits else ([], [])
    judge = (Judge(records + j_records, audios + j_audios, full) if args.judge == "independent"
             else ProjectClassifierJudge())
    layout_cfg = pack_layout_cfg(args.pack)
    packs = Packs({"diffusion": args.pack, "ar": args.ar_pack, "library": args.library})
    with tempfile.TemporaryDirectory(prefix="v2a-heldout-") as tmp:
        cases = build_cases(records, audios, args.n, args.seed, layout_cfg, Path(tmp))
        cache = Path(tmp) / "features"
        summaries, per_row = run_benchmark(cases, rows, judge, packs, seed=args.seed, steps=args.steps,
                                           cache_dir=cache, save_audio=args.save_audio,
                                           log=lambda s: print(s, file=sys.stderr))
    table = markdown_table(summaries)
    print(table)
    report = {
        "benchmark": "heldout",
        "question": "does the output sound like the class asked for? (material and judge independent of training)",
        "machine": machine(),
        "wall_seconds": round(time.time() - t_start, 1),
        "settings": {"n_per_class": args.n, "seed": args.seed, "steps": args.steps or "request default (25)",
                     "pack": args.pack or "starter", "ar_pack": args.ar_pack or "starter-ar",
                     "library": (args.library or _library_where()) if "library" in rows else None,
                     "judge_kind": args.judge,
                     "layout": {"columns_per_second": layout_cfg.columns_per_second, "bands": layout_cfg.bands},
                     "video": f"still picture, {FPS} fps, {SIZE[0]}x{SIZE[1]}, H.264, no audio",
                     "montage": f"2-4 recordings (each <= {MAX_REC_S} s) at random times over 6-8 s, 16 kHz",
                     "prompts": PROMPTS,
                     "judge": "leave-case-out refit of the numpy logistic regression (label); "
                              "the saved all-recordings model (label_full)",
                     "judge_extra_training": {"foley_splits": extra_splits,
                                              "recordings_per_class": {c: sum(r["class"] == c for r in j_records)
                                                                       for c in CLASSES}}},
        "classes": list(CLASSES),
        "recordings_per_class": {c: sum(r["class"] == c for r in records) for c in CLASSES},
        "classifier": {k: cinfo.get(k) for k in ("n_recordings", "chance", "majority", "train_file_accuracy")}
        | {"cv_grouped_by_file_accuracy": (cinfo.get("cv_grouped_by_file") or {}).get("file_accuracy"),
           "cv_leave_one_package_out_accuracy": (cinfo.get("cv_leave_one_package_out") or {}).get("file_accuracy")},
        "cases": [c.record() for c in cases],
        "rows": summaries,
        "per_case": per_row,
        "table_markdown": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_jsonable(report), indent=1) + "\n")
    print(f"\nwrote {args.out} ({report['wall_seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
