"""Write outputs atomically: to a temporary file beside the target, then rename.

Nothing half-written is ever left at the target path, and the input is never the output.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from engine.errors import OutputError, V2AError


def check_output_path(out: str | Path, inputs: Sequence[str | Path] = ()) -> Path:
    """Refuse an output that is an input, a directory, or in a missing folder."""
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


@contextlib.contextmanager
def atomic_output(out: str | Path, inputs: Sequence[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary path with the target's suffix; rename onto ``out`` on success.

    On any exception the temporary file is removed and ``out`` is untouched.
    """
    out_p = check_output_path(out, inputs)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_p.stem}.", suffix=out_p.suffix, dir=out_p.resolve().parent)
    os.close(fd)
    tmp_p = Path(tmp)
    try:
        yield tmp_p
        # mkstemp makes the file private (0600); an exported file gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_p, 0o666 & ~umask)
        os.replace(tmp_p, out_p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_p.unlink()
        raise
