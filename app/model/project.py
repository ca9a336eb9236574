"""The document: clip reference, lanes (prompt, layout, gain, takes), generation parameters.

Saved as ``name.v2aproj`` (JSON) plus a folder ``name.v2aproj.data/`` beside it holding each
lane's layouts as ``.npy`` and each take as ``.flac``. No Qt, no torch.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from app.model.events import Event
from app.model.layout import LayoutDoc
from engine.errors import OutputError, V2AError

FORMAT = "v2a-studio-project"
VERSION = 1


class ProjectError(V2AError):
    """A project file is unreadable or inconsistent."""


@dataclass
class GenerationParams:
    pack: str = "starter"
    engine: str = "diffusion"
    steps: int = 25
    guidance: float = 5.0
    layout_strength: float = 1.0
    layout_guidance: float = 1.0
    seed: int = 0
    seed_locked: bool = False
    takes: int = 2

    #: Settings a pack recommends in its ``sampling`` block (the rest are the editor's own).
    PACK_KEYS = ("steps", "guidance", "layout_guidance")

    def pack_changes(self, sampling: dict) -> dict:
        """The pack-recommended settings of ``sampling`` that differ from these, typed like them."""
        out = {}
        for k in self.PACK_KEYS:
            if k in sampling:
                v = type(getattr(self, k))(sampling[k])
                if v != getattr(self, k):
                    out[k] = v
        return out


@dataclass(eq=False)  # identity: two takes are never "equal" (and arrays do not compare)
class TakeRecord:
    audio: np.ndarray  # float32 mono
    sample_rate: int
    seed: int
    engine: str
    region: tuple[float, float] | None = None
    meta: dict = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    @property
    def label(self) -> str:
        r = "" if self.region is None else f" [{self.region[0]:.2f}–{self.region[1]:.2f}s]"
        return f"{self.engine} · seed {self.seed}{r}"


class Lane:
    """One sound source: its own prompt, negative prompt, layout, gain, takes."""

    def __init__(self, name: str, layout: LayoutDoc, prompt: str = "", negative_prompt: str = "") -> None:
        self.id = uuid.uuid4().hex[:8]
        self.name = name
        self.prompt = prompt
        self.negative_prompt = negative_prompt
        self.gain_db = 0.0
        self.mute = False
        self.solo = False
        self.layout = layout
        self.takes: list[TakeRecord] = []
        self.picked: int | None = None  # index into takes
        self.previous_pick: int | None = None  # for A/B
        self.changed = Event()  # (what: str)

    @property
    def picked_take(self) -> TakeRecord | None:
        if self.picked is None or not (0 <= self.picked < len(self.takes)):
            return None
        return self.takes[self.picked]

    def set_attr(self, name: str, value) -> None:
        setattr(self, name, value)
        self.changed.emit(name)

    def pick(self, index: int | None) -> None:
        if index != self.picked:
            self.previous_pick = self.picked
            self.picked = index
            self.changed.emit("picked")

    def insert_take(self, take: TakeRecord, index: int | None = None) -> int:
        i = len(self.takes) if index is None else index
        self.takes.insert(i, take)
        if self.picked is not None and self.picked >= i and index is not None:
            self.picked += 1
        self.changed.emit("takes")
        return i

    def remove_take(self, index: int) -> TakeRecord:
        take = self.takes.pop(index)
        if self.picked is not None:
            if self.picked == index:
                self.picked = None
            elif self.picked > index:
                self.picked -= 1
        self.previous_pick = None
        self.changed.emit("takes")
        return take


class Project:
    def __init__(self, clip_path: str | None = None) -> None:
        self.clip_path = clip_path
        self.lanes: list[Lane] = []
        self.params = GenerationParams()
        self.path: Path | None = None
        self.active_lane = 0
        self.lanes_changed = Event()  # ()
        self.params_changed = Event()  # (name)

    # -- lanes --------------------------------------------------------------------------------
    def add_lane(self, lane: Lane, index: int | None = None) -> int:
        i = len(self.lanes) if index is None else index
        self.lanes.insert(i, lane)
        self.lanes_changed.emit()
        return i

    def remove_lane(self, index: int) -> Lane:
        lane = self.lanes.pop(index)
        self.active_lane = max(0, min(self.active_lane, len(self.lanes) - 1))
        self.lanes_changed.emit()
        return lane

    def lane(self, lane_id: str) -> Lane:
        for ln in self.lanes:
            if ln.id == lane_id:
                return ln
        raise KeyError(lane_id)

    def set_param(self, name: str, value) -> None:
        setattr(self.params, name, value)
        self.params_changed.emit(name)

    # -- persistence ----------------------------------------------------------------------------
    @staticmethod
    def data_dir_for(path: Path) -> Path:
        return path.with_name(path.name + ".data")

    def to_json(self, data_dir_name: str) -> dict:
        lanes = []
        for ln in self.lanes:
            lanes.append(
                {
                    "id": ln.id,
                    "name": ln.name,
                    "prompt": ln.prompt,
                    "negative_prompt": ln.negative_prompt,
                    "gain_db": ln.gain_db,
                    "mute": ln.mute,
                    "solo": ln.solo,
                    "columns_per_second": ln.layout.columns_per_second,
                    "layout": f"{data_dir_name}/{ln.id}_layout.npy",
                    "predicted": f"{data_dir_name}/{ln.id}_predicted.npy",
                    "picked": ln.picked,
                    "takes": [
                        {
                            "id": t.id,
                            "file": f"{data_dir_name}/take_{t.id}.flac",
                            "sample_rate": t.sample_rate,
                            "seed": t.seed,
                            "engine": t.engine,
                            "region": list(t.region) if t.region else None,
                            "meta": _jsonable(t.meta),
                        }
                        for t in ln.takes
                    ],
                }
            )
        return {
            "format": FORMAT,
            "version": VERSION,
            "clip": self.clip_path,
            "params": asdict(self.params),
            "active_lane": self.active_lane,
            "lanes": lanes,
        }

    def save(self, path: str | Path) -> Path:
        """Write JSON + data folder. The JSON is replaced atomically; data files go first."""
        path = Path(path)
        if path.suffix != ".v2aproj":
            path = path.with_name(path.name + ".v2aproj")
        if not path.resolve().parent.is_dir():
            raise OutputError("folder does not exist", path)
        if self.clip_path and Path(self.clip_path).resolve() == path.resolve():
            raise OutputError("refusing to overwrite the clip", path)
        data = self.data_dir_for(path)
        data.mkdir(exist_ok=True)
        doc = self.to_json(data.name)
        keep = set()
        for ln in self.lanes:
            for name, arr in ((f"{ln.id}_layout.npy", ln.layout.values), (f"{ln.id}_predicted.npy", ln.layout.predicted)):
                _atomic_npy(data / name, arr)
                keep.add(name)
            for t in ln.takes:
                name = f"take_{t.id}.flac"
                keep.add(name)
                if not (data / name).exists():  # takes are immutable once written
                    _atomic_flac(data / name, t.audio, t.sample_rate)
        for f in data.iterdir():
            if f.is_file() and f.name not in keep and f.suffix in (".npy", ".flac"):
                f.unlink()
        fd, tmp = tempfile.mkstemp(prefix=".proj.", suffix=".tmp", dir=path.resolve().parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
        os.replace(tmp, path)
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path) -> Project:
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ProjectError("file not found", path) from e
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ProjectError(f"not a readable project file ({e.__class__.__name__})", path) from e
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ProjectError("not a V2A Studio project", path)
        base = path.resolve().parent
        proj = cls(doc.get("clip"))
        proj.path = path
        p = GenerationParams()
        for k, v in (doc.get("params") or {}).items():
            if hasattr(p, k):
                setattr(p, k, v)
        proj.params = p
        try:
            for d in doc.get("lanes", []):
                values = np.load(base / d["layout"], allow_pickle=False)
                pred_p = base / d["predicted"]
                pred = np.load(pred_p, allow_pickle=False) if pred_p.exists() else None
                lane = Lane(d["name"], LayoutDoc(values, d.get("columns_per_second", 10.0), pred))
                lane.id = d["id"]
                lane.prompt = d.get("prompt", "")
                lane.negative_prompt = d.get("negative_prompt", "")
                lane.gain_db = float(d.get("gain_db", 0.0))
                lane.mute = bool(d.get("mute", False))
                lane.solo = bool(d.get("solo", False))
                for td in d.get("takes", []):
                    audio, sr = sf.read(str(base / td["file"]), dtype="float32", always_2d=False)
                    if audio.ndim > 1:
                        audio = audio.mean(axis=1)
                    region = td.get("region")
                    lane.takes.append(
                        TakeRecord(
                            audio=audio,
                            sample_rate=int(sr),
                            seed=int(td.get("seed", 0)),
                            engine=td.get("engine", "diffusion"),
                            region=tuple(region) if region else None,
                            meta=td.get("meta", {}),
                            id=td["id"],
                        )
                    )
                picked = d.get("picked")
                lane.picked = picked if picked is not None and 0 <= picked < len(lane.takes) else None
                proj.lanes.append(lane)
        except (OSError, KeyError, ValueError, RuntimeError) as e:
            raise ProjectError(f"project data is missing or damaged ({e})", path) from e
        proj.active_lane = max(0, min(int(doc.get("active_lane", 0)), len(proj.lanes) - 1))
        return proj

    def copy_data_to(self, new_path: Path) -> None:
        """Save-as: carry existing take files so they need not be re-encoded."""
        if self.path is None:
            return
        old = self.data_dir_for(self.path)
        new = self.data_dir_for(new_path)
        if old.is_dir() and old.resolve() != new.resolve():
            new.mkdir(exist_ok=True)
            for f in old.glob("take_*.flac"):
                if not (new / f.name).exists():
                    shutil.copy2(f, new / f.name)


def _jsonable(meta: dict) -> dict:
    out = {}
    for k, v in meta.items():
        if isinstance(v, str | int | float | bool) or v is None:
            out[k] = v
        elif isinstance(v, list | tuple) and all(isinstance(x, int | float | str) for x in v):
            out[k] = list(v)
    return out


def _atomic_npy(path: Path, arr: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".npy", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        np.save(fh, np.asarray(arr, np.float32), allow_pickle=False)
    os.replace(tmp, path)


def _atomic_flac(path: Path, audio: np.ndarray, sr: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".flac", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, np.clip(np.asarray(audio, np.float32), -1, 1), int(sr), subtype="PCM_24", format="FLAC")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
