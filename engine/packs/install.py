"""Installing packs: an explicit, visible, resumable job with checksums (DESIGN.md §4).

``install_pack(source)`` is a generator yielding ``Progress`` and returning the installed
folder. Sources: a local pack folder, a local .zip / .tar[.gz|.bz2|.xz] archive, an
http(s) URL to such an archive or to a ``pack.json`` (each listed file is then fetched
beside it), or a Hugging Face repo id ``org/name[@revision]`` / ``hf:org/name`` (only when the
user typed it). Downloads go to ``.part`` files and resume with HTTP Range requests; each file
is checked against its sha256; the pack appears under its name only once complete (rename).
Nothing is ever unpickled: ``verify_pack`` refuses any non-safetensors weight file.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Generator
from pathlib import Path

from engine.errors import PackError
from engine.packs.format import (
    MANIFEST,
    check_file_kind,
    check_inside,
    read_manifest,
    replace_dir,
    sha256_file,
    verify_pack,
)
from engine.packs.locations import default_install_root
from engine.progress import CancelToken, Progress

HF_ENDPOINT_ENV = "V2A_HF_ENDPOINT"
HF_ENDPOINT = "https://huggingface.co"
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
CHUNK = 64 * 1024
RETRIES = 3
TIMEOUT_S = 30.0
USER_AGENT = "v2a-studio-pack-installer/1"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_HF_RE = re.compile(r"^(?:hf:)?([A-Za-z0-9][\w.-]*)/([A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?$")

InstallJob = Generator[Progress, None, Path]


def _is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def hf_manifest_url(repo_id: str) -> str:
    """``org/name[@rev]`` -> the pack.json URL on the Hugging Face hub (or $V2A_HF_ENDPOINT)."""
    m = _HF_RE.match(repo_id)
    if not m:
        raise PackError(f"not a Hugging Face repo id (expected org/name): {repo_id!r}")
    org, name, rev = m.group(1), m.group(2), m.group(3) or "main"
    base = os.environ.get(HF_ENDPOINT_ENV, HF_ENDPOINT).rstrip("/")
    return f"{base}/{org}/{name}/resolve/{urllib.parse.quote(rev, safe='')}/{MANIFEST}"


def classify_source(source: str | Path) -> tuple[str, str]:
    """("dir" | "archive" | "url-archive" | "url-manifest", location) for an install source."""
    s = str(source)
    p = Path(s).expanduser()
    if p.exists():
        if p.is_dir():
            return "dir", str(p)
        if p.name == MANIFEST:
            return "dir", str(p.parent)
        if _is_archive(p.name):
            return "archive", str(p)
        raise PackError("not a pack folder or a .zip/.tar archive", p)
    if s.startswith(("http://", "https://")):
        path = urllib.parse.urlparse(s).path
        if path.endswith(".json"):
            return "url-manifest", s
        if _is_archive(path):
            return "url-archive", s
        if path.endswith("/"):
            return "url-manifest", s + MANIFEST
        raise PackError("URL must point to a pack.json, a folder ending in '/', or a .zip/.tar archive", s)
    if _HF_RE.match(s) and not s.startswith((".", "/", "~")):
        return "url-manifest", hf_manifest_url(s)
    raise PackError("no such file or folder (and not an http(s) URL or a Hugging Face org/name)", s)


def install_pack(
    source: str | Path,
    dest_root: str | Path | None = None,
    cancel: CancelToken | None = None,
) -> InstallJob:
    """Install a pack into ``dest_root`` (default: user pack folder); returns its folder."""
    root = Path(dest_root).expanduser() if dest_root else default_install_root()
    root.mkdir(parents=True, exist_ok=True)
    kind, loc = classify_source(source)
    if kind == "dir":
        staged = yield from _stage_copy(Path(loc), root, cancel)
    elif kind == "archive":
        staged = yield from _stage_archive(Path(loc), root, cancel)
    elif kind == "url-archive":
        part = _partial_dir(root, loc) / ("download" + _archive_suffix(loc) + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        yield from _download(loc, part, cancel, "download")
        archive = part.with_name(part.name[: -len(".part")])
        os.replace(part, archive)
        staged = yield from _stage_archive(archive, root, cancel)
        shutil.rmtree(archive.parent, ignore_errors=True)
    else:
        staged = yield from _stage_manifest_url(loc, root, cancel)
    return (yield from _finish(staged, root))


def _archive_suffix(url: str) -> str:
    path = urllib.parse.urlparse(url).path.lower()
    for suf in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if path.endswith(suf):
            return suf
    return ""


def _partial_dir(root: Path, key: str) -> Path:
    """Stable per-source folder for partial downloads, so a second run resumes them."""
    return root / ".partial" / hashlib.sha256(key.encode()).hexdigest()[:16]


def _finish(staged: Path, root: Path) -> Generator[Progress, None, Path]:
    yield Progress("verify", 0, 1)
    try:
        verify_pack(staged)
        name = str(read_manifest(staged)["name"])
        if not _NAME_RE.match(name):
            raise PackError(f"pack name {name!r} is not a plain folder name", staged / MANIFEST)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    final = root / name
    replace_dir(staged, final)
    yield Progress("verify", 1, 1)
    return final


def _stage_copy(src: Path, root: Path, cancel: CancelToken | None) -> Generator[Progress, None, Path]:
    man = read_manifest(src)
    verify_pack(src, check_hashes=False)  # cheap refusal before copying gigabytes
    rels = list(man["files"])
    total = sum(int(man["files"][r]["bytes"]) for r in rels)
    staged = Path(tempfile.mkdtemp(prefix=".install-", dir=root))
    done = 0
    try:
        for rel in [*rels, MANIFEST]:
            out = staged / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(src / rel, "rb") as fi, open(out, "wb") as fo:
                while chunk := fi.read(CHUNK * 16):
                    if cancel is not None:
                        cancel.check()
                    fo.write(chunk)
                    if rel != MANIFEST:
                        done += len(chunk)
                        yield Progress("copy", done, total)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return staged


def _safe_extract(archive: Path, dest: Path, cancel: CancelToken | None) -> Generator[Progress, None, None]:
    """Extract regular files only; refuse absolute paths, '..', links and devices."""
    if archive.name.lower().endswith(".zip"):
        try:
            zf = zipfile.ZipFile(archive)
        except zipfile.BadZipFile as exc:
            raise PackError(f"not a valid zip archive ({exc})", archive) from exc
        with zf:
            infos = zf.infolist()
            for i, info in enumerate(infos):
                if cancel is not None:
                    cancel.check()
                name = info.filename
                if info.is_dir():
                    continue
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise PackError(f"{name}: symbolic links are not allowed in a pack archive", archive)
                check_inside(name, archive)
                out = dest / name
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as fi, open(out, "wb") as fo:
                    shutil.copyfileobj(fi, fo, CHUNK * 16)
                yield Progress("extract", i + 1, len(infos))
        return
    try:
        tf = tarfile.open(archive)
    except tarfile.TarError as exc:
        raise PackError(f"not a valid tar archive ({exc})", archive) from exc
    with tf:
        members = tf.getmembers()
        for i, m in enumerate(members):
            if cancel is not None:
                cancel.check()
            if m.isdir():
                continue
            if not m.isfile():
                raise PackError(f"{m.name}: only regular files are allowed in a pack archive", archive)
            check_inside(m.name, archive)
            tf.extract(m, dest, filter="data")
            yield Progress("extract", i + 1, len(members))


def _find_pack_root(folder: Path, archive: Path) -> Path:
    if (folder / MANIFEST).is_file():
        return folder
    subs = [d for d in folder.iterdir() if d.is_dir() and (d / MANIFEST).is_file()]
    if len(subs) == 1:
        return subs[0]
    raise PackError(f"archive holds no {MANIFEST} (at the top or in one folder)", archive)


def _stage_archive(archive: Path, root: Path, cancel: CancelToken | None) -> Generator[Progress, None, Path]:
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
    try:
        yield from _safe_extract(archive, tmp, cancel)
        pack_root = _find_pack_root(tmp, archive)
        staged = Path(tempfile.mkdtemp(prefix=".install-", dir=root))
        os.rmdir(staged)
        os.replace(pack_root, staged)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return staged


def _open(url: str, start: int) -> http.client.HTTPResponse:
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)


def _download(
    url: str,
    part: Path,
    cancel: CancelToken | None,
    stage: str,
    on_bytes: Callable[[int], None] | None = None,
    expected_size: int | None = None,
) -> Generator[Progress, None, None]:
    """Fetch ``url`` into ``part``, resuming what is already there; retries a few times."""
    failures = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        if expected_size is not None and have == expected_size:
            return
        if expected_size is not None and have > expected_size:
            part.unlink()
            have = 0
        try:
            resp = _open(url, have)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing left to send: the .part is complete
                return
            hint = " (is the pack published there?)" if exc.code == 404 else ""
            raise PackError(f"download failed: HTTP {exc.code} {exc.reason}{hint}", url) from exc
        except (urllib.error.URLError, OSError) as exc:
            failures += 1
            if failures > RETRIES:
                raise PackError(f"cannot connect ({getattr(exc, 'reason', exc)}); check the address or network", url) from exc
            time.sleep(0.5 * failures)  # brief back-off before trying again
            continue
        try:
            with resp:
                if have and resp.status == 206:
                    crange = resp.headers.get("Content-Range", "")
                    m = re.match(r"bytes (\d+)-", crange)
                    if not m or int(m.group(1)) != have:
                        raise PackError(f"server answered a resume with a bad range {crange!r}", url)
                    mode = "ab"
                else:  # server ignored the Range header: start again
                    have, mode = 0, "wb"
                length = resp.headers.get("Content-Length")
                total = have + int(length) if length is not None else (expected_size or 0)
                with open(part, mode) as f:
                    while True:
                        if cancel is not None:
                            cancel.check()
                        chunk = resp.read(CHUNK)
                        if not chunk:
                            break
                        f.write(chunk)
                        have += len(chunk)
                        if on_bytes is not None:
                            on_bytes(len(chunk))
                        yield Progress(stage, have, max(total, have))
                if length is not None and have < total:
                    raise http.client.IncompleteRead(b"", total - have)
                return
        except (http.client.HTTPException, OSError) as exc:
            failures += 1
            if failures > RETRIES:
                raise PackError(
                    f"download interrupted after {part.stat().st_size if part.exists() else 0} bytes "
                    f"({type(exc).__name__}); run the same install again to resume",
                    url,
                ) from exc


def _stage_manifest_url(url: str, root: Path, cancel: CancelToken | None) -> Generator[Progress, None, Path]:
    work = _partial_dir(root, url)
    work.mkdir(parents=True, exist_ok=True)
    man_part = work / (MANIFEST + ".part")
    if man_part.exists():
        man_part.unlink()  # small: always refetch, the listed files may have changed
    yield from _download(url, man_part, cancel, "manifest")
    try:
        manifest = json.loads(man_part.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackError(f"{MANIFEST} from the server is not valid JSON ({exc})", url) from exc
    os.replace(man_part, work / MANIFEST)
    manifest = read_manifest(work)  # validates structure and relative paths
    files = manifest["files"]
    for rel in files:
        check_file_kind(rel, url)  # refuse pickles before downloading anything
    total = sum(int(e["bytes"]) for e in files.values())
    done_bytes = 0
    base = url.rsplit("/", 1)[0] + "/"
    for rel, entry in files.items():
        out = work / rel
        size = int(entry["bytes"])
        if out.is_file() and out.stat().st_size == size and sha256_file(out) == entry["sha256"].lower():
            done_bytes += size
            yield Progress("download", done_bytes, total)
            continue
        part = out.with_name(out.name + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        start = done_bytes + (part.stat().st_size if part.exists() else 0)
        counter = [start]

        def bump(n: int, counter: list[int] = counter) -> None:
            counter[0] += n

        file_url = urllib.parse.urljoin(base, urllib.parse.quote(rel))
        for _p in _download(file_url, part, cancel, "download", on_bytes=bump, expected_size=size):
            yield Progress("download", counter[0], total)
        if sha256_file(part) != entry["sha256"].lower():
            part.unlink()
            raise PackError("checksum mismatch after download (file corrupted or altered); refused", rel)
        os.replace(part, out)
        done_bytes += size
        yield Progress("download", done_bytes, total)
    staged = Path(tempfile.mkdtemp(prefix=".install-", dir=root))
    os.rmdir(staged)
    os.replace(work, staged)
    return staged
