"""``v2a data cache``: decode each clip once into what the models read, keyed by content hash.

An entry ``cache/<sha>.npz`` (plain arrays, no pickles) holds, for one clip:

- ``frames_<fps>``: uint8 [N, S, S, 3] RGB frames sampled by timestamp at each configured rate
  (centre-cropped squares of side S), with ``times_<fps>`` (seconds);
- ``audio``: float32 16 kHz mono soundtrack; ``mel``: float32 [T, 64] log-mel (100 frames/s,
  ``engine.audio.log_mel``); ``layout``: float32 [C, 5] (``engine.audio.layout_from_mel``)
  with ``layout_cps`` columns per second;
- ``events_json`` / ``meta_json``: the clip's JSON (event list with times, classes, sound ids).

The key is sha256 of the clip's bytes + the cache configuration + ``CACHE_VERSION``, so a
changed clip or configuration makes a new entry and stale ones are never read.
``cache/index.jsonl`` maps clip ids to keys and splits.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engine.data import SPLITS
from engine.errors import MediaError, V2AError
from engine.progress import CancelToken, Job, Progress
from engine.safe_write import atomic_output

CACHE_VERSION = 1
INDEX = "index.jsonl"


@dataclass(frozen=True)
class CacheConfig:
    rates: tuple[tuple[float, int], ...] = ((10.0, 64), (25.0, 64))  # (fps, square size)
    sample_rate: int = 16000

    def tag(self) -> str:
        return json.dumps({"v": CACHE_VERSION, **asdict(self)}, sort_keys=True)


def rate_key(fps: float) -> str:
    """Array-name suffix for a frame rate: 10 -> "10", 12.5 -> "12_5"."""
    return f"{fps:g}".replace(".", "_")


def content_key(path: str | Path, cfg: CacheConfig = CacheConfig()) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    h.update(cfg.tag().encode())
    return h.hexdigest()


def build_entry(mp4: Path, cfg: CacheConfig = CacheConfig()) -> dict[str, np.ndarray]:
    """Decode one clip (and read its JSON sidecar) into the cache arrays."""
    from engine.audio import LayoutConfig, MelConfig, layout_from_mel, log_mel
    from engine.media import read_audio, read_frames_array

    meta_path = mp4.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"events": []}
    out: dict[str, np.ndarray] = {}
    for fps, size in cfg.rates:
        frames, times = read_frames_array(mp4, fps, size=size, crop=True)
        out[f"frames_{rate_key(fps)}"] = np.ascontiguousarray(frames, dtype=np.uint8)
        out[f"times_{rate_key(fps)}"] = np.asarray(times, dtype=np.float64)
    audio, sr = read_audio(mp4, sample_rate=cfg.sample_rate, mono=True)
    if len(audio) == 0:
        raise MediaError("clip has no audio", mp4)
    mel_cfg = MelConfig(sample_rate=cfg.sample_rate)
    mel = log_mel(audio, mel_cfg)
    layout = layout_from_mel(mel, mel_cfg, LayoutConfig())
    out["audio"] = audio.astype(np.float32)
    out["sample_rate"] = np.int64(sr)
    out["mel"] = mel.astype(np.float32)
    out["layout"] = layout.values.astype(np.float32)
    out["layout_cps"] = np.float64(layout.columns_per_second)
    out["events_json"] = np.array(json.dumps(meta.get("events", [])))
    out["meta_json"] = np.array(json.dumps({k: v for k, v in meta.items() if k != "events"}))
    return out


def save_entry(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def load_entry(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of one entry (``allow_pickle=False``: entries hold plain arrays only)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        # A truncated entry: one line naming it (delete it and re-run `v2a data cache`).
        raise V2AError(f"unreadable cache entry ({type(exc).__name__}: {exc}); delete it and run `v2a data cache` again",
                       path) from exc


def _readable(path: Path) -> bool:
    """True when ``path`` is a complete .npz: its zip directory, written last, is there (cheap:
    the arrays are not read)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return bool(zf.namelist())
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error):
        return False


def events_of(entry: dict[str, np.ndarray]) -> list[dict]:
    return json.loads(str(entry["events_json"]))


def read_index(cache_dir: str | Path) -> list[dict]:
    p = Path(cache_dir) / INDEX
    if not p.exists():
        raise V2AError("no cache index here; run `v2a data cache` first", p)
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def cache_clips(
    root: Path,
    splits: tuple[str, ...] = SPLITS,
    cfg: CacheConfig = CacheConfig(),
    cache_dir: Path | None = None,
    cancel: CancelToken | None = None,
) -> Job[Path]:
    """Cache every clip of ``splits``; entries that exist are reused. Returns the index path."""
    cdir = cache_dir or root / "cache"
    cdir.mkdir(parents=True, exist_ok=True)
    clips = [(s, p) for s in splits for p in sorted((root / "clips" / s).glob("*.mp4")) if not p.name.startswith(".")]
    index_rows = []
    for i, (split, mp4) in enumerate(clips):
        if cancel is not None:
            cancel.check()
        if i % 10 == 0:
            yield Progress("caching clips", i, len(clips))
        key = content_key(mp4, cfg)
        dest = cdir / f"{key}.npz"
        if not _readable(dest):  # missing, or truncated by an interrupted run: (re)build it
            save_entry(dest, build_entry(mp4, cfg))
        meta_path = mp4.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        index_rows.append(
            {
                "id": mp4.stem,
                "split": split,
                "key": key,
                "file": dest.name,
                "clip": str(mp4),
                "duration": meta.get("duration"),
                "fps": meta.get("fps"),
                "classes": meta.get("classes", []),
                "n_events": len(meta.get("events", [])),
                "rates": [list(r) for r in cfg.rates],
            }
        )
    # Keep index rows of other splits that this run did not touch.
    index_path = cdir / INDEX
    old = []
    if index_path.exists():
        old = [r for r in read_index(cdir) if r["split"] not in splits]
    with atomic_output(index_path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in old + index_rows))
    yield Progress("caching clips", len(clips), len(clips))
    return index_path
