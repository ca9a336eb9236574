"""``engine.ar.generate``: GenerationRequest -> Takes with the AR engine (a Job generator).

Durations come from the video stream; the layout is the request's (painted / loaded), else
the ``layout_predictor`` the caller passes (the dispatcher gives the diffusion pack's T), else
the learned empty layout. Sampling settings the request leaves ``None`` are the pack's
(``engine.packs.config.resolve``). Takes cover exactly the requested region and start at its
start. Continuation: a request carrying ``context_audio = (array, sr)`` (a take to extend or to
regenerate after a point) feeds the context's codes up to ``region[0]`` (or its end) as the
prefix and samples on; the take joins the context with crossfades inside the region.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import MediaError
from engine.progress import CancelToken, Progress
from engine.types import AudioLayout, GenerationRequest, Take

_MODELS: dict[str, tuple[Any, dict]] = {}
_FEATS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
XFADE_S = 0.04


def load_models(pack_dir: Path) -> tuple[Any, dict]:
    """Load (and keep) the AR models of a pack; the key includes the manifest's mtime."""
    from engine.ar.pack import load_ar_pack

    key = f"{Path(pack_dir).resolve()}:{(Path(pack_dir) / 'pack.json').stat().st_mtime_ns}"
    if key not in _MODELS:
        _MODELS.clear()
        _MODELS[key] = load_ar_pack(pack_dir)
    return _MODELS[key]


def visual_for(path: str | Path, spec: dict) -> tuple[np.ndarray, np.ndarray]:
    from engine.ar.visual import features_for_video

    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, json.dumps(spec, sort_keys=True))
    if key not in _FEATS:
        if len(_FEATS) > 8:
            _FEATS.clear()
        _FEATS[key] = features_for_video(p, spec)
    return _FEATS[key]


def _duration(path: str | Path) -> float:
    from engine.media import probe

    info = probe(path)
    d = info.video.duration if info.video is not None and info.video.duration > 0 else info.duration
    if not d or d <= 0:
        raise MediaError("clip has zero length", path)
    return float(d)


def _sample(models, gen_end, layout, visual, text, neg, settings, request, prefix, check):  # noqa: ANN001, ANN202
    from engine.ar.pipeline import iter_generate_codes

    job = iter_generate_codes(models, gen_end, layout, visual, text, neg, settings, int(request.seed),
                              int(request.takes), prefix)
    while True:
        try:
            step, total = next(job)
        except StopIteration as stop:
            return stop.value
        if step % 8 == 0 or step == total:
            check()
            yield Progress("sampling", step, total)


def generate_job(
    request: GenerationRequest, pack: Any = None, cancel: CancelToken | None = None,
    layout_predictor: Callable[[Any, CancelToken | None], Generator[Progress, None, AudioLayout]] | None = None,
) -> Generator[Progress, None, list[Take]]:
    from engine.ar import resolve_pack_dir
    from engine.ar.conditions import n_token_frames
    from engine.ar.pipeline import audio_to_codes, codes_to_audio
    from engine.ar.sampling import SampleSettings
    from engine.audio import layout_from_audio
    from engine.audio.dsp import join_edges, peak_limit, resample
    from engine.packs import read_manifest
    from engine.packs.config import pack_config, resolve
    from engine.timebase import region_bounds, seconds_to_column, seconds_to_samples

    def check() -> None:
        if cancel is not None:
            cancel.check()

    if request.takes < 1:
        raise ValueError("takes must be at least 1")
    check()
    pack_dir = resolve_pack_dir(pack)
    yield Progress("loading", 0, 1)
    models, sec = load_models(pack_dir)
    yield Progress("loading", 1, 1)
    sr = models.mel_cfg.sample_rate
    fr = models.frame_rate
    duration = _duration(request.video_path)

    # ---- conditions
    visual = None
    if models.model.cfg.visual_dim > 0:
        yield Progress("features", 0, 1)
        visual = visual_for(request.video_path, sec["visual"])
        yield Progress("features", 1, 1)
    check()
    layout = request.layout
    layout_source = "request"
    if layout is None and layout_predictor is not None:  # e.g. the diffusion pack's T
        layout = yield from layout_predictor(request.video_path, cancel)
        layout_source = "predicted"
    if layout is None:
        layout_source = "none"
    elif abs(layout.duration - duration) > 1e-3:
        # a layout of another length (from a recording) is stretched over this clip
        layout = AudioLayout(layout.values, layout.n_columns / duration)
    text = neg = None
    if models.model.cfg.text_dim > 0 and (request.prompt.strip() or request.negative_prompt.strip()):
        from engine.text import encode_text

        if request.prompt.strip():
            text = encode_text(request.prompt.strip())[0]
        if request.negative_prompt.strip():
            neg = encode_text(request.negative_prompt.strip())[0]
    check()

    # ---- sampling: what the request sets, else the pack's (V-AURA's guidance 6.0 by default)
    req = resolve(request, pack_config(read_manifest(pack_dir), pack_dir, engine="ar").sampling)
    settings = SampleSettings(
        guidance=float(req.guidance),
        top_k=int(req.top_k),
        temperature=float(req.temperature),
        stride=int(sec.get("sampling", {}).get("stride", 16)),
    )

    # ---- region / continuation
    ctx = getattr(request, "context_audio", None)
    ctx_audio = None
    a, b = region_bounds(request.region, duration)
    prefix = None
    if ctx is not None:
        arr, ctx_sr = ctx
        ctx_audio = resample(np.asarray(arr, np.float32).reshape(-1), int(ctx_sr), sr)
        if request.region is None:
            a = min(duration, len(ctx_audio) / sr)  # extend the take after its end
        p = seconds_to_column(a, fr)  # token frames before the region: the prefix
        if p > 0:
            prefix = audio_to_codes(models, ctx_audio, sr)[:p]
    gen_end = b if ctx_audio is not None else duration

    # ---- sample
    t0 = time.perf_counter()
    # One thread for the token loop: its ops are tiny, and intra-op threads only spin
    # (measured 121 s vs a few s per 10 s clip on a loaded 2-core machine). Restored after.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        codes = yield from _sample(models, gen_end, layout, visual, text, neg, settings, request, prefix, check)
    finally:
        torch.set_num_threads(threads)
    t_sample = time.perf_counter() - t0
    n_frames = n_token_frames(gen_end, fr)
    n_new = n_frames - (0 if prefix is None else prefix.shape[0])

    # ---- decode + assemble
    takes: list[Take] = []
    for k in range(int(request.takes)):
        check()
        yield Progress("decoding", k, int(request.takes))
        t1 = time.perf_counter()
        seed = int(request.seed) + k
        y = codes_to_audio(models, codes[k], gen_end, seed=seed)
        t_decode = time.perf_counter() - t1
        ia, ib = seconds_to_samples(a, sr), seconds_to_samples(b, sr)
        y = np.pad(y, (0, max(0, ib - len(y))))[ia:ib]
        if ctx_audio is not None:  # join the kept audio at the region's edges, inside the region
            y = join_edges(y, ctx_audio, ia, int(XFADE_S * sr))
        y = peak_limit(y)
        take_layout = layout if layout is not None else layout_from_audio(y, sr)
        takes.append(
            Take(
                audio=y.astype(np.float32),
                sample_rate=sr,
                seed=seed,
                layout=take_layout,
                engine="ar",
                meta={
                    "pack": Path(pack_dir).name,
                    "region": (a, b),
                    "guidance": settings.guidance,
                    "top_k": settings.top_k,
                    "temperature": settings.temperature,
                    "layout_source": layout_source,
                    "prompt": request.prompt,
                    "negative_prompt": request.negative_prompt,
                    "token_frames": n_frames,
                    "sampled_frames": n_new,
                    "sampling_s": round(t_sample, 3),
                    "tokens_per_s": round(n_new * models.model.cfg.n_codebooks * int(request.takes) / max(t_sample, 1e-9), 1),
                    "decode_s": round(t_decode, 3),
                    "continued": ctx_audio is not None,
                },
                start=a,
            )
        )
    yield Progress("decoding", int(request.takes), int(request.takes))
    return takes
