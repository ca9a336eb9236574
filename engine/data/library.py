"""``v2a data sfx``: build the cleaned Foley library and its manifest from the source packages.

Pipeline per source file: label (taxonomy) → license filter → decode → mono 16 kHz → trim →
split long recordings into segments → loudness-normalise → exact and near-duplicate removal →
FLAC under ``sfx/<class>/`` → one manifest row. Splits are assigned per *source file* (all
segments of one recording share a split), stratified by class, from a hash of the file's
package and path, so they are deterministic and stable when other files come and go.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio.dsp import resample
from engine.data import clean
from engine.data.sources import (
    FREE_LICENSES,
    PACKAGES,
    PERMISSIVE_LICENSES,
    SourceFile,
    iter_source_files,
)
from engine.data.taxonomy import SUSTAINED, classify
from engine.errors import MediaError, V2AError
from engine.progress import CancelToken, Job, Progress
from engine.safe_write import atomic_output

MANIFEST = "manifest.jsonl"
MIN_SECONDS = 0.08
VAL_FRACTION = 0.1
TEST_FRACTION = 0.1

SHORT = {
    "minetest-data": "mt", "lugaru-data": "lg", "sonic-pi-samples": "sp", "wesnoth-1.16-data": "wn",
    "widelands-data": "wl", "tuxpaint-stamps-default": "tp", "freedroidrpg-data": "fd", "0ad-data": "0ad",
}


@dataclass
class LibraryReport:
    kept: int
    dropped: Counter
    per_class: Counter
    per_split: Counter
    manifest: Path


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in text.lower())
    return "_".join(p for p in out.split("_") if p)[:60]


def _unit_hash(key: str) -> float:
    return int(hashlib.sha1(key.encode()).hexdigest()[:12], 16) / float(1 << 48)


def assign_splits(groups: dict[str, str], val: float = VAL_FRACTION, test: float = TEST_FRACTION) -> dict[str, str]:
    """Split per source file (``groups``: source key → class), stratified by class.

    Each source goes to test if its hash is below ``test``, to val if below ``test+val``, else
    train. A class with at least 5 sources that the hash left without val or test gets its
    lowest-hash training source moved there, so every class can be evaluated.
    """
    out = {}
    by_class: dict[str, list[str]] = defaultdict(list)
    for key, cls in groups.items():
        h = _unit_hash(key)
        out[key] = "test" if h < test else "val" if h < test + val else "train"
        by_class[cls].append(key)
    for _cls, keys in sorted(by_class.items()):
        if len(keys) < 5:
            continue
        for split in ("test", "val"):
            if not any(out[k] == split for k in keys):
                train = sorted((k for k in keys if out[k] == "train"), key=_unit_hash)
                if len(train) > 1:
                    out[train[0]] = split
    return out


def read_manifest(path: str | Path) -> list[dict]:
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST
    if not p.exists():
        raise V2AError("no sound library manifest here; run `v2a data sfx` first", p)
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def sound_path(manifest_path: str | Path, row: dict) -> Path:
    """Absolute path of a manifest row's FLAC (rows store it relative to the manifest)."""
    base = Path(manifest_path)
    base = base if base.is_dir() else base.parent
    return base / row["path"]


def build_library(
    root: Path,
    packages: Iterable[str] | None = None,
    licenses: str = "free",
    cancel: CancelToken | None = None,
    files: list[SourceFile] | None = None,
) -> Job[LibraryReport]:
    """Clean every labelled, licensed source file into ``root/sfx`` and write the manifest.

    ``licenses``: "free" (CC0/CC-BY/CC-BY-SA/GPL/MIT) or "permissive" (CC0/CC-BY/MIT only).
    ``files`` overrides the package scan (tests pass a tiny fixture list).
    """
    import soundfile as sf

    allowed = PERMISSIVE_LICENSES if licenses == "permissive" else FREE_LICENSES
    out_dir = root / "sfx"
    out_dir.mkdir(parents=True, exist_ok=True)
    srcs = files if files is not None else list(iter_source_files(root, list(packages) if packages else None))
    order = {name: i for i, name in enumerate(PACKAGES)}
    srcs = sorted(srcs, key=lambda s: (order.get(s.package, 99), s.relpath))
    dropped: Counter = Counter()
    rows: list[dict] = []
    audios: list[np.ndarray] = []
    seen_src: set[str] = set()
    seen_pcm: set[str] = set()
    total = len(srcs)
    for i, src in enumerate(srcs):
        if cancel is not None:
            cancel.check()
        if i % 25 == 0:
            yield Progress("cleaning recordings", i, total)
        label = classify(src.package, src.relpath.split(":")[-1])
        if label.cls is None:
            dropped[f"skipped: {label.subclass}"] += 1
            continue
        if src.license not in allowed:
            dropped[f"license: {src.license}"] += 1
            continue
        raw = Path(src.path).read_bytes()
        raw_key = hashlib.sha1(raw).hexdigest()
        if raw_key in seen_src:
            dropped["duplicate (same file bytes)"] += 1
            continue
        seen_src.add(raw_key)
        try:
            audio, sr = clean.load_mono(src.path)
        except MediaError:
            dropped["undecodable"] += 1
            continue
        y = resample(audio, sr, clean.SAMPLE_RATE)
        y, _ = clean.trim_silence(y, clean.SAMPLE_RATE)
        if len(y) < MIN_SECONDS * clean.SAMPLE_RATE:
            dropped["silent or too short"] += 1
            continue
        pieces = clean.split_segments(y, clean.SAMPLE_RATE, seg_s=4.0 if label.cls in SUSTAINED else 3.0)
        base_id = f"{SHORT.get(src.package, src.package)}-{_slug(src.relpath.split(':')[-1].rsplit('.', 1)[0].split('/')[-1])}"
        base_id += "-" + hashlib.sha1(src.relpath.encode()).hexdigest()[:6]
        for k, (start, piece) in enumerate(pieces):
            if len(pieces) > 1:
                piece, _ = clean.trim_silence(piece, clean.SAMPLE_RATE)
                if len(piece) < MIN_SECONDS * clean.SAMPLE_RATE:
                    continue
            piece = clean.loudness_normalise(piece, clean.SAMPLE_RATE)
            key = clean.pcm_hash(piece)
            if key in seen_pcm:
                dropped["duplicate (same audio)"] += 1
                continue
            seen_pcm.add(key)
            sid = base_id if len(pieces) == 1 else f"{base_id}-s{k:02d}"
            rows.append(
                {
                    "id": sid,
                    "path": f"{label.cls}/{sid}.flac",
                    "class": label.cls,
                    "subclass": label.subclass,
                    "label": f"{label.cls}/{label.subclass}",
                    "description": label.description,
                    "source": src.package,
                    "original_path": src.relpath,
                    "segment_start": round(start / clean.SAMPLE_RATE, 3),
                    "license": src.license,
                    "attribution": src.attribution,
                    "duration": round(len(piece) / clean.SAMPLE_RATE, 4),
                    "sample_rate": clean.SAMPLE_RATE,
                    "source_sample_rate": sr,
                    "onset": round(clean.onset_time(piece, clean.SAMPLE_RATE), 4),
                    "loudness_db": round(clean.active_rms_db(piece, clean.SAMPLE_RATE), 2),
                    "centroid_hz": round(clean.spectral_centroid(piece, clean.SAMPLE_RATE), 1),
                    "sha1": key,
                    "_group": f"{src.package}:{src.relpath}",
                }
            )
            audios.append(piece)
    yield Progress("removing near-duplicates", 0, 1)
    if rows:
        fps = np.stack([clean.fingerprint(a, clean.SAMPLE_RATE) for a in audios])
        durs = np.array([r["duration"] for r in rows])
        drop = set(clean.near_duplicates(fps, durs, [r["_group"] for r in rows]))
        dropped["near-duplicate"] += len(drop)
        rows = [r for i, r in enumerate(rows) if i not in drop]
        audios = [a for i, a in enumerate(audios) if i not in drop]
    groups = {r["_group"]: r["class"] for r in rows}
    splits = assign_splits(groups)
    for r in rows:
        r["split"] = splits[r.pop("_group")]
    for i, (r, a) in enumerate(zip(rows, audios, strict=True)):
        if i % 50 == 0:
            yield Progress("writing FLAC", i, len(rows))
        dest = out_dir / r["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Always (re)write: a rebuild with other cleaning settings must not keep stale audio.
        with atomic_output(dest) as tmp:
            sf.write(str(tmp), a, clean.SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    manifest = out_dir / MANIFEST
    with atomic_output(manifest) as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    yield Progress("done", 1, 1)
    return LibraryReport(
        kept=len(rows),
        dropped=dropped,
        per_class=Counter(r["class"] for r in rows),
        per_split=Counter(r["split"] for r in rows),
        manifest=manifest,
    )
