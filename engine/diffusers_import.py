"""Import diffusers without paying for torch._dynamo.

``diffusers.utils.torch_utils`` runs ``from torch._dynamo import allow_in_graph`` at import
time and falls back to an identity decorator when that import fails. The decorator only
matters under ``torch.compile``, which the engine never uses, yet importing torch._dynamo is
the largest part of a cold ``v2a generate`` after torch itself (1.0-1.8 s on 2 cores). So the
first import of diffusers runs with torch._dynamo hidden from the importing thread; afterwards
it imports normally (torch.compile, accelerate in training). Same networks, same numbers.
A latent pack still loads torch._dynamo: diffusers' model classes import ``diffusers.hooks``,
which decorates a class with ``torch.compiler.disable`` at import time.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

_DYNAMO = "torch._dynamo"


class _HideDynamo(importlib.abc.MetaPathFinder):
    """Makes ``import torch._dynamo`` fail in one thread (others import it as usual)."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name, path, target=None):  # noqa: ANN001 - MetaPathFinder protocol
        if threading.get_ident() == self.thread and (name == _DYNAMO or name.startswith(_DYNAMO + ".")):
            raise ModuleNotFoundError(f"{name} is hidden while diffusers is imported", name=name)
        return None


@contextmanager
def dynamo_hidden() -> Iterator[None]:
    """Hide torch._dynamo from this thread's imports for the duration (no-op once loaded)."""
    if _DYNAMO in sys.modules:
        yield
        return
    finder = _HideDynamo()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def import_diffusers(module: str = "diffusers") -> ModuleType:
    """``importlib.import_module(module)`` for a diffusers module; the first such import
    binds diffusers' identity ``maybe_allow_in_graph`` instead of loading torch._dynamo."""
    if "diffusers.utils.torch_utils" not in sys.modules:
        import torch  # noqa: F401 - torch itself must load normally, before the hiding

        with dynamo_hidden():
            importlib.import_module("diffusers.utils.torch_utils")
    return importlib.import_module(module)
