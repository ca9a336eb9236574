"""Write outputs atomically: to a temporary file beside the target, then rename.

Nothing half-written is ever left at the target path, and the input is never the output.
Temporary files are named ``.{stem}.v2a-{pid}-XXXXXXXX{suffix}``: a run killed mid-write
(SIGKILL, power loss) leaves one behind, and the next write of the same output removes it
once that pid is gone. A full disk or a read-only folder is one ``OutputError`` line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from engine.errors import OutputError, V2AError

# OS errors that can only come from writing the output (never from reading an input), so they
# are reported against the output when they escape the code writing it.
_FULL = {errno.ENOSPC, errno.EDQUOT}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
WRITE_ERRNOS = _FULL | {errno.EFBIG, errno.EROFS}
# Without pids we can tell (not POSIX), a stale temp is one untouched for this long.
_STALE_AGE_S = 24 * 3600


def write_error(exc: OSError, out: str | Path) -> OutputError:
    """One line for an OS error met while writing ``out``."""
    out_p = Path(out)
    if exc.errno in _FULL:
        return OutputError(f"no space left on the device while writing {out_p}")
    if exc.errno in _NOT_WRITABLE:
        return OutputError(f"folder is not writable ({exc.strerror or exc})", out_p)
    if exc.errno == errno.EFBIG:
        return OutputError(f"file too large for the device or the file size limit while writing {out_p}")
    return OutputError(f"cannot write ({exc.strerror or exc})", out_p)


def check_output_suffix(out: str | Path, suffixes: Iterable[str], what: str = "output") -> None:
    """Refuse an output whose suffix the writer cannot make, before any work is done."""
    out_p = Path(out)
    allowed = tuple(suffixes)
    if out_p.suffix.lower() not in allowed:
        names = allowed[-1] if len(allowed) == 1 else f"{', '.join(allowed[:-1])} or {allowed[-1]}"
        raise OutputError(f"{what} must end in {names} (got {out_p.suffix or 'no suffix'})", out_p)


def _temp_prefix(out_p: Path) -> str:
    return f".{out_p.stem}.v2a-{os.getpid()}-"


def _check(out: str | Path, inputs: Sequence[str | Path]) -> Path:
    out_p = Path(out)
    if out_p.is_dir():
        raise OutputError("is a directory, not an output file", out_p)
    parent = out_p.resolve().parent
    if not parent.is_dir():
        raise OutputError(f"folder {parent} does not exist", out_p)
    for inp in inputs:
        ip = Path(inp)
        if ip.exists() and out_p.exists() and os.path.samefile(ip, out_p):
            raise OutputError("refusing to overwrite the input file", out_p)
        if ip.resolve() == out_p.resolve():
            raise OutputError("refusing to overwrite the input file", out_p)
    return out_p


def _make_temp(out_p: Path) -> Path:
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(out_p), suffix=out_p.suffix, dir=out_p.resolve().parent)
    except OSError as exc:
        raise write_error(exc, out_p) from exc
    os.close(fd)
    return Path(tmp)


def check_output_path(
    out: str | Path, inputs: Sequence[str | Path] = (), suffixes: Iterable[str] | None = None
) -> Path:
    """Refuse an output that is an input, a directory, in a missing or read-only folder, or
    (given ``suffixes``) of a kind the writer cannot make.

    Writability is tested by creating and removing a file there: ``os.access`` says yes to
    root even on a read-only mount, and no to nothing that ACLs or quotas would refuse.
    """
    if suffixes is not None:
        check_output_suffix(out, suffixes)
    out_p = _check(out, inputs)
    _make_temp(out_p).unlink()
    return out_p


def resolve_inside(folder: str | Path, rel: str | Path, error: type[V2AError] = OutputError,
                   where: str | Path | None = None) -> Path:
    """``folder / rel`` resolved, refused (``error`` naming ``where``) if it lands outside ``folder``.

    Files named by a document (a project, a pack) must never reach elsewhere: an absolute
    path, ``..`` or a symbolic link that leads out of ``folder`` all raise.
    """
    rel_p = Path(rel)
    if not str(rel) or rel_p.is_absolute() or ".." in rel_p.parts or "\\" in str(rel):
        raise error(f"path {str(rel)!r} leaves its folder", where if where is not None else folder)
    base = Path(folder).resolve()
    target = (base / rel_p).resolve()
    if target != base and base not in target.parents:
        raise error(f"path {str(rel)!r} leads outside {base}", where if where is not None else folder)
    return target


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: existence only (POSIX; on Windows os.kill terminates)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or not a pid we wrote: keep the file
    return True


def clean_stale_temps(out: str | Path) -> list[Path]:
    """Remove temporaries of ``out`` left by writers that died mid-write; return them.

    Only our own names are touched (``.{stem}.v2a-{pid}-`` + mkstemp's 8 characters +
    the suffix, a regular file) and only when that pid no longer runs on this machine, so a
    concurrent writer of the same output and unrelated dotfiles are never removed.
    """
    out_p = Path(out)
    pattern = re.compile(
        re.escape(f".{out_p.stem}.v2a-") + r"([0-9]{1,10})-[a-z0-9_]{8}" + re.escape(out_p.suffix) + r"\Z"
    )
    removed = []
    try:
        entries = list(os.scandir(out_p.resolve().parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = pattern.match(entry.name)
        if m is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if os.name == "posix":
                if _pid_alive(int(m.group(1))):
                    continue
            elif now - entry.stat(follow_symlinks=False).st_mtime < _STALE_AGE_S:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


@contextlib.contextmanager
def atomic_output(out: str | Path, inputs: Sequence[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary path with the target's suffix; rename onto ``out`` on success.

    On any exception the temporary file is removed and ``out`` is untouched; an OS error
    that only writing can cause (a full disk, a read-only folder) becomes ``OutputError``.
    """
    out_p = _check(out, inputs)
    clean_stale_temps(out_p)
    tmp_p = _make_temp(out_p)
    try:
        yield tmp_p
        # mkstemp makes the file private (0600); an exported file gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_p, 0o666 & ~umask)
        try:
            os.replace(tmp_p, out_p)
        except OSError as exc:
            raise write_error(exc, out_p) from exc
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp_p.unlink()
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
            raise write_error(exc, out_p) from exc
        raise
