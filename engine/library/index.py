"""The sound library index: every recording's record plus a text and an audio embedding.

Stored like a pack: ``index.json`` (records, sources, the sha256 of the embeddings file) and
``embeddings.safetensors`` (``text`` [N, 384] from all-MiniLM-L6-v2, ``audio`` [N, D] from the
evaluation classifier's penultimate layer). Loading checks the checksum and the shapes.

- ``build_index``: the Foley library (``v2a data sfx``) -> records that point at the original
  package files at their native rate (the cleaned 16 kHz FLAC when the originals are gone).
- ``add_folder``: a user's folder of WAV/FLAC/OGG/MP3, indexed in place; labels from folder and
  file names; unreadable files are listed and skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import MediaError, V2AError
from engine.library.labels import label_from_path, material_of
from engine.library.records import AUDIO_EXTENSIONS, TARGET_DB, SoundRecord, read_stretch
from engine.progress import CancelToken, Job, Progress
from engine.safe_write import atomic_output

INDEX_FILE = "index.json"
EMB_FILE = "embeddings.safetensors"
VERSION = 1
SEGMENT_S = 4.0  # long user files are indexed as stretches like the Foley library's segments
MAX_TOTAL_S = 8.0
ANALYSIS_RATE = 16000


class LibraryError(V2AError):
    pass


def default_library_dir(ensure: bool = False) -> Path:
    """``$V2A_LIBRARY`` or ``<user data>/library``."""
    env = os.environ.get("V2A_LIBRARY")
    if env:
        p = Path(env).expanduser()
    else:
        from engine.paths import user_data_dir

        p = user_data_dir() / "library"
    if ensure:
        p.mkdir(parents=True, exist_ok=True)
    return p


def starter_library_dir() -> Path:
    """The library shipped with the program (``resources/library``): a few real recordings per
    class, so the library engine works offline on a fresh install."""
    from engine.paths import resource_path

    return resource_path("library")


def find_library() -> Path:
    """The user's index when there is one (``v2a library build`` / ``add``), else the starter."""
    user = default_library_dir()
    return user if (user / INDEX_FILE).is_file() else starter_library_dir()


@dataclass
class LibraryIndex:
    records: list[SoundRecord]
    text_emb: np.ndarray  # [N, 384] float32, L2-normalised
    audio_emb: np.ndarray  # [N, D] float32, L2-normalised
    folders: list[str] = field(default_factory=list)  # user folders added
    root: Path | None = None
    _class_emb: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.records)

    @property
    def classes(self) -> list[str]:
        return sorted({r.cls for r in self.records})

    def without_splits(self, splits: Iterable[str]) -> LibraryIndex:
        """A view without the Foley library's ``splits`` (benchmarks keep the test split out, so
        the engine never places the very recording a test clip was made of)."""
        drop = set(splits)
        keep = [i for i, r in enumerate(self.records) if r.split not in drop]
        return LibraryIndex([self.records[i] for i in keep], self.text_emb[keep], self.audio_emb[keep],
                            list(self.folders), self.root)

    # -------------------------------------------------------------- files
    def save(self, folder: str | Path) -> Path:
        from safetensors.numpy import save_file

        d = Path(folder)
        d.mkdir(parents=True, exist_ok=True)
        with atomic_output(d / EMB_FILE) as tmp:
            save_file({"text": np.ascontiguousarray(self.text_emb, np.float32),
                       "audio": np.ascontiguousarray(self.audio_emb, np.float32)}, str(tmp))
        meta = {
            "version": VERSION,
            "records": [_portable(r.to_dict(), d) for r in self.records],
            "folders": self.folders,
            "files": {EMB_FILE: {"sha256": _sha256(d / EMB_FILE)}},
            "text_encoder": "minilm-l6-v2",
            "audio_embedding": "v2a-classifier",
        }
        with atomic_output(d / INDEX_FILE) as tmp:
            tmp.write_text(json.dumps(meta, indent=0, ensure_ascii=False))
        self.root = d
        return d / INDEX_FILE


def _portable(rec: dict, folder: Path) -> dict:
    """Paths inside the index folder are stored relative to it (a library that carries its own
    audio, such as the embedded starter library, works wherever it is unpacked)."""
    p = Path(rec["path"])
    try:
        rec["path"] = p.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        pass
    return rec


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_index(folder: str | Path | None = None) -> LibraryIndex:
    """Read and verify an index folder (default: the user's library)."""
    from safetensors.numpy import load_file

    d = Path(folder) if folder is not None else find_library()
    meta_p = d / INDEX_FILE
    if not meta_p.is_file():
        raise LibraryError("no sound library index here; run `v2a library build` (or `v2a library add DIR`)", d)
    try:
        meta = json.loads(meta_p.read_text())
        records = [SoundRecord.from_dict({**r, "path": str((d / r["path"]).resolve())
                                          if not Path(r["path"]).is_absolute() else r["path"]})
                   for r in meta["records"]]
        want = meta["files"][EMB_FILE]["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise LibraryError(f"library index is damaged ({exc})", meta_p) from exc
    emb_p = d / EMB_FILE
    if not emb_p.is_file() or _sha256(emb_p) != want:
        raise LibraryError("embeddings file is missing or fails its checksum; rebuild with `v2a library build`", emb_p)
    t = load_file(str(emb_p))
    text, audio = t.get("text"), t.get("audio")
    if text is None or audio is None or len(text) != len(records) or len(audio) != len(records):
        raise LibraryError("embeddings do not match the records; rebuild with `v2a library build`", emb_p)
    return LibraryIndex(records, text, audio, list(meta.get("folders", [])), d)


# ------------------------------------------------------------------ analysis
def hit_length(y16: np.ndarray, sr: int = ANALYSIS_RATE) -> float:
    """Seconds from the start to just before a second strong attack (a recording of several
    steps or knocks), or the whole length. A one-shot event places only its first hit."""
    from engine.data.clean import envelope

    if len(y16) < 4 * int(0.01 * sr) or float(np.max(np.abs(y16))) <= 0:
        return len(y16) / sr
    env = envelope(y16, sr, 100.0)  # 10 ms RMS, peak 1
    m = len(env)
    peaks = [k for k in range(1, m - 1) if env[k] >= env[k - 1] and env[k] > env[k + 1] and env[k] >= 0.5]
    first = peaks[0] if peaks else int(np.argmax(env))
    for k in peaks[1:]:
        valley = float(env[first:k].min())
        if k - first >= 12 and valley <= 0.35 * env[k]:  # >= 120 ms later, after a clear dip
            return (first + int(np.argmin(env[first:k]))) * 0.01
    return len(y16) / sr


@dataclass(frozen=True)
class Analysis:
    onset: float  # first attack, s
    loudness_db: float  # active RMS
    bands: tuple[float, ...]  # layout bands at the loudest column (after levelling)
    hit: float  # length of the first hit, s


def analyse(y16: np.ndarray) -> Analysis:
    """What a record stores about its 16 kHz audio (one pass for the Foley library, user files
    and reference recordings alike)."""
    from engine.audio.layout import layout_from_audio
    from engine.data.clean import active_rms_db, loudness_normalise, onset_time

    lay = layout_from_audio(loudness_normalise(y16, ANALYSIS_RATE, TARGET_DB, -1.0), ANALYSIS_RATE).values
    peak = lay[int(np.argmax(lay.mean(axis=1)))]  # 10 columns/s x 5 bands, fixed scale
    return Analysis(round(onset_time(y16, ANALYSIS_RATE), 4), round(active_rms_db(y16, ANALYSIS_RATE), 2),
                    tuple(float(b) for b in peak), round(hit_length(y16), 4))


def _record_text(rec: SoundRecord) -> str:
    from engine.library.labels import CLASS_WORDS

    words = CLASS_WORDS.get(rec.cls, (rec.cls,))[0]
    return f"{rec.description}. {words}, {rec.subclass.replace('_', ' ')}"


class _AudioEmbedder:
    """Classifier embeddings computed in batches while a folder is scanned, so building an index
    holds at most one batch of decoded audio (memory stays flat with the library's size). The
    classifier runs in numpy (``engine.classifier.numpy_embed``): building never imports torch."""

    BATCH = 64

    def __init__(self) -> None:
        self.pending: list[np.ndarray] = []
        self.done: list[np.ndarray] = []
        self._clf = None

    def add(self, y16: np.ndarray) -> None:
        self.pending.append(y16)
        if len(self.pending) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        if self._clf is None:
            from engine.classifier.numpy_embed import load_numpy_embedder

            self._clf = load_numpy_embedder()
        e = self._clf.embed(self.pending, ANALYSIS_RATE)
        self.done.append(e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9))
        self.pending = []

    def result(self) -> np.ndarray:
        self.flush()
        return np.concatenate(self.done).astype(np.float32) if self.done else np.zeros((0, 1), np.float32)


def _embed(records: list[SoundRecord], audio: _AudioEmbedder) -> tuple[np.ndarray, np.ndarray]:
    from engine.text_numpy import encode_text_numpy  # no torch (each distinct text encoded once)

    texts = [_record_text(r) for r in records]
    text = encode_text_numpy(texts) if texts else np.zeros((0, 384), np.float32)
    return np.asarray(text, np.float32), audio.result()


def _resample16(y: np.ndarray, sr: int) -> np.ndarray:
    from engine.media.audio import resample

    return resample(y, sr, ANALYSIS_RATE)


def _native_stretch(root: Path, row: dict, y16: np.ndarray) -> tuple[str, float, int] | None:
    """(original file, start s, rate) of a manifest row, found again in its unpacked package.

    The cleaner trimmed silence and cut long files into segments at 16 kHz; repeating those
    steps on the original finds the stretch, so the record plays the original's full
    bandwidth. Checked against the cleaned FLAC (envelope correlation >= 0.95); None when the
    package is not unpacked any more or the check fails (the FLAC is used instead)."""
    import soundfile as sf

    from engine.data.clean import trim_silence
    from engine.data.taxonomy import SUSTAINED

    rel = str(row.get("original_path", ""))
    pkg = str(row.get("source", ""))
    if ":" in rel:  # 0 A.D.: "...public.zip:audio/..." was unzipped to audio-unzipped/
        path = root / "src" / pkg / "audio-unzipped" / rel.split(":", 1)[1]
    else:
        path = root / "src" / pkg / rel
    if not path.is_file():
        return None
    try:
        y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:
        return None
    r16 = _resample16(y.mean(axis=1), sr)
    trimmed, start = trim_silence(r16, ANALYSIS_RATE)
    seg = float(row.get("segment_start", 0.0) or 0.0)
    if row["id"].rsplit("-", 1)[-1].startswith("s") and row["id"].rsplit("-", 1)[-1][1:].isdigit():
        s = int(round(seg * ANALYSIS_RATE))
        step = int((4.0 if row["class"] in SUSTAINED else 3.0) * ANALYSIS_RATE)
        _, off2 = trim_silence(trimmed[s : s + step], ANALYSIS_RATE)
        start += s + off2
    n = len(y16)
    cand = r16[start : start + n]
    if len(cand) < n * 0.98 or _env_corr(cand, y16) < 0.95:
        return None
    return str(path.resolve()), start / ANALYSIS_RATE, int(sr)


def _env_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two 16 kHz signals' 10 ms RMS envelopes (over the shorter one)."""
    from engine.data.clean import envelope

    n = min(len(a), len(b))
    ea, eb = envelope(a[:n], ANALYSIS_RATE, 100.0), envelope(b[:n], ANALYSIS_RATE, 100.0)
    if len(ea) < 3:
        return 0.0
    if ea.std() < 1e-9 or eb.std() < 1e-9:
        return 1.0 if np.allclose(ea, eb, atol=1e-4) else 0.0
    return float(np.corrcoef(ea, eb)[0, 1])


def build_index(data_root: str | Path, out: str | Path | None = None, keep_user: bool = True,
                cancel: CancelToken | None = None) -> Job[LibraryIndex]:
    """Index the Foley library under ``data_root`` (``v2a data sfx``) into ``out``.

    Records of user folders already in ``out`` are kept (re-read from their folders)."""
    from engine.data.library import read_manifest, sound_path

    root = Path(data_root)
    manifest = root / "sfx" / "manifest.jsonl"
    rows = read_manifest(manifest)
    out_d = Path(out) if out is not None else default_library_dir(ensure=True)
    records: list[SoundRecord] = []
    audios = _AudioEmbedder()
    for i, row in enumerate(rows):
        if cancel is not None:
            cancel.check()
        if i % 50 == 0:
            yield Progress("indexing the Foley library", i, len(rows))
        flac = sound_path(manifest, row)
        y16, _ = read_stretch(flac, 0.0, 0.0)
        native = _native_stretch(root, row, y16)
        path, start, sr = native if native is not None else (str(flac.resolve()), 0.0, int(row["sample_rate"]))
        an = analyse(y16)
        records.append(SoundRecord(
            id=str(row["id"]), path=path, start=round(start, 5), duration=float(row["duration"]),
            sample_rate=sr, cls=str(row["class"]), subclass=str(row["subclass"]),
            material=material_of(f"{row['subclass']} {row.get('description', '')}"),
            description=str(row.get("description", "")), source=str(row["source"]),
            license=str(row["license"]), attribution=str(row["attribution"]), onset=an.onset,
            loudness_db=an.loudness_db, bands=an.bands, original=str(row.get("original_path", "")),
            hit=an.hit, split=str(row.get("split", "")),
        ))
        audios.add(y16)
    folders: list[str] = []
    if keep_user and (out_d / INDEX_FILE).is_file():
        try:
            folders = load_index(out_d).folders
        except LibraryError:
            folders = []
    yield Progress("embedding", 0, 1)
    text, audio = _embed(records, audios)
    index = LibraryIndex(records, text, audio, [], out_d)
    for f in folders:
        if Path(f).is_dir():
            index = yield from add_folder(index, f, cancel=cancel, save=False)
    index.save(out_d)
    yield Progress("done", 1, 1)
    return index


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def scan_folder(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def add_folder(index: LibraryIndex | None, folder: str | Path, cancel: CancelToken | None = None,
               save: bool = True, skipped: list[Skipped] | None = None) -> Job[LibraryIndex]:
    """Index every audio file under ``folder`` in place (re-adding a folder replaces its records).

    Files that are not audio or cannot be decoded go to ``skipped`` (path, reason)."""
    from engine.data.clean import split_segments

    d = Path(folder).expanduser()
    if not d.is_dir():
        raise LibraryError("is not a folder", d)
    d = d.resolve()
    key = str(d)
    files = scan_folder(d)
    recs: list[SoundRecord] = []
    audios = _AudioEmbedder()
    skipped = skipped if skipped is not None else []
    for i, p in enumerate(files):
        if cancel is not None:
            cancel.check()
        if i % 20 == 0:
            yield Progress(f"indexing {d.name}", i, len(files))
        if p.suffix.lower() not in AUDIO_EXTENSIONS:
            skipped.append(Skipped(str(p), "not an audio file (by its name)"))
            continue
        try:
            y, sr = read_stretch(p, 0.0, 0.0)
        except MediaError as exc:
            skipped.append(Skipped(str(p), exc.message.split(": ", 1)[-1]))
            continue
        if len(y) < 0.05 * sr or float(np.max(np.abs(y))) < 1e-4:
            skipped.append(Skipped(str(p), "silent or shorter than 50 ms"))
            continue
        rel = p.relative_to(d).as_posix()
        lab = label_from_path(f"{d.name}/{rel}")
        if lab.cls is None:
            skipped.append(Skipped(str(p), "no sound class in its folder or file name"))
            continue
        pieces = split_segments(y, sr, seg_s=SEGMENT_S, max_total_s=MAX_TOTAL_S)
        for k, (s, piece) in enumerate(pieces):
            y16 = _resample16(piece, sr)
            an = analyse(y16)
            rid = "u-" + hashlib.sha1(f"{p}:{s}".encode()).hexdigest()[:12]
            recs.append(SoundRecord(
                id=rid, path=str(p), start=round(s / sr, 5), duration=round(len(piece) / sr, 5),
                sample_rate=int(sr), cls=lab.cls, subclass=lab.subclass, material=lab.material,
                description=lab.description + (f" (part {k + 1})" if len(pieces) > 1 else ""),
                source=f"user:{d.name}", license="user's own", attribution=f"user library {d}",
                onset=an.onset, loudness_db=an.loudness_db, bands=an.bands, user=True, original=rel, hit=an.hit,
            ))
            audios.add(y16)
    yield Progress("embedding", 0, 1)
    text, audio = _embed(recs, audios)
    if index is None:
        index = LibraryIndex([], np.zeros((0, text.shape[1] if text.size else 384), np.float32),
                             np.zeros((0, audio.shape[1] if audio.size else 1), np.float32), [], default_library_dir())
    keep = [i for i, r in enumerate(index.records) if not (r.user and Path(r.path).is_relative_to(d))]
    records = [index.records[i] for i in keep] + recs
    t_old = index.text_emb[keep] if len(index.records) else np.zeros((0, text.shape[1]), np.float32)
    a_old = index.audio_emb[keep] if len(index.records) else np.zeros((0, audio.shape[1]), np.float32)
    if len(t_old) == 0:
        t_new, a_new = text, audio
    elif len(text) == 0:
        t_new, a_new = t_old, a_old
    else:
        t_new, a_new = np.concatenate([t_old, text]), np.concatenate([a_old, audio])
    folders = [f for f in index.folders if f != key] + [key]
    new = LibraryIndex(records, t_new, a_new, folders, index.root)
    if save:
        new.save(index.root or default_library_dir(ensure=True))
    yield Progress("done", 1, 1)
    return new


def summary(index: LibraryIndex) -> dict:
    from collections import Counter

    return {
        "recordings": len(index),
        "classes": dict(Counter(r.cls for r in index.records).most_common()),
        "sources": dict(Counter(r.source for r in index.records).most_common()),
        "licenses": dict(Counter(r.license for r in index.records).most_common()),
        "native_rates": dict(Counter(r.sample_rate for r in index.records).most_common()),
        "folders": index.folders,
        "minutes": round(sum(r.duration for r in index.records) / 60.0, 1),
    }


def export_portable(index: LibraryIndex, out: str | Path, per_class: int = 6,
                    splits: tuple[str, ...] = ("train", "val"), cancel: CancelToken | None = None) -> Job[LibraryIndex]:
    """A library folder that carries its own audio: up to ``per_class`` recordings of each class
    (varied subclasses and sources first), each stretch written as Ogg Vorbis at its native
    rate, with the index and a credits file. This is how ``resources/library`` is made."""
    import soundfile as sf

    d = Path(out)
    (d / "sounds").mkdir(parents=True, exist_ok=True)
    by_class: dict[str, list[int]] = {}
    for i, r in enumerate(index.records):
        if (not splits or r.split in splits) and r.duration <= 6.0:
            by_class.setdefault(r.cls, []).append(i)
    picked: list[int] = []
    for cls in sorted(by_class):
        rows = sorted(by_class[cls], key=lambda i: (index.records[i].split != "train", index.records[i].id))
        chosen: list[int] = []
        seen: set[tuple[str, str]] = set()
        for pass_ in range(3):  # new subclass+source, then new subclass, then anything
            for i in rows:
                r = index.records[i]
                key = (r.subclass, r.source) if pass_ == 0 else (r.subclass, "") if pass_ == 1 else (r.id, "")
                if len(chosen) < per_class and i not in chosen and key not in seen:
                    chosen.append(i)
                    seen.add(key)
        picked += chosen
    records: list[SoundRecord] = []
    for j, i in enumerate(picked):
        if cancel is not None:
            cancel.check()
        if j % 20 == 0:
            yield Progress("writing recordings", j, len(picked))
        r = index.records[i]
        y, sr = read_stretch(r.path, r.start, r.duration)
        dest = d / "sounds" / r.cls / f"{r.id}.ogg"
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(dest) as tmp:
            sf.write(str(tmp), y, sr, format="OGG", subtype="VORBIS")
        from dataclasses import replace

        records.append(replace(r, path=str(dest.resolve()), start=0.0, duration=round(len(y) / sr, 5)))
    new = LibraryIndex(records, index.text_emb[picked], index.audio_emb[picked], [], d)
    new.save(d)
    lines = ["# Credits of the recordings in this library", "",
             "Each file keeps its own license; the attribution is the one its package gives.", "",
             "| file | class | package: original file | license | attribution |", "|---|---|---|---|---|"]
    for r in records:
        rel = Path(r.path).relative_to(d.resolve()).as_posix()
        lines.append(f"| {rel} | {r.cls}/{r.subclass} | {r.source}: {r.original} | {r.license} | {r.attribution.replace('|', '/')} |")
    with atomic_output(d / "CREDITS.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    yield Progress("done", 1, 1)
    return new
