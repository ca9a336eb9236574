"""Autosave, crash recovery and recent files (no Qt). Folders come from ``engine.paths``
(``V2A_HOME`` / ``V2A_STATE_DIR`` / ``V2A_CONFIG_DIR`` override them).

Each running window owns one autosave slot ``<autosave>/<session>.v2aproj`` plus a
``.json`` note (pid, original project path). A clean exit removes the slot; a slot whose
process is gone is a crash left-over, and the next start offers to recover it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.model.project import Project


def autosave_root() -> Path:
    from engine.api import autosave_dir

    return autosave_dir(ensure=True)


def config_root() -> Path:
    from engine.api import config_dir

    return config_dir(ensure=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Recoverable:
    project: Path
    note: Path
    original: str | None
    clip: str | None
    saved_at: float


class AutosaveSlot:
    def __init__(self, folder: Path | None = None) -> None:
        self.dir = folder or autosave_root()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.session = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.path = self.dir / f"{self.session}.v2aproj"
        self.note = self.dir / f"{self.session}.json"

    def save(self, project: Project) -> Path:
        original = project.path
        try:
            project.save(self.path)
        finally:
            project.path = original  # autosave never changes where "Save" writes
        import time

        self.note.write_text(
            json.dumps({"pid": os.getpid(), "original": str(original) if original else None, "clip": project.clip_path, "time": time.time()})
        )
        return self.path

    def discard(self) -> None:
        remove_slot(self.path, self.note)

    @staticmethod
    def leftovers(folder: Path | None = None) -> list[Recoverable]:
        d = folder or autosave_root()
        out = []
        if not d.is_dir():
            return out
        for note in sorted(d.glob("*.json")):
            try:
                meta = json.loads(note.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            proj = note.with_suffix(".v2aproj")
            if _alive(int(meta.get("pid", -1))) or not proj.exists():
                continue
            out.append(Recoverable(proj, note, meta.get("original"), meta.get("clip"), float(meta.get("time", 0))))
        return out


def remove_slot(project: Path, note: Path) -> None:
    for p in (project, note):
        p.unlink(missing_ok=True)
    shutil.rmtree(Project.data_dir_for(project), ignore_errors=True)


class RecentFiles:
    def __init__(self, folder: Path | None = None, limit: int = 10) -> None:
        self.file = (folder or config_root()) / "recent.json"
        self.limit = limit

    def load(self) -> list[str]:
        try:
            items = json.loads(self.file.read_text())
        except (OSError, json.JSONDecodeError):
            return []
        return [s for s in items if isinstance(s, str)]

    def add(self, path: str) -> list[str]:
        p = str(Path(path).resolve())
        items = [p] + [s for s in self.load() if s != p]
        items = items[: self.limit]
        try:
            self.file.write_text(json.dumps(items, indent=1))
        except OSError:
            pass
        return items
