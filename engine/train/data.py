"""Training data for the diffusion pack: rendered paired clips -> in-memory arrays.

Each clip (``clips/<split>/<id>.mp4`` + its exact soundtrack ``<id>.flac`` or the mp4's own
audio + ``<id>.json`` events) is decoded once into: frames at the pack's frame rate and
image size (uint8), the motion stream, the log-mel at 100 frames/s, the clip's event classes
(multi-hot) and a text prompt (the library's description of its events). The result is
saved as plain arrays (``.npz``, concatenated with offsets, no pickles) in the run folder.

``Record`` lists can also be made directly (tests build synthetic ones).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio.layout import LayoutConfig
from engine.audio.mel import MelConfig, log_mel
from engine.models.visual import motion_features


@dataclass
class Record:
    id: str
    frames: np.ndarray  # uint8 [F, S, S, 3] at frame_rate
    mel: np.ndarray  # float32 [T, n_mels] log-mel at 100 frames/s
    classes: np.ndarray  # float32 [n_classes] multi-hot
    text: str  # prompt (may be "")
    motion: np.ndarray | None = None  # [F, m]


@dataclass
class ClipSet:
    """Concatenated arrays of many records, with offsets."""

    ids: list[str]
    frames: np.ndarray
    f_off: np.ndarray
    mel: np.ndarray
    m_off: np.ndarray
    motion: np.ndarray
    classes: np.ndarray
    texts: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def clip(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f = self.frames[self.f_off[i] : self.f_off[i + 1]]
        m = self.mel[self.m_off[i] : self.m_off[i + 1]]
        mo = self.motion[self.f_off[i] : self.f_off[i + 1]]
        return f, m, mo

    @classmethod
    def from_records(cls, recs: list[Record], motion_grid: int) -> ClipSet:
        f_off = np.cumsum([0] + [r.frames.shape[0] for r in recs])
        m_off = np.cumsum([0] + [r.mel.shape[0] for r in recs])
        motion = [r.motion if r.motion is not None else motion_features(r.frames, motion_grid) for r in recs]
        return cls(
            ids=[r.id for r in recs],
            frames=np.concatenate([r.frames for r in recs]),
            f_off=f_off,
            mel=np.concatenate([r.mel for r in recs]).astype(np.float32),
            m_off=m_off,
            motion=np.concatenate(motion).astype(np.float32),
            classes=np.stack([r.classes for r in recs]).astype(np.float32),
            texts=[r.text for r in recs],
        )

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(
            tmp,
            ids=np.array(self.ids),
            frames=self.frames,
            f_off=self.f_off,
            mel=self.mel,
            m_off=self.m_off,
            motion=self.motion,
            classes=self.classes,
            texts=np.array(self.texts),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ClipSet:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                ids=[str(s) for s in z["ids"]],
                frames=z["frames"],
                f_off=z["f_off"],
                mel=z["mel"],
                m_off=z["m_off"],
                motion=z["motion"],
                classes=z["classes"],
                texts=[str(s) for s in z["texts"]],
            )


def _event_list(meta: dict[str, Any]) -> list[dict[str, Any]]:
    ev = meta.get("events", [])
    return ev if isinstance(ev, list) else []


def _load_sfx_descriptions(root: Path) -> dict[str, dict[str, Any]]:
    man = root / "sfx" / "manifest.jsonl"
    out: dict[str, dict[str, Any]] = {}
    if man.is_file():
        for line in man.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out[str(row.get("id"))] = row
    return out


def clip_prompt(meta: dict[str, Any], sfx: dict[str, dict[str, Any]], rng: np.random.Generator | None = None) -> str:
    """A prompt for a clip: the descriptions of its events' sounds (distinct, in order)."""
    seen: list[str] = []
    for e in _event_list(meta):
        desc = e.get("description")
        sid = e.get("sound_id") or e.get("sound") or e.get("id")
        if not desc and sid is not None and str(sid) in sfx:
            desc = sfx[str(sid)].get("description")
        if not desc:
            desc = e.get("subclass") or e.get("class")
        if desc and desc not in seen:
            seen.append(str(desc))
    if not seen and meta.get("description"):
        seen.append(str(meta["description"]))
    return "; ".join(seen[:3])


def list_classes(root: Path) -> list[str]:
    sfx = _load_sfx_descriptions(root)
    classes = sorted({str(r.get("class")) for r in sfx.values() if r.get("class")})
    if not classes:
        for js in sorted((root / "clips").glob("*/*.json")):
            meta = json.loads(js.read_text())
            classes.extend(str(e.get("class")) for e in _event_list(meta) if e.get("class"))
        classes = sorted(set(classes))
    return classes


def load_clip_record(
    mp4: Path,
    frame_rate: float,
    image_size: int,
    classes: list[str],
    sfx: dict[str, dict[str, Any]],
    mel_cfg: MelConfig = MelConfig(),
) -> Record:
    from engine.media import probe, read_audio, read_frames_array
    from engine.timebase import frame_count

    info = probe(mp4)
    dur = float(info.video.duration)
    frames, _ = read_frames_array(mp4, frame_rate, size=(image_size, image_size), crop=False)
    n = max(1, frame_count(dur, frame_rate))
    if frames.shape[0] < n:
        frames = np.concatenate([frames, np.repeat(frames[-1:], n - frames.shape[0], 0)])
    frames = frames[:n]
    flac = mp4.with_suffix(".flac")
    if flac.is_file():
        from engine.audio.dsp import resample
        from engine.data.clean import load_mono

        audio, sr = load_mono(flac)
        audio = resample(audio, sr, mel_cfg.sample_rate)
    else:
        audio, _ = read_audio(mp4, sample_rate=mel_cfg.sample_rate)
    n_s = int(round(dur * mel_cfg.sample_rate))
    audio = np.pad(audio, (0, max(0, n_s - len(audio))))[:n_s]
    mel = log_mel(audio, mel_cfg)
    js = mp4.with_suffix(".json")
    meta = json.loads(js.read_text()) if js.is_file() else {}
    multi = np.zeros(len(classes), np.float32)
    for e in _event_list(meta):
        c = e.get("class")
        if c in classes:
            multi[classes.index(c)] = 1.0
    return Record(mp4.stem, frames, mel, multi, clip_prompt(meta, sfx))


def prepare_split(
    data_root: Path,
    split: str,
    frame_rate: float,
    image_size: int,
    motion_grid: int,
    classes: list[str],
    max_clips: int | None = None,
    progress=None,
    per_clip_cache: Path | None = None,
) -> ClipSet:
    sfx = _load_sfx_descriptions(data_root)
    clips = sorted(p for p in (data_root / "clips" / split).glob("*.mp4") if not p.name.startswith("."))
    if max_clips:
        clips = clips[:max_clips]
    recs = []
    for i, mp4 in enumerate(clips):
        cached = None if per_clip_cache is None else per_clip_cache / f"{mp4.stem}.npz"
        try:
            if cached is not None and cached.is_file():
                with np.load(cached, allow_pickle=False) as z:
                    recs.append(Record(str(z["id"]), z["frames"], z["mel"], z["classes"], str(z["text"]), z["motion"]))
            else:
                r = load_clip_record(mp4, frame_rate, image_size, classes, sfx)
                r.motion = motion_features(r.frames, motion_grid)
                if cached is not None:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    tmp = cached.with_name(cached.stem + ".tmp.npz")
                    np.savez(tmp, id=np.array(r.id), frames=r.frames, mel=r.mel, classes=r.classes,
                             text=np.array(r.text), motion=r.motion)
                    tmp.replace(cached)
                recs.append(r)
        except Exception as exc:  # one broken clip must not stop the run
            print(f"skipping {mp4}: {exc}")
        if progress is not None:
            progress(i + 1, len(clips))
    if not recs:
        raise FileNotFoundError(f"no usable clips in {data_root / 'clips' / split}")
    return ClipSet.from_records(recs, motion_grid)


# ------------------------------------------------------------------------- crops ----
def layout_target(mel: np.ndarray, layout_cfg: LayoutConfig, n_cols: int) -> np.ndarray:
    """[n_cols, bands] layout of a mel crop: the maths of ``layout_from_mel`` (TiVA Eq. 1, the
    engine's fixed Norm) at an exact column count."""
    from engine.audio.layout import normalize_mel, resize_layout

    return np.clip(resize_layout(normalize_mel(mel, layout_cfg), n_cols, layout_cfg.bands), 0, 1)
