"""A tiny Qt-free observer: document objects notify views without knowing about Qt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Event:
    """A list of callbacks; ``emit`` calls each in connection order."""

    def __init__(self) -> None:
        self._subs: list[Callable[..., Any]] = []

    def connect(self, fn: Callable[..., Any]) -> None:
        if fn not in self._subs:
            self._subs.append(fn)

    def disconnect(self, fn: Callable[..., Any]) -> None:
        if fn in self._subs:
            self._subs.remove(fn)

    def emit(self, *args: Any) -> None:
        for fn in list(self._subs):
            fn(*args)
