"""Installing packs: an explicit, visible, resumable job with checksums (DESIGN.md §4).

``install_pack(source)`` is a generator yielding ``Progress`` and returning the installed
folder. Sources: a local pack folder, a local .zip / .tar[.gz|.bz2|.xz] archive, an
http(s) URL to such an archive or to a ``pack.json`` (each listed file is then fetched
beside it), or a Hugging Face repo id ``org/name[@revision]`` / ``hf:org/name`` (only when the
user typed it). Downloads go to ``.part`` files and resume with HTTP Range requests sent with
``If-Range`` (the ETag or Last-Modified of the first response), so a file that changed on the
server starts again from zero instead of being spliced; each file is checked against its
sha256; ``sha256=`` pins the archive (or pack.json) itself. Only the files pack.json lists are
installed; the pack appears under its name only once complete (rename). Plain http:// works
but is reported through ``warn``. Nothing is ever unpickled: ``verify_pack`` refuses any
non-safetensors weight file.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import lzma
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

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
_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
# What a damaged or spliced archive raises while it is read.
_ARCHIVE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError, EOFError)
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


def insecure_warning(location: str) -> str | None:
    """The warning to show for a plain-http source (None for https and local files)."""
    if not location.lower().startswith("http://"):
        return None
    return (f"{location} is plain http: anyone on the way can alter what is downloaded; "
            "use https, or pin the archive with --sha256")


def _check_sha256(path: Path, expected: str, source: str) -> None:
    got = sha256_file(path)
    if got != expected.lower():
        raise PackError(f"sha256 mismatch: got {got}, expected {expected.lower()}; nothing installed", source)


def install_pack(
    source: str | Path,
    dest_root: str | Path | None = None,
    cancel: CancelToken | None = None,
    sha256: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> InstallJob:
    """Install a pack into ``dest_root`` (default: user pack folder); returns its folder.

    ``sha256`` pins the source: the archive (local or downloaded), or the pack.json of a folder
    or a pack.json URL (which pins every file through its hashes). ``warn`` receives a line for
    a plain-http source (default: printed to stderr).
    """
    if sha256 is not None and not _SHA256_RE.match(sha256):
        raise PackError(f"--sha256 must be 64 hex digits, got {sha256!r}")
    root = Path(dest_root).expanduser() if dest_root else default_install_root()
    kind, loc = classify_source(source)
    msg = insecure_warning(loc)
    if msg is not None:
        (warn or (lambda m: print(f"warning: {m}", file=sys.stderr)))(msg)
    root.mkdir(parents=True, exist_ok=True)
    if kind == "dir":
        if sha256 is not None:
            _check_sha256(Path(loc) / MANIFEST, sha256, str(Path(loc) / MANIFEST))
        staged = yield from _stage_copy(Path(loc), root, cancel)
    elif kind == "archive":
        if sha256 is not None:
            _check_sha256(Path(loc), sha256, loc)
        staged = yield from _stage_archive(Path(loc), root, cancel)
    elif kind == "url-archive":
        part = _partial_dir(root, loc) / ("download" + _archive_suffix(loc) + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        yield from _download(loc, part, cancel, "download")
        archive = part.with_name(part.name[: -len(".part")])
        os.replace(part, archive)
        try:
            if sha256 is not None:
                _check_sha256(archive, sha256, loc)
            staged = yield from _stage_archive(archive, root, cancel)
        except PackError as exc:  # name the URL: the downloaded file is about to go
            raise PackError(exc.problem, loc) from exc
        finally:  # a bad archive is not kept: the next try downloads afresh
            shutil.rmtree(archive.parent, ignore_errors=True)
    else:
        staged = yield from _stage_manifest_url(loc, root, cancel, sha256)
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
    # Cheap refusal before copying gigabytes; only listed files are copied, so a source folder
    # may hold other things (the staged copy is then verified in full).
    verify_pack(src, check_hashes=False, listed_only=True)
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


class _Member:
    """One archive entry, zip or tar, enough to check it and copy it out."""

    def __init__(self, name: str, open_fn: Callable[[], Any]) -> None:
        self.name, self.open = name, open_fn


def _members(archive: Path, handle: Any) -> list[_Member]:
    """Every entry of an open zip / tar; links and devices are refused, names checked."""
    out = []
    if isinstance(handle, zipfile.ZipFile):
        for info in handle.infolist():
            if info.is_dir():
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise PackError(f"{info.filename}: symbolic links are not allowed in a pack archive", archive)
            out.append(_Member(info.filename, lambda i=info: handle.open(i)))
    else:
        for m in handle.getmembers():
            if m.isdir():
                continue
            if not m.isfile():
                raise PackError(f"{m.name}: only regular files are allowed in a pack archive", archive)
            out.append(_Member(m.name, lambda m=m: handle.extractfile(m)))
    for mem in out:
        check_inside(mem.name, archive)
        mem.name = "/".join(p for p in mem.name.split("/") if p not in ("", "."))  # "./pack.json" from tar -C
        if Path(mem.name).name != MANIFEST:
            check_file_kind(mem.name, archive)  # a pickle anywhere in the archive refuses it
    return out


def _copy_out(mem: _Member, out: Path, limit: int, archive: Path, cancel: CancelToken | None) -> None:
    """Copy one entry, refusing more bytes than ``limit`` (what pack.json says it holds)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    with mem.open() as fi, open(out, "wb") as fo:
        while chunk := fi.read(CHUNK * 16):
            if cancel is not None:
                cancel.check()
            done += len(chunk)
            if done > limit:
                raise PackError(f"{mem.name}: larger than pack.json says ({limit} bytes)", archive)
            fo.write(chunk)


def _safe_extract(archive: Path, dest: Path, cancel: CancelToken | None) -> Generator[Progress, None, None]:
    """Extract the pack in ``archive`` into ``dest``: its pack.json and only the files it lists.

    Refused: absolute paths, '..', links, devices and pickle-capable files anywhere in the
    archive. Other unlisted entries are skipped, never written. The pack is the archive's top
    level or its one folder holding pack.json.
    """
    try:
        handle: Any = zipfile.ZipFile(archive) if archive.name.lower().endswith(".zip") else tarfile.open(archive)
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        kind = "zip" if archive.name.lower().endswith(".zip") else "tar"
        raise PackError(f"not a valid {kind} archive ({exc})", archive) from exc
    try:
        with handle:
            members = _members(archive, handle)
            tops = [m for m in members if m.name == MANIFEST]
            if not tops:
                tops = [m for m in members if m.name.count("/") == 1 and m.name.endswith("/" + MANIFEST)]
            if len(tops) != 1:
                raise PackError(f"archive holds no {MANIFEST} (at the top or in one folder)", archive)
            prefix = tops[0].name[: -len(MANIFEST)]
            _copy_out(tops[0], dest / MANIFEST, MAX_MANIFEST_BYTES, archive, cancel)
            files = read_manifest(dest)["files"]
            wanted = [(m, m.name[len(prefix):]) for m in members if m.name.startswith(prefix)]
            wanted = [(m, rel) for m, rel in wanted if rel in files]
            for i, (m, rel) in enumerate(wanted):
                _copy_out(m, dest / rel, int(files[rel]["bytes"]), archive, cancel)
                yield Progress("extract", i + 1, len(wanted))
    except _ARCHIVE_ERRORS as exc:
        raise PackError(f"damaged archive ({type(exc).__name__}: {exc}); download it again", archive) from exc


def _stage_archive(archive: Path, root: Path, cancel: CancelToken | None) -> Generator[Progress, None, Path]:
    staged = Path(tempfile.mkdtemp(prefix=".install-", dir=root))
    try:
        yield from _safe_extract(archive, staged, cancel)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return staged


def _open(url: str, start: int, if_range: str | None = None) -> http.client.HTTPResponse:
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
        if if_range:
            headers["If-Range"] = if_range
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)


def _validator_file(part: Path) -> Path:
    return part.with_name(part.name + ".validator")


def _read_validator(part: Path) -> dict:
    """ETag / Last-Modified of the response that started ``part`` ({} when unknown)."""
    try:
        v = json.loads(_validator_file(part).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return v if isinstance(v, dict) else {}


def _if_range(validator: dict) -> str | None:
    # If-Range needs a strong validator: a weak ETag (W/...) falls back to Last-Modified.
    etag = validator.get("etag")
    if isinstance(etag, str) and etag and not etag.startswith("W/"):
        return etag
    lm = validator.get("last_modified")
    return lm if isinstance(lm, str) and lm else None


def _done(part: Path) -> None:
    _validator_file(part).unlink(missing_ok=True)


def _download(
    url: str,
    part: Path,
    cancel: CancelToken | None,
    stage: str,
    on_bytes: Callable[[int], None] | None = None,
    expected_size: int | None = None,
) -> Generator[Progress, None, None]:
    """Fetch ``url`` into ``part``, resuming what is already there; retries a few times.

    A resume sends ``If-Range`` with the validator of the response that started the file: a
    server whose file changed answers 200 with the whole new file, which replaces the part
    (never appended to it). Without any validator the resume is a plain Range request (the
    listed files' sha256 and archive checks still catch a splice).
    """
    failures = 0
    restarts = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        if expected_size is not None and have == expected_size:
            _done(part)
            return
        if expected_size is not None and have > expected_size:
            part.unlink()
            have = 0
        validator = _read_validator(part) if have else {}
        try:
            resp = _open(url, have, _if_range(validator))
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing left to send: the .part is complete
                _done(part)
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
                    etag = resp.headers.get("ETag")
                    if validator.get("etag") and etag and etag != validator["etag"]:
                        # The server ignored If-Range but the file changed: the part is stale.
                        restarts += 1
                        if restarts > RETRIES:
                            raise PackError("the file keeps changing on the server while downloading", url)
                        part.unlink()
                        continue
                    mode = "ab"
                else:  # a fresh start, or the server sent the whole (possibly changed) file
                    have, mode = 0, "wb"
                    _validator_file(part).write_text(json.dumps(
                        {"etag": resp.headers.get("ETag"), "last_modified": resp.headers.get("Last-Modified")}))
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
                _done(part)
                return
        except (http.client.HTTPException, OSError) as exc:
            failures += 1
            if failures > RETRIES:
                raise PackError(
                    f"download interrupted after {part.stat().st_size if part.exists() else 0} bytes "
                    f"({type(exc).__name__}); run the same install again to resume",
                    url,
                ) from exc


def _stage_manifest_url(
    url: str, root: Path, cancel: CancelToken | None, sha256: str | None = None
) -> Generator[Progress, None, Path]:
    work = _partial_dir(root, url)
    work.mkdir(parents=True, exist_ok=True)
    man_part = work / (MANIFEST + ".part")
    if man_part.exists():
        man_part.unlink()  # small: always refetch, the listed files may have changed
    yield from _download(url, man_part, cancel, "manifest")
    if sha256 is not None:
        try:
            _check_sha256(man_part, sha256, url)
        except PackError:
            man_part.unlink()
            raise
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
            _done(part)
            raise PackError("checksum mismatch after download (file corrupted or altered); refused", rel)
        os.replace(part, out)
        done_bytes += size
        yield Progress("download", done_bytes, total)
    # Only pack.json and the files it lists move on: leftovers of earlier tries stay behind.
    staged = Path(tempfile.mkdtemp(prefix=".install-", dir=root))
    for rel in [*files, MANIFEST]:
        (staged / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(work / rel, staged / rel)
    shutil.rmtree(work, ignore_errors=True)
    return staged
