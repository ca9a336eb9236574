"""The pack format: ``pack.json`` + safetensors, sha256 for every file (DESIGN.md §4).

Torch-free except ``load_weights`` / ``write_pack`` (which need tensors) — those import
torch lazily so the app can list and verify packs without loading torch.

Security rule: nothing here ever unpickles. Weight files must be ``.safetensors``; any file
with a pickle-capable or foreign weight suffix makes the pack refused, naming the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import PackError

MANIFEST = "pack.json"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("name", "version", "format_version", "files")

# Files a pack may carry. Everything that can hold weights must be safetensors.
ALLOWED_SUFFIXES = frozenset({".safetensors", ".json", ".txt", ".md", ".png", ".model", ".vocab"})
# Known weight / pickle formats: refused wherever they appear in the pack directory.
FORBIDDEN_SUFFIXES = frozenset(
    {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".npy", ".npz", ".h5",
     ".hdf5", ".onnx", ".msgpack", ".tar", ".zip", ".pb", ".tflite", ".gguf", ".mar"}
)
_CHUNK = 1 << 20
# Manifest entries (besides "files") that name a file of the pack: each must stay inside it.
REFERENCED_PATHS = (
    ("vocoder", "file"),
    ("vocoder", "config_file"),
    ("vae", "file"),
    ("vae", "config_file"),
    ("engines", "ar", "model_file"),
    ("engines", "ar", "codec_file"),
)

# In-process cache of verified hashes: (path, size, mtime_ns) -> sha256. Re-hashing a large
# pack on every load would cost seconds; a changed file changes size or mtime.
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, cached per (path, size, mtime) within this process."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    hit = _HASH_CACHE.get(key)
    if hit is not None:
        return hit
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    _HASH_CACHE[key] = digest
    return digest


def read_manifest(pack_dir: str | Path) -> dict:
    """Parse and sanity-check ``pack.json`` (raises ``PackError`` naming the file)."""
    pack_dir = Path(pack_dir)
    path = pack_dir / MANIFEST
    if not pack_dir.is_dir():
        raise PackError("pack folder does not exist", pack_dir)
    if not path.is_file():
        raise PackError(f"not a model pack: no {MANIFEST}", pack_dir)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackError(f"unreadable manifest ({exc})", path) from exc
    if not isinstance(manifest, dict):
        raise PackError("manifest is not a JSON object", path)
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise PackError(f"manifest lacks {', '.join(missing)}", path)
    fv = manifest["format_version"]
    if not isinstance(fv, int) or fv < 1:
        raise PackError(f"bad format_version {fv!r}", path)
    if fv > FORMAT_VERSION:
        raise PackError(
            f"pack format {fv} is newer than this V2A Studio understands ({FORMAT_VERSION}); update the app",
            path,
        )
    files = manifest["files"]
    if not isinstance(files, dict):
        raise PackError("'files' must map relative paths to {sha256, bytes}", path)
    for rel, entry in files.items():
        _check_relpath(rel, path)
        if not isinstance(entry, dict) or "sha256" not in entry or "bytes" not in entry:
            raise PackError(f"file entry {rel!r} needs sha256 and bytes", path)
    for keys in REFERENCED_PATHS:
        node: Any = manifest
        for k in keys:
            node = node.get(k) if isinstance(node, dict) else None
        if node is None:
            continue
        if not isinstance(node, str):
            raise PackError(f"{'.'.join(keys)} must be a relative path, got {node!r}", path)
        try:
            check_inside(node, path)
        except PackError as exc:
            raise PackError(f"{'.'.join(keys)}: {exc.problem}", path) from exc
    return manifest


def check_inside(rel: str, where: str | Path) -> None:
    """A relative path must stay inside its folder: no absolute paths, no '..', no backslashes."""
    p = Path(rel)
    if not rel or p.is_absolute() or ".." in p.parts or "\\" in rel or rel.startswith("/"):
        raise PackError(f"file path {rel!r} leaves the pack folder", where)


def _check_relpath(rel: str, where: Path) -> None:
    """A listed file must stay inside the pack and is not the manifest itself."""
    check_inside(rel, where)
    if rel == MANIFEST:
        raise PackError("the manifest cannot list itself", where)


def check_file_kind(rel: str, where: str | Path) -> None:
    """Refuse anything that is not safetensors or a small data file (never a pickle)."""
    suffix = Path(rel).suffix.lower()
    if suffix in FORBIDDEN_SUFFIXES:
        raise PackError(
            f"{rel}: {suffix} files are not allowed in a pack (weights must be .safetensors; "
            "pickled checkpoints are never loaded)",
            where,
        )
    if suffix and suffix not in ALLOWED_SUFFIXES:
        raise PackError(f"{rel}: unexpected file type {suffix} in a pack", where)


def safetensors_header(path: str | Path) -> dict[str, dict]:
    """Tensor names -> {dtype, shape} read from a safetensors header, without torch."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise PackError("not a safetensors file (too short)", p)
            (n,) = struct.unpack("<Q", raw)
            if n > 100_000_000 or n > p.stat().st_size - 8:
                raise PackError("not a safetensors file (bad header length)", p)
            header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackError(f"not a safetensors file ({exc})", p) from exc
    header.pop("__metadata__", None)
    return {k: {"dtype": v["dtype"], "shape": list(v["shape"])} for k, v in header.items()}


def _walk_files(pack_dir: Path) -> list[str]:
    """Every file under ``pack_dir``, hidden folders included (a pack hides nothing)."""
    out = []
    for root, _dirs, files in os.walk(pack_dir):
        for name in files:
            rel = Path(root, name).relative_to(pack_dir).as_posix()
            out.append(rel)
    return sorted(out)


def verify_pack(
    pack_dir: str | Path,
    expected_shapes: Mapping[str, Mapping[str, tuple[int, ...] | list[int]]] | None = None,
    check_hashes: bool = True,
    listed_only: bool = False,
) -> None:
    """Raise ``PackError`` naming the first bad file; return quietly when the pack is sound.

    Checks: the manifest (every path in it stays inside the folder); no forbidden (pickle /
    foreign weight) file anywhere in the folder, hidden folders included; no file that
    pack.json does not list; every listed file exists with the listed size and sha256;
    safetensors headers agree with the shapes the manifest declares (``files[f]["tensors"]``)
    and with ``expected_shapes`` (``{filename: {tensor: shape}}``, e.g. from a model built from
    the pack's config). ``listed_only`` skips the walk of the folder (a source folder that is
    about to be copied file by file from its list).
    """
    pack_dir = Path(pack_dir)
    manifest = read_manifest(pack_dir)
    if not listed_only:
        present = _walk_files(pack_dir)
        for rel in present:
            if rel != MANIFEST:
                check_file_kind(rel, pack_dir)
        for rel in present:
            if rel != MANIFEST and rel not in manifest["files"]:
                raise PackError("not listed in pack.json (a pack carries only the files it lists)", pack_dir / rel)
    for rel, entry in manifest["files"].items():
        check_file_kind(rel, pack_dir)
        path = pack_dir / rel
        if not path.is_file():
            raise PackError("listed in pack.json but missing", path)
        size = path.stat().st_size
        if size != int(entry["bytes"]):
            raise PackError(f"size {size} bytes, pack.json says {entry['bytes']}", path)
        if check_hashes and sha256_file(path) != str(entry["sha256"]).lower():
            raise PackError("checksum mismatch (file corrupted or altered); reinstall the pack", path)
        if path.suffix == ".safetensors":
            header = safetensors_header(path)
            declared = entry.get("tensors")
            if declared:
                _compare_shapes(path, header, {k: v["shape"] for k, v in declared.items()}, "pack.json")
    if expected_shapes:
        for rel, shapes in expected_shapes.items():
            path = pack_dir / rel
            if rel not in manifest["files"]:
                raise PackError("required weight file is not listed in pack.json", path)
            _compare_shapes(path, safetensors_header(path), shapes, "the model config")


def _compare_shapes(path: Path, header: Mapping[str, dict], shapes: Mapping[str, Any], source: str) -> None:
    for key, shape in shapes.items():
        if key not in header:
            raise PackError(f"tensor {key!r} missing (required by {source})", path)
        got = list(header[key]["shape"])
        if got != list(shape):
            raise PackError(f"tensor {key!r} has shape {got}, {source} says {list(shape)}", path)


def check_state_dict(
    filename: str | Path, tensors: Mapping[str, Any], model_state: Mapping[str, Any], strict: bool = True
) -> None:
    """Compare loaded tensors with a model's ``state_dict()``; PackError names the file + key.

    Engines call this before ``load_state_dict`` so a pack whose weights do not fit the
    architecture its config describes is refused with a clear message, not a torch traceback.
    """
    for key, ref in model_state.items():
        if key not in tensors:
            if strict:
                raise PackError(f"tensor {key!r} missing for this architecture", filename)
            continue
        if tuple(tensors[key].shape) != tuple(ref.shape):
            raise PackError(
                f"tensor {key!r} has shape {tuple(tensors[key].shape)}, the config needs {tuple(ref.shape)}",
                filename,
            )
    if strict:
        extra = sorted(set(tensors) - set(model_state))
        if extra:
            raise PackError(f"unexpected tensors {extra[:3]}{'...' if len(extra) > 3 else ''}", filename)


def load_weights(pack_dir: str | Path, filename: str) -> dict[str, Any]:
    """Verify one weight file's sha256 and declared shapes, then load it (safetensors only)."""
    pack_dir = Path(pack_dir)
    manifest = read_manifest(pack_dir)
    path = pack_dir / filename
    check_file_kind(filename, pack_dir)
    if Path(filename).suffix != ".safetensors":
        raise PackError("only .safetensors weight files can be loaded", path)
    entry = manifest["files"].get(Path(filename).as_posix())
    if entry is None:
        raise PackError("weight file is not listed in pack.json", path)
    if not path.is_file():
        raise PackError("listed in pack.json but missing", path)
    if path.stat().st_size != int(entry["bytes"]) or sha256_file(path) != str(entry["sha256"]).lower():
        raise PackError("checksum mismatch (file corrupted or altered); reinstall the pack", path)
    header = safetensors_header(path)
    if entry.get("tensors"):
        _compare_shapes(path, header, {k: v["shape"] for k, v in entry["tensors"].items()}, "pack.json")
    return read_safetensors(path)


def read_safetensors(path: str | Path) -> dict[str, Any]:
    """Load a safetensors file's tensors; a file that is not one is a PackError naming it."""
    from safetensors.torch import load_file  # lazy: keeps engine.packs torch-free

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise PackError(f"cannot read weights ({exc})", path) from exc


def file_entry(path: Path) -> dict:
    """The manifest entry for one file: sha256, bytes (+ tensor shapes for safetensors)."""
    entry: dict[str, Any] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    if path.suffix == ".safetensors":
        entry["tensors"] = safetensors_header(path)
    return entry


def write_pack(
    pack_dir: str | Path,
    manifest: Mapping[str, Any],
    weights: Mapping[str, Mapping[str, Any]],
    extra_files: Mapping[str, bytes | str | Path] | None = None,
) -> Path:
    """Write a complete pack atomically: build it in a temp folder beside the target, rename.

    ``weights``: {"unet.safetensors": {tensor_name: tensor}}; ``extra_files``: {relpath:
    bytes | text | source path} (tokenizer files, licenses). ``files`` and ``format_version``
    are filled in here; an existing pack at ``pack_dir`` is replaced only once the new one is
    complete.
    """
    pack_dir = Path(pack_dir)
    parent = pack_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    man = dict(manifest)
    man.setdefault("name", pack_dir.name)
    man["format_version"] = FORMAT_VERSION
    man.setdefault("version", "0.0.0")
    tmp = Path(tempfile.mkdtemp(prefix=f".{pack_dir.name}.", suffix=".tmp", dir=parent))
    try:
        files: dict[str, dict] = {}
        if weights:
            from safetensors.torch import save_file  # lazy

            for rel, tensors in weights.items():
                _check_relpath(rel, pack_dir)
                if Path(rel).suffix != ".safetensors":
                    raise PackError(f"{rel}: weights must be written as .safetensors", pack_dir)
                out = tmp / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                # safetensors wants contiguous tensors that own their memory
                save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, str(out))
        for rel, content in (extra_files or {}).items():
            _check_relpath(rel, pack_dir)
            check_file_kind(rel, pack_dir)
            out = tmp / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                out.write_bytes(content)
            elif isinstance(content, Path):
                shutil.copyfile(content, out)
            else:
                out.write_text(str(content), encoding="utf-8")
        for rel in _walk_files(tmp):
            files[rel] = file_entry(tmp / rel)
        man["files"] = files
        (tmp / MANIFEST).write_text(json.dumps(man, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        verify_pack(tmp)
        replace_dir(tmp, pack_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return pack_dir


def replace_dir(src: Path, dst: Path) -> None:
    """Move a finished folder onto ``dst``; an old ``dst`` is swapped out, then removed."""
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(dst, old)
    try:
        os.replace(src, dst)
    except BaseException:
        if old is not None:
            with contextlib.suppress(OSError):
                os.replace(old, dst)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def pack_size(pack_dir: str | Path) -> int:
    """Total bytes of the files a pack lists (plus the manifest)."""
    pack_dir = Path(pack_dir)
    total = (pack_dir / MANIFEST).stat().st_size if (pack_dir / MANIFEST).exists() else 0
    try:
        man = read_manifest(pack_dir)
    except PackError:
        return total
    return total + sum(int(e.get("bytes", 0)) for e in man["files"].values())
