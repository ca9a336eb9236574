"""Which frames the timeline's thumbnail strip shows for a visible range (no Qt).

Like an NLE's filmstrip: thumbnails sit side by side at their natural aspect, so zooming in
shows denser frames and zooming out coarser ones. The frames are picked on a power-of-two
grid of frame indices, so the frames of a coarse zoom are also on every finer grid and come
back from a cache keyed by frame index instead of being decoded again.

:class:`LatestRequest` is the hand-off to the decoder thread: a new request replaces what is
still pending, so frames for a range the editor has already scrolled away from are dropped.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    index: int  # first video frame of the slot: the one its thumbnail shows
    t0: float  # slot start, seconds
    t1: float  # slot end, seconds


def grid_step(thumb_s: float, frame_duration: float) -> int:
    """Frames between the frames thumbnails may show: the largest power of two that is at
    most one thumbnail's width in frames (1 when a thumbnail is narrower than a frame)."""
    per_thumb = thumb_s / frame_duration if frame_duration > 0 else 1.0
    if per_thumb < 2.0:
        return 1
    return 1 << int(math.floor(math.log2(per_thumb) + 1e-9))


def visible_slots(t0: float, t1: float, frame_duration: float, n_frames: int, thumb_s: float) -> list[Slot]:
    """Thumbnails side by side at their natural width ``thumb_s`` (seconds at this zoom) on a
    grid anchored at 0 (panning keeps the same frames), covering [t0, t1] within the clip.

    Each shows the first frame on the power-of-two grid (:func:`grid_step`) at or after its
    start — inside its own span, never a duplicate of its neighbour's, and the same frame
    indices at every zoom level that shares the grid, so they come back from the cache."""
    if n_frames <= 0 or frame_duration <= 0 or thumb_s <= 0 or t1 <= t0:
        return []
    step = grid_step(thumb_s, frame_duration)
    end = n_frames * frame_duration
    j0 = max(0, int(math.floor(max(0.0, t0) / thumb_s)))
    out = []
    j = j0
    while j * thumb_s < min(t1, end):
        x = j * thumb_s
        first = int(math.ceil(x / frame_duration - 1e-6))
        idx = min(n_frames - 1, -(-first // step) * step)
        out.append(Slot(idx, x, min(end, x + thumb_s)))
        j += 1
    return out


def nearest(index: int, cached: Sequence[int]) -> int | None:
    """The cached frame closest to ``index`` (``cached`` sorted): a stand-in until it decodes."""
    if not cached:
        return None
    j = bisect_left(cached, index)
    best = [cached[k] for k in (j - 1, j) if 0 <= k < len(cached)]
    return min(best, key=lambda c: (abs(c - index), c))


class LatestRequest:
    """Thread-safe queue of frame indices where each ``replace`` drops what is still pending."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._items: list[int] = []
        self._closed = False
        self.dropped = 0  # indices discarded unseen because a newer request came first

    def replace(self, items: Iterable[int]) -> None:
        with self._cv:
            self.dropped += len(self._items)
            self._items = list(items)
            self._cv.notify()

    def pop(self, timeout: float | None = None) -> int | None:
        """Next index, waiting for one; None once closed (or on timeout)."""
        with self._cv:
            # A loop, not an if: an empty ``replace`` (everything cached) also wakes us.
            if not self._cv.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if self._closed:
                return None
            return self._items.pop(0)

    def pending(self) -> list[int]:
        with self._cv:
            return list(self._items)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._items = []
            self._cv.notify_all()
