"""Training records for the AR engine from the project's data root (engine.data layout).

- ``sfx_scenes``: synthetic scenes from the cleaned sound library (``data/sfx``): 1–6 events
  of one class at random times over silence, the layout computed from the mix, the text
  from a row's description. No video: these teach codec tokens + layout + text -> audio.
- ``clip_records``: the rendered paired clips (``data/clips/<split>/<id>.mp4`` + exact mix
  ``<id>.flac`` + events ``<id>.json``), with the AR visual features decoded from the mp4.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.ar.train import ClipRecord
from engine.audio import LayoutConfig, MelConfig, layout_from_mel, log_mel

LAYOUT_TRAIN = LayoutConfig(columns_per_second=25.0, bands=5)


def load_sfx(root: str | Path, split: str, max_seconds: float = 6.0) -> list[tuple[np.ndarray, dict]]:
    import soundfile as sf

    from engine.data.library import read_manifest, sound_path

    man = Path(root) / "sfx" / "manifest.jsonl"
    out = []
    for row in read_manifest(man):
        if row.get("split") != split:
            continue
        try:
            y, sr = sf.read(str(sound_path(man, row)), dtype="float32", always_2d=False)
        except Exception:  # a file still being written by the data job
            continue
        if y.ndim > 1:
            y = y.mean(1)
        if sr != 16000 or len(y) < 160:
            continue
        out.append((y[: int(max_seconds * sr)], row))
    return out


def sfx_scenes(
    sfx: list[tuple[np.ndarray, dict]],
    n: int,
    seconds: float,
    rng: np.random.Generator,
    mel_cfg: MelConfig = MelConfig(),
    text_encoder: Any = None,
) -> list[ClipRecord]:
    """``n`` scenes of ``seconds``: events of one class placed at random times (some overlap)."""
    by_class: dict[str, list[int]] = {}
    for i, (_, row) in enumerate(sfx):
        by_class.setdefault(row["class"], []).append(i)
    classes = sorted(by_class)
    sr = mel_cfg.sample_rate
    total = int(seconds * sr)
    recs, texts = [], []
    for _ in range(n):
        cls = classes[int(rng.integers(len(classes)))]
        pool = by_class[cls]
        mix = np.zeros(total, np.float32)
        k = int(rng.integers(1, 7))
        first = None
        for _ in range(k):
            j = pool[int(rng.integers(len(pool)))]
            y, row = sfx[j]
            first = first or row
            t = int(rng.integers(0, max(1, total - sr // 4)))
            seg = y[: total - t] * float(10 ** (rng.uniform(-6, 0) / 20))
            mix[t : t + len(seg)] += seg
        peak = float(np.abs(mix).max())
        if peak > 0.99:
            mix *= 0.99 / peak
        mel = log_mel(mix, mel_cfg)
        recs.append(ClipRecord(mel=mel, layout=layout_from_mel(mel, mel_cfg, LAYOUT_TRAIN), name=f"scene-{cls}"))
        texts.append(str(first.get("description") or first["class"]))
    if text_encoder is not None:
        uniq = sorted(set(texts))
        emb = dict(zip(uniq, text_encoder(uniq), strict=True))
        for r, t in zip(recs, texts, strict=True):
            r.text = emb[t]
    return recs


def clip_records(
    root: str | Path,
    split: str,
    visual_spec: dict | None,
    mel_cfg: MelConfig = MelConfig(),
    text_encoder: Any = None,
    limit: int | None = None,
) -> list[ClipRecord]:
    import soundfile as sf

    from engine.ar.visual import features_for_video
    from engine.media import read_audio

    d = Path(root) / "clips" / split
    recs, texts = [], []
    for mp4 in sorted(d.glob("*.mp4"))[:limit]:
        flac, meta = mp4.with_suffix(".flac"), mp4.with_suffix(".json")
        try:
            if flac.is_file():
                y, sr = sf.read(str(flac), dtype="float32", always_2d=False)
            else:  # the exact mix is the mp4's own FLAC track
                y, sr = read_audio(mp4, mel_cfg.sample_rate)
            info = json.loads(meta.read_text()) if meta.is_file() else {}
            vis = features_for_video(mp4, visual_spec) if visual_spec else None
        except Exception:
            continue
        if y.ndim > 1:
            y = y.mean(1)
        if sr != mel_cfg.sample_rate:
            from engine.audio.dsp import resample

            y = resample(y, sr, mel_cfg.sample_rate)
        mel = log_mel(y, mel_cfg)
        recs.append(ClipRecord(mel=mel, layout=layout_from_mel(mel, mel_cfg, LAYOUT_TRAIN), visual=vis, name=mp4.stem))
        texts.append(_clip_text(info))
    if text_encoder is not None and recs:
        uniq = sorted(set(texts))
        emb = dict(zip(uniq, text_encoder(uniq), strict=True))
        for r, t in zip(recs, texts, strict=True):
            r.text = emb[t] if t else None
    return recs


def _clip_text(info: dict) -> str:
    """A prompt-like text for a clip: its description, else its events' descriptions."""
    for key in ("prompt", "description", "caption"):
        if isinstance(info.get(key), str) and info[key].strip():
            return info[key].strip()
    ev = info.get("events") or []
    names = []
    for e in ev:
        n = e.get("description") or e.get("class") or ""
        if n and n not in names:
            names.append(n)
    return ", ".join(names[:3])
