"""Where packs live and how a name becomes a folder (torch-free)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from engine import paths
from engine.errors import PackError, V2AError
from engine.packs.format import MANIFEST, pack_size, read_manifest, verify_pack

DEFAULT_PACK = "starter"
ENV_PACKS = "V2A_PACKS"


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    path: Path
    engines: tuple[str, ...]
    size_bytes: int
    description: str = ""
    license: str = ""
    root_kind: str = ""  # "embedded", "user", "env" or "path"
    verified: bool | None = None  # None = not checked
    problem: str = ""  # why verification failed

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["path"] = str(self.path)
        d["engines"] = list(self.engines)
        return d


def embedded_root() -> Path:
    """``resources/packs`` of the program: source checkout, editable install or frozen bundle."""
    try:
        return paths.bundled_packs_dir()
    except V2AError:
        # No resources folder at all: report the checkout location; it simply holds no packs.
        meipass = getattr(sys, "_MEIPASS", None)
        if meipass:
            return Path(meipass) / "resources" / "packs"
        return Path(__file__).resolve().parents[2] / "resources" / "packs"


def user_root() -> Path:
    """Per-user pack folder (platformdirs user_data_dir("v2a-studio")/packs, see engine.paths)."""
    return paths.user_packs_dir()


def _roots_with_kind() -> list[tuple[Path, str]]:
    env = os.environ.get(ENV_PACKS)
    if env:
        # Explicit override (tests, portable installs): only these folders, in order.
        return [(Path(p).expanduser(), "env") for p in env.split(os.pathsep) if p]
    embedded = embedded_root()
    out = []
    for d in paths.pack_search_dirs():  # user-installed first, so a user's copy shadows ours
        out.append((d, "embedded" if d == embedded else ("user" if d == user_root() else "extra")))
    if embedded not in [d for d, _ in out]:
        out.append((embedded, "embedded"))
    return out


def pack_roots() -> list[Path]:
    """Folders searched for packs, in priority order ($V2A_PACKS replaces the defaults)."""
    return [p for p, _ in _roots_with_kind()]


def default_install_root() -> Path:
    """Where ``install_pack`` puts packs: the first $V2A_PACKS folder, else the user folder."""
    env = os.environ.get(ENV_PACKS)
    if env:
        first = [p for p in env.split(os.pathsep) if p]
        if first:
            return Path(first[0]).expanduser()
    return user_root()


def _candidates() -> list[tuple[Path, str]]:
    out = []
    seen: set[Path] = set()
    for root, kind in _roots_with_kind():
        if not root.is_dir():
            continue
        for d in sorted(root.iterdir()):
            if d.name.startswith(".") or not (d / MANIFEST).is_file():
                continue
            rp = d.resolve()
            if rp not in seen:
                seen.add(rp)
                out.append((d, kind))
    return out


def _pack_name(d: Path) -> str:
    try:
        return str(read_manifest(d).get("name", d.name))
    except PackError:
        return d.name


def find_pack(name_or_path: str | Path | None = None) -> Path:
    """A pack folder from a name (searched in ``pack_roots()``) or a path; None = starter."""
    target = DEFAULT_PACK if name_or_path is None else str(name_or_path)
    p = Path(target).expanduser()
    if p.is_file() and p.name == MANIFEST:
        return p.parent
    if p.is_dir() and (p / MANIFEST).is_file():
        return p
    if p.is_dir():
        raise PackError(f"not a model pack: no {MANIFEST}", p)
    looks_like_path = os.sep in target or target.startswith(".") or target.endswith(".json")
    cands = _candidates()
    for d, _ in cands:  # folder name first (cheap), then the manifest's own name
        if d.name == target:
            return d
    for d, _ in cands:
        if _pack_name(d) == target:
            return d
    names = sorted({_pack_name(d) for d, _ in cands})
    have = f"installed packs: {', '.join(names)}" if names else "no packs are installed"
    where = ", ".join(str(r) for r in pack_roots())
    if looks_like_path:
        raise PackError(f"no model pack at this path ({have})", target)
    raise PackError(
        f"model pack {target!r} is not installed ({have}; searched {where}). "
        f"Install one with: v2a pack install <folder | archive | URL | org/name>"
    )


def list_packs(verify: bool = False) -> list[PackInfo]:
    """Every pack in ``pack_roots()``; ``verify=True`` also checks sizes and checksums."""
    infos = []
    for d, kind in _candidates():
        try:
            man = read_manifest(d)
        except PackError as exc:
            infos.append(PackInfo(d.name, "?", d, (), 0, root_kind=kind, verified=False, problem=exc.message))
            continue
        verified: bool | None = None
        problem = ""
        if verify:
            try:
                verify_pack(d)
                verified = True
            except PackError as exc:
                verified, problem = False, exc.message
        engines = tuple(sorted((man.get("engines") or {}).keys()))
        if not engines and man.get("engine"):  # single-engine packs may say "engine": "diffusion"
            engines = (str(man["engine"]),)
        infos.append(
            PackInfo(
                name=str(man.get("name", d.name)),
                version=str(man.get("version", "?")),
                path=d,
                engines=engines,
                size_bytes=pack_size(d),
                description=str(man.get("description", "")),
                license=str(man.get("license", "")),
                root_kind=kind,
                verified=verified,
                problem=problem,
            )
        )
    return infos


def sampling_defaults(name_or_path: str | Path | None = None) -> dict:
    """The sampling settings a pack recommends (its ``sampling`` block over the engine's
    defaults: steps, guidance, layout_guidance, ...); raises ``PackError`` like ``find_pack``."""
    from engine.packs.config import pack_config

    d = find_pack(name_or_path)
    return pack_config(read_manifest(d), d).sampling.to_dict()
