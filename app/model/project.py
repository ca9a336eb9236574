"""The document: clip reference, lanes (prompt, layout, gain, takes), generation parameters.

Saved as ``name.v2aproj`` (JSON) plus a folder ``name.v2aproj.data/`` beside it holding each
lane's layouts as ``.npy`` and each take as ``.flac``. No Qt, no torch.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import tokenize
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import NoReturn

import numpy as np
import soundfile as sf

from app.model.events import Event
from app.model.layout import LayoutDoc
from engine.api import OutputError, SamplingConfig, V2AError, resolve_inside

FORMAT = "v2a-studio-project"
VERSION = 1

# Limits checked when a project is loaded, before anything big is read, so a damaged or hostile
# file costs bounded memory and time. Generous for real work: 4 hours at the 25 columns/s grid.
MAX_PROJECT_BYTES = 32 * 1024 * 1024  # the .v2aproj JSON itself
MAX_LANES = 64
MAX_TAKES_PER_LANE = 256
MAX_SECONDS = 4 * 3600  # longest layout or take
MAX_LAYOUT_COLUMNS = 25 * MAX_SECONDS  # 360,000 columns
MAX_LAYOUT_BANDS = 128
MAX_COLUMNS_PER_SECOND = 1000.0
MAX_SAMPLE_RATE = 384_000
# Lane and take ids become file names in the data folder: plain names only, never paths.
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


_SAMPLING = SamplingConfig()


class ProjectError(V2AError):
    """A project file is unreadable or inconsistent."""


#: The Engine menu: "auto" picks per lane at generation time (``GenerationParams.engine_for``).
ENGINES = ("auto", "diffusion", "ar", "library")


@dataclass
class GenerationParams:
    pack: str = "starter"
    engine: str = "auto"  # one of ENGINES
    # the engine's defaults (engine.packs.config.SamplingConfig); a pack's recommendations
    # replace them when it is chosen (``pack_changes``)
    steps: int = _SAMPLING.steps
    guidance: float = _SAMPLING.guidance
    layout_strength: float = 1.0
    layout_guidance: float = _SAMPLING.layout_guidance
    seed: int = 0
    seed_locked: bool = False
    takes: int = 2

    #: Settings a pack recommends in its ``sampling`` block (the rest are the editor's own).
    PACK_KEYS = ("steps", "guidance", "layout_guidance")
    #: The engine of a project saved before "auto" existed (its file names no engine).
    LEGACY_ENGINE = "diffusion"

    def engine_for(self, prompt: str, reference: str | None) -> str:
        """The engine a lane runs on. "auto" is the CLI's ``--engine auto``: a lane whose prompt
        or Sound (reference recording) says what it is gets the library engine (real
        recordings), any other lane the diffusion engine. An explicit choice is kept."""
        if self.engine != "auto":
            return self.engine
        return "library" if (prompt.strip() or reference) else "diffusion"

    def sampling_overrides(self, recommended: dict | None) -> dict:
        """The sampling settings a ``GenerationRequest`` carries: only those the editor set to
        something other than what the pack recommends (``recommended``, from
        ``engine.api.sampling_defaults``). The rest stay out, i.e. None = "the pack's value",
        which the engine fills from the pack that runs. ``recommended`` None (the pack cannot
        be read): every setting goes in as shown."""
        out = {}
        for k in self.PACK_KEYS:
            v = getattr(self, k)
            if recommended is None or k not in recommended or type(v)(recommended[k]) != v:
                out[k] = v
        return out

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
        # The lane's sound for the library engine: a recording's path (a user's file or a
        # library record), stored as given; None = choose from the prompt.
        self.reference: str | None = None
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
                    "reference": ln.reference,
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
        for ln in self.lanes:  # ids become file names: never let one name a path
            for what, ident in (("lane", ln.id), *(("take", t.id) for t in ln.takes)):
                if not isinstance(ident, str) or not ID_RE.match(ident):
                    raise OutputError(f"{what} id {ident!r} is not a plain name; refusing to save", path)
        folder = path.resolve().parent
        data = self.data_dir_for(path)
        # Every write lands inside the project's folder (a symlinked data folder is refused too).
        resolve_inside(folder, data.name, OutputError, path)
        data.mkdir(exist_ok=True)
        data = resolve_inside(folder, data.name, OutputError, path)
        doc = self.to_json(data.name)
        keep = set()
        for ln in self.lanes:
            for name, arr in ((f"{ln.id}_layout.npy", ln.layout.values), (f"{ln.id}_predicted.npy", ln.layout.predicted)):
                _atomic_npy(resolve_inside(data, name, OutputError, path), arr)
                keep.add(name)
            for t in ln.takes:
                name = f"take_{t.id}.flac"
                keep.add(name)
                target = resolve_inside(data, name, OutputError, path)
                if not target.exists():  # takes are immutable once written
                    _atomic_flac(target, t.audio, t.sample_rate)
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
        """Read a project, checking every field before any array is allocated.

        Anything malformed is one ``ProjectError`` naming the file and the field; lane and
        take ids that are not plain names (``../x``, ``/abs``) are refused, not cleaned up, so
        a project can never make Save write outside its folder.
        """
        path = Path(path)
        try:
            size = path.stat().st_size
            if size > MAX_PROJECT_BYTES:
                raise ProjectError(f"too large for a project file ({size} bytes, at most {MAX_PROJECT_BYTES})", path)
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ProjectError("file not found", path) from e
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise ProjectError(f"not a readable project file ({e.__class__.__name__})", path) from e
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ProjectError("not a V2A Studio project", path)
        chk = _Checker(path)
        clip = doc.get("clip")
        if clip is not None and not isinstance(clip, str):
            chk.fail("clip", "must be a file path (text)")
        base = path.resolve().parent
        proj = cls(clip)
        proj.path = path
        proj.params = chk.params(doc.get("params"))
        lanes = doc.get("lanes", [])
        if not isinstance(lanes, list):
            chk.fail("lanes", f"must be a list of lanes, got {_kind(lanes)}")
        if len(lanes) > MAX_LANES:
            chk.fail("lanes", f"{len(lanes)} lanes, at most {MAX_LANES}")
        active = doc.get("active_lane", 0)
        if not _is_int(active):
            chk.fail("active_lane", f"must be a whole number, got {active!r}")
        # All the JSON first (cheap), then the arrays and audio, each checked before it is read.
        specs = [chk.lane(d, i, base) for i, d in enumerate(lanes)]
        seen: set[str] = set()
        for i, spec in enumerate(specs):
            if spec["id"] in seen:
                chk.fail(f"lanes[{i}].id", f"duplicate lane id {spec['id']!r}")
            seen.add(spec["id"])
        try:
            for i, spec in enumerate(specs):
                proj.lanes.append(chk.build_lane(spec, f"lanes[{i}]"))
        except (OSError, KeyError, ValueError, RuntimeError) as e:
            raise ProjectError(f"project data is missing or damaged ({e})", path) from e
        proj.active_lane = max(0, min(int(active), len(proj.lanes) - 1))
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


def _kind(v) -> str:
    return "null" if v is None else type(v).__name__


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _npy_header(f: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a .npy file from its header alone (nothing allocated)."""
    with open(f, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        try:
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f".npy format version {version} is not supported")
        except (SyntaxError, tokenize.TokenError) as e:  # numpy's fallback parse of a damaged header
            raise ValueError(f"damaged header ({e.__class__.__name__})") from e
    return shape, dtype


class _Checker:
    """Validates one project document field by field; every failure names the field."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.take_ids: set[str] = set()

    def fail(self, field_name: str, problem: str) -> NoReturn:
        raise ProjectError(f"{field_name}: {problem}", self.path)

    def params(self, raw) -> GenerationParams:
        p = GenerationParams()
        p.engine = GenerationParams.LEGACY_ENGINE  # a file that names no engine predates "auto"
        if raw is None:
            return p
        if not isinstance(raw, dict):
            self.fail("params", f"must be an object, got {_kind(raw)}")
        known = {f.name for f in fields(GenerationParams)}
        for k, v in raw.items():
            if k not in known:
                continue  # settings from a newer or older version are ignored
            want = type(getattr(p, k))
            if want is bool:
                ok = isinstance(v, bool)
            elif want is int:
                ok = _is_int(v) or (_is_number(v) and float(v).is_integer())
                v = int(v) if ok else v
            elif want is float:
                ok = _is_number(v)
                v = float(v) if ok else v
            else:
                ok = isinstance(v, want)
            if not ok:
                self.fail(f"params.{k}", f"must be {want.__name__}, got {v!r}")
            setattr(p, k, v)
        return p

    def file(self, base: Path, rel, field_name: str) -> Path:
        if not isinstance(rel, str):
            self.fail(field_name, f"must be a file path inside the project folder, got {_kind(rel)}")
        try:
            return resolve_inside(base, rel, ProjectError, self.path)
        except ProjectError as e:
            self.fail(field_name, e.problem)

    def lane(self, d, i: int, base: Path) -> dict:
        """The lane's JSON checked and its file paths resolved inside ``base``; no file read."""
        f = f"lanes[{i}]"
        if not isinstance(d, dict):
            self.fail(f, f"must be an object, got {_kind(d)}")
        for key in ("id", "name", "layout"):
            if key not in d:
                self.fail(f"{f}.{key}", "missing")
        lane_id = d["id"]
        if not isinstance(lane_id, str) or not ID_RE.match(lane_id):
            self.fail(f"{f}.id", f"{lane_id!r} is not a plain name (letters, digits, - and _); refused")
        for key in ("name", "prompt", "negative_prompt"):
            if not isinstance(d.get(key, ""), str):
                self.fail(f"{f}.{key}", f"must be text, got {_kind(d[key])}")
        cps = d.get("columns_per_second", 10.0)
        if not _is_number(cps) or not 0 < cps <= MAX_COLUMNS_PER_SECOND:
            self.fail(f"{f}.columns_per_second", f"must be a number in (0, {MAX_COLUMNS_PER_SECOND:g}], got {cps!r}")
        gain = d.get("gain_db", 0.0)
        if not _is_number(gain):
            self.fail(f"{f}.gain_db", f"must be a number, got {gain!r}")
        for key in ("mute", "solo"):
            if not isinstance(d.get(key, False), bool):
                self.fail(f"{f}.{key}", f"must be true or false, got {d[key]!r}")
        reference = d.get("reference")
        if reference is not None and not isinstance(reference, str):
            self.fail(f"{f}.reference", f"must be a file path (text) or null, got {_kind(reference)}")
        picked = d.get("picked")
        if picked is not None and not _is_int(picked):
            self.fail(f"{f}.picked", f"must be a take index or null, got {picked!r}")
        takes = d.get("takes", [])
        if not isinstance(takes, list):
            self.fail(f"{f}.takes", f"must be a list, got {_kind(takes)}")
        if len(takes) > MAX_TAKES_PER_LANE:
            self.fail(f"{f}.takes", f"{len(takes)} takes, at most {MAX_TAKES_PER_LANE}")
        pred = d.get("predicted")
        return {
            "id": lane_id,
            "name": d["name"],
            "prompt": d.get("prompt", ""),
            "negative_prompt": d.get("negative_prompt", ""),
            "gain_db": float(gain),
            "mute": d.get("mute", False),
            "solo": d.get("solo", False),
            "reference": reference or None,
            "cps": float(cps),
            "picked": picked,
            "layout": self.file(base, d["layout"], f"{f}.layout"),
            "predicted": None if pred is None else self.file(base, pred, f"{f}.predicted"),
            "takes": [self.take(td, f"{f}.takes[{j}]", base) for j, td in enumerate(takes)],
        }

    def take(self, td, f: str, base: Path) -> dict:
        if not isinstance(td, dict):
            self.fail(f, f"must be an object, got {_kind(td)}")
        for key in ("id", "file"):
            if key not in td:
                self.fail(f"{f}.{key}", "missing")
        tid = td["id"]
        if not isinstance(tid, str) or not ID_RE.match(tid):
            self.fail(f"{f}.id", f"{tid!r} is not a plain name (letters, digits, - and _); refused")
        if tid in self.take_ids:
            self.fail(f"{f}.id", f"duplicate take id {tid!r}")
        self.take_ids.add(tid)
        seed = td.get("seed", 0)
        if not _is_int(seed):
            self.fail(f"{f}.seed", f"must be a whole number, got {seed!r}")
        engine = td.get("engine", "diffusion")
        if not isinstance(engine, str):
            self.fail(f"{f}.engine", f"must be text, got {_kind(engine)}")
        region = td.get("region")
        if region is not None:
            if (not isinstance(region, list) or len(region) != 2 or not all(_is_number(x) for x in region)
                    or not 0 <= region[0] < region[1]):
                self.fail(f"{f}.region", f"must be null or [start, end] seconds with 0 <= start < end, got {region!r}")
            region = (float(region[0]), float(region[1]))
        meta = td.get("meta", {})
        if not isinstance(meta, dict):
            self.fail(f"{f}.meta", f"must be an object, got {_kind(meta)}")
        return {"id": tid, "file": self.file(base, td["file"], f"{f}.file"), "seed": seed, "engine": engine,
                "region": region, "meta": meta, "field": f}

    def array(self, file: Path, f: str, cps: float) -> np.ndarray:
        """A layout .npy: header checked (shape, dtype, size) before the data is read."""
        try:
            shape, dtype = _npy_header(file)
        except (OSError, ValueError) as e:
            self.fail(f, f"{file.name} is not a readable .npy layout ({e})")
        if len(shape) != 2 or shape[0] < 1 or not 1 <= shape[1] <= MAX_LAYOUT_BANDS:
            self.fail(f, f"{file.name} must be [columns, 1..{MAX_LAYOUT_BANDS} bands], got shape {shape}")
        if shape[0] > MAX_LAYOUT_COLUMNS or shape[0] / cps > MAX_SECONDS:
            self.fail(f, f"{file.name} has {shape[0]} columns, more than {MAX_SECONDS // 3600} hours "
                         f"(at most {MAX_LAYOUT_COLUMNS} columns)")
        if dtype.hasobject or dtype.kind not in "fiu":
            self.fail(f, f"{file.name} must hold numbers, got dtype {dtype}")
        try:
            arr = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as e:
            self.fail(f, f"{file.name} is truncated or damaged ({e})")
        if not np.all(np.isfinite(arr)):
            self.fail(f, f"{file.name} contains NaN or infinite values")
        return arr

    def build_lane(self, spec: dict, f: str) -> Lane:
        values = self.array(spec["layout"], f"{f}.layout", spec["cps"])
        pred = None
        if spec["predicted"] is not None and spec["predicted"].exists():
            pred = self.array(spec["predicted"], f"{f}.predicted", spec["cps"])
            if pred.shape != values.shape:
                self.fail(f"{f}.predicted", f"shape {pred.shape} differs from the layout's {values.shape}")
        lane = Lane(spec["name"], LayoutDoc(values, spec["cps"], pred))
        lane.id = spec["id"]
        lane.prompt = spec["prompt"]
        lane.negative_prompt = spec["negative_prompt"]
        lane.gain_db = spec["gain_db"]
        lane.mute = spec["mute"]
        lane.solo = spec["solo"]
        lane.reference = spec["reference"]
        for td in spec["takes"]:
            file = td["file"]
            try:
                info = sf.info(str(file))
            except (OSError, RuntimeError) as e:
                self.fail(f"{td['field']}.file", f"{file.name} is missing or not readable audio ({e})")
            if not 0 < info.samplerate <= MAX_SAMPLE_RATE or info.frames > MAX_SECONDS * info.samplerate:
                self.fail(f"{td['field']}.file", f"{file.name}: {info.frames} samples at {info.samplerate} Hz "
                                                 f"is outside the limits (at most {MAX_SECONDS // 3600} hours)")
            audio, sr = sf.read(str(file), dtype="float32", always_2d=False)
            if audio.ndim > 1:
                audio = audio.mean(axis=1)
            lane.takes.append(TakeRecord(audio=audio, sample_rate=int(sr), seed=td["seed"], engine=td["engine"],
                                         region=td["region"], meta=td["meta"], id=td["id"]))
        picked = spec["picked"]
        lane.picked = picked if picked is not None and 0 <= picked < len(lane.takes) else None
        return lane
