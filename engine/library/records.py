"""One indexed recording (``SoundRecord``) and reading its audio at its native rate.

A record points at a stretch ``[start, start + duration)`` of an audio file that stays where
it is (the Foley library's original package files, or a user's own folder): nothing is copied
or modified. Its level is measured once, so placement can bring every recording to the same
loudness before the layout's intensity is applied.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.errors import MediaError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")
TARGET_DB = -20.0  # active RMS every recording is brought to before the layout's gain


@dataclass(frozen=True)
class SoundRecord:
    id: str
    path: str  # absolute path of the audio file
    start: float  # seconds into the file
    duration: float  # seconds
    sample_rate: int  # the file's own rate
    cls: str
    subclass: str
    material: str
    description: str
    source: str  # Debian package, or "user:<folder>"
    license: str
    attribution: str
    onset: float  # first attack, seconds from ``start``
    loudness_db: float  # active RMS of the stretch, dBFS
    bands: tuple[float, ...]  # band profile at the loudest layout column (layout units, 0..1)
    user: bool = False
    original: str = ""  # where it came from inside its package (credits)
    hit: float = 0.0  # seconds of the first hit (before a second strong attack); 0 = all of it
    split: str = ""  # the Foley library's train/val/test split ("" for a user's files)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bands"] = [round(float(b), 4) for b in self.bands]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SoundRecord:
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["bands"] = tuple(float(b) for b in kw.get("bands", ()))
        return cls(**kw)

    @property
    def credit(self) -> str:
        """One line for a credits file: what, from where, under which license, by whom."""
        where = self.original or Path(self.path).name
        return f"{Path(self.path).name} ({self.cls}/{self.subclass}) — {self.source}: {where} — {self.license} — {self.attribution}"


def read_stretch(path: str | Path, start: float, duration: float) -> tuple[np.ndarray, int]:
    """Mono float32 samples of ``[start, start+duration)`` of an audio file and its rate."""
    import soundfile as sf

    p = Path(path)
    try:
        with sf.SoundFile(str(p)) as f:
            sr = int(f.samplerate)
            a = int(round(start * sr))
            n = int(round(duration * sr)) if duration > 0 else -1
            f.seek(min(a, max(0, f.frames - 1)))
            data = f.read(frames=n, dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises several types; MP3 may need PyAV
        try:
            from engine.media import read_audio

            full, sr = read_audio(p)
        except Exception:
            raise MediaError(f"cannot decode audio ({exc})", p) from exc
        a = int(round(start * sr))
        full = np.asarray(full, np.float32)
        data = full[a : a + int(round(duration * sr))] if duration > 0 else full[a:]
        return (data.mean(axis=1) if data.ndim == 2 else data).astype(np.float32), int(sr)
    if data.size == 0:
        raise MediaError("no audio samples", p)
    return data.mean(axis=1).astype(np.float32), sr


@lru_cache(maxsize=256)
def _prepared(path: str, start: float, duration: float, sample_rate: int | None) -> np.ndarray:
    """Decoded, levelled and resampled once per recording and rate (read-only): a run of 24
    footsteps over 8 candidates decodes, levels and resamples 8 times, not 24."""
    from engine.data.clean import loudness_normalise

    y, sr = read_stretch(path, start, duration)
    out = loudness_normalise(y, sr, TARGET_DB, -1.0)
    if sample_rate is not None and sample_rate != sr:
        from engine.audio.dsp import resample

        out = resample(out, sr, sample_rate)
    out.setflags(write=False)
    return out


def record_audio(rec: SoundRecord, sample_rate: int | None = None) -> np.ndarray:
    """The record's samples, levelled to ``TARGET_DB`` active RMS (never above -1 dBFS peak),
    resampled to ``sample_rate`` when given. Cached and read-only: callers copy before editing."""
    return _prepared(rec.path, float(rec.start), float(rec.duration), sample_rate)
