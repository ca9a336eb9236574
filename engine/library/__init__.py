"""The sound library: an index of real recordings, search, and the library engine.

``load_library`` is the engine's "pack"; ``engine.generation.generate`` dispatches
``request.engine == "library"`` to ``engine.library.engine.generate``.
"""

from __future__ import annotations

from engine.library.engine import LibraryPack, load_library
from engine.library.index import LibraryError, LibraryIndex, default_library_dir, load_index

__all__ = ["LibraryError", "LibraryIndex", "LibraryPack", "default_library_dir", "load_index", "load_library"]
