"""Editable audio layout: brush strokes and range edits as reversible patches (no Qt).

Every edit returns a ``Patch`` holding the changed box before and after, so the UI can
wrap it in one undo command: one mouse drag = one ``begin_stroke``/``stamp``*/``end_stroke``
= one patch = one undo step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.model.events import Event
from engine.api import AudioLayout, paint_event, resize_layout, timebase

# The editing grid of a fresh lane: 25 columns/s (the starter pack's layout rate; one column per
# frame at 25 fps) × 5 bands. A pack with another grid replaces it before the first edit.


@dataclass(frozen=True)
class Patch:
    """A rectangular change: columns ``c0:c1`` × bands ``b0:b1``."""

    c0: int
    c1: int
    b0: int
    b1: int
    before: np.ndarray
    after: np.ndarray

    @property
    def empty(self) -> bool:
        return self.c1 <= self.c0 or self.b1 <= self.b0 or np.array_equal(self.before, self.after)


@dataclass(frozen=True)
class Brush:
    """Brush footprint in layout units: radius in columns and bands, soft edge 0..1."""

    radius_cols: float = 1.0
    radius_bands: float = 0.6
    intensity: float = 0.8
    softness: float = 0.5
    erase: bool = False


class LayoutDoc:
    """The editable layout of one lane plus the predicted layout it started from."""

    def __init__(
        self,
        values: np.ndarray,
        columns_per_second: float = 10.0,
        predicted: np.ndarray | None = None,
    ) -> None:
        v = np.asarray(values, dtype=np.float32)
        if v.ndim != 2:
            raise ValueError(f"layout must be [columns, bands], got {v.shape}")
        self.values = np.clip(v, 0.0, 1.0).copy()
        self.columns_per_second = float(columns_per_second)
        self.predicted = (
            self.values.copy() if predicted is None else np.asarray(predicted, np.float32).copy()
        )
        self.changed = Event()  # (c0, c1, b0, b1)
        self._stroke_before: np.ndarray | None = None
        self._dirty: list[int] | None = None

    # -- basics -----------------------------------------------------------------------------
    @classmethod
    def empty(cls, duration: float, bands: int, columns_per_second: float) -> LayoutDoc:
        """Silence over ``duration`` on a given grid (the studio asks the pack: ``engine.api.layout_grid``)."""
        n = timebase.columns_for(duration, columns_per_second)
        return cls(np.zeros((n, bands), np.float32), columns_per_second)

    @classmethod
    def from_layout(cls, layout: AudioLayout) -> LayoutDoc:
        return cls(layout.values, layout.columns_per_second, layout.values)

    def to_layout(self) -> AudioLayout:
        return AudioLayout(self.values.copy(), self.columns_per_second)

    @property
    def n_columns(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_bands(self) -> int:
        return int(self.values.shape[1])

    @property
    def duration(self) -> float:
        return self.n_columns / self.columns_per_second

    def col_at(self, t: float) -> float:
        """Fractional column for a time in seconds."""
        return t * self.columns_per_second

    def col_index(self, t: float) -> int:
        return min(self.n_columns, timebase.seconds_to_column(t, self.columns_per_second))

    def set_predicted(self, predicted: np.ndarray, replace_values: bool) -> None:
        p = np.asarray(predicted, np.float32)
        if p.shape != self.values.shape:
            raise ValueError(f"predicted shape {p.shape} != layout shape {self.values.shape}")
        self.predicted = p.copy()
        if replace_values:
            self.values[:] = np.clip(p, 0, 1)
        self.changed.emit(0, self.n_columns, 0, self.n_bands)

    def reset_grid(self, values: np.ndarray, columns_per_second: float) -> None:
        """Adopt a new grid (e.g. the pack's layout resolution) for an unedited layout.

        Only valid while no undo patch refers to this layout; callers check that."""
        v = np.clip(np.asarray(values, np.float32), 0, 1)
        self.values = v.copy()
        self.predicted = v.copy()
        self.columns_per_second = float(columns_per_second)
        self.changed.emit(0, self.n_columns, 0, self.n_bands)

    # -- strokes ----------------------------------------------------------------------------
    def begin_stroke(self) -> None:
        self._stroke_before = self.values.copy()
        self._dirty = None

    def _grow(self, c0: int, c1: int, b0: int, b1: int) -> None:
        if self._dirty is None:
            self._dirty = [c0, c1, b0, b1]
        else:
            d = self._dirty
            self._dirty = [min(d[0], c0), max(d[1], c1), min(d[2], b0), max(d[3], b1)]

    def stamp(self, col: float, band: float, brush: Brush) -> tuple[int, int, int, int] | None:
        """Apply one brush dab centred at fractional (col, band); returns the touched box."""
        if self._stroke_before is None:
            raise RuntimeError("stamp() outside begin_stroke()/end_stroke()")
        rc = max(0.5, brush.radius_cols)
        rb = max(0.5, brush.radius_bands)
        c0 = max(0, int(math.floor(col - rc)))
        c1 = min(self.n_columns, int(math.ceil(col + rc)) + 1)
        b0 = max(0, int(math.floor(band - rb)))
        b1 = min(self.n_bands, int(math.ceil(band + rb)) + 1)
        if c1 <= c0 or b1 <= b0:
            return None
        # Cell centres sit at +0.5; distance normalised so 1.0 is the brush edge.
        cc = (np.arange(c0, c1) + 0.5 - col) / rc
        bb = (np.arange(b0, b1) + 0.5 - band) / rb
        d = np.sqrt(cc[:, None] ** 2 + bb[None, :] ** 2)
        soft = float(np.clip(brush.softness, 0.0, 1.0))
        if soft <= 1e-3:
            w = (d <= 1.0).astype(np.float32)
        else:
            w = np.clip((1.0 - d) / soft, 0.0, 1.0).astype(np.float32)
            w[d <= 1.0 - soft] = 1.0
        rows = np.nonzero(w.any(axis=1))[0]
        cols = np.nonzero(w.any(axis=0))[0]
        if len(rows) == 0:
            return None
        # Trim to the cells the dab really touches so the undo patch stays minimal.
        w = w[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        c0, c1 = c0 + int(rows[0]), c0 + int(rows[-1]) + 1
        b0, b1 = b0 + int(cols[0]), b0 + int(cols[-1]) + 1
        box = self.values[c0:c1, b0:b1]
        if brush.erase:
            box *= 1.0 - w * float(np.clip(brush.intensity, 0, 1))
        else:
            np.maximum(box, w * float(np.clip(brush.intensity, 0, 1)), out=box)
        self._grow(c0, c1, b0, b1)
        self.changed.emit(c0, c1, b0, b1)
        return c0, c1, b0, b1

    def stamp_event(self, t: float, decay: float, band_lo: int, band_hi: int, intensity: float = 1.0,
                    attack: float = 0.0) -> tuple[int, int, int, int] | None:
        """A sound event at ``t`` seconds: short attack then exponential decay (``decay`` s to
        1/e), painted by ``engine.audio.layout.paint_event`` (the benchmark paints with it too)."""
        if self._stroke_before is None:
            raise RuntimeError("stamp_event() outside begin_stroke()/end_stroke()")
        box = paint_event(self.values, t, self.columns_per_second, decay, band_lo, band_hi, intensity, attack)
        if box is None:
            return None
        self._grow(*box)
        self.changed.emit(*box)
        return box

    def end_stroke(self) -> Patch | None:
        """Close the stroke; the patch covers exactly the changed box (None if nothing changed)."""
        before, dirty = self._stroke_before, self._dirty
        self._stroke_before = None
        self._dirty = None
        if before is None or dirty is None:
            return None
        c0, c1, b0, b1 = dirty
        p = Patch(c0, c1, b0, b1, before[c0:c1, b0:b1].copy(), self.values[c0:c1, b0:b1].copy())
        # Views skip costly work (event markers, onset ticks) while a stroke is open; tell
        # them it closed, or they stay stale until the next undo/redo.
        self.changed.emit(c0, c1, b0, b1)
        return None if p.empty else p

    @property
    def in_stroke(self) -> bool:
        return self._stroke_before is not None

    def apply(self, patch: Patch, undo: bool = False) -> None:
        """Put a patch's after (redo) or before (undo) state into the layout."""
        self.values[patch.c0 : patch.c1, patch.b0 : patch.b1] = patch.before if undo else patch.after
        self.changed.emit(patch.c0, patch.c1, patch.b0, patch.b1)

    # -- range edits (each returns a Patch without applying it) -------------------------------
    def _range_cols(self, t0: float, t1: float) -> tuple[int, int]:
        a, b = sorted((t0, t1))
        c0 = self.col_index(a)
        c1 = min(self.n_columns, max(c0 + 1, int(math.ceil(b * self.columns_per_second - 1e-6))))
        return c0, c1

    def _patch_for(self, new: np.ndarray) -> Patch | None:
        diff = np.any(new != self.values, axis=1)
        if not diff.any():
            return None
        idx = np.nonzero(diff)[0]
        c0, c1 = int(idx[0]), int(idx[-1]) + 1
        return Patch(c0, c1, 0, self.n_bands, self.values[c0:c1].copy(), new[c0:c1].copy())

    def copy_range(self, t0: float, t1: float) -> np.ndarray:
        c0, c1 = self._range_cols(t0, t1)
        return self.values[c0:c1].copy()

    def delete_range(self, t0: float, t1: float) -> Patch | None:
        c0, c1 = self._range_cols(t0, t1)
        new = self.values.copy()
        new[c0:c1] = 0.0
        return self._patch_for(new)

    def reset_range(self, t0: float, t1: float) -> Patch | None:
        """Back to the predicted layout inside the range."""
        c0, c1 = self._range_cols(t0, t1)
        new = self.values.copy()
        new[c0:c1] = self.predicted[c0:c1]
        return self._patch_for(new)

    def _place(self, new: np.ndarray, block: np.ndarray, start_col: float) -> None:
        """Write ``block`` into ``new`` starting at fractional column ``start_col`` (linear interp)."""
        n = block.shape[0]
        if n == 0:
            return
        j0 = max(0, int(math.floor(start_col)))
        j1 = min(self.n_columns, int(math.ceil(start_col + n)))
        if j1 <= j0:
            return
        src = np.arange(j0, j1) - start_col  # source positions of destination cells
        # Zero-padded so a fractional shift splits edge cells instead of dropping them.
        xs = np.arange(-1, n + 1)
        padded = np.concatenate([np.zeros((1, block.shape[1])), block, np.zeros((1, block.shape[1]))])
        frac = abs(start_col - round(start_col)) > 1e-6
        for b in range(block.shape[1]):
            vals = np.interp(src, xs, padded[:, b])
            if frac:
                # Edge cells the block only partly covers blend with what was there.
                new[j0:j1, b] = np.maximum(vals, np.where((src < 0) | (src > n - 1), new[j0:j1, b], 0))
            else:
                new[j0:j1, b] = vals

    def paste(self, block: np.ndarray, t: float) -> Patch | None:
        """Overwrite from time ``t`` with a copied block (bands resampled if they differ)."""
        blk = np.asarray(block, np.float32)
        if blk.ndim != 2 or blk.shape[0] == 0:
            return None
        if blk.shape[1] != self.n_bands:
            blk = resize_layout(blk, blk.shape[0], self.n_bands).astype(np.float32)
        new = self.values.copy()
        self._place(new, blk, self.col_at(t))
        return self._patch_for(np.clip(new, 0, 1))

    def move_range(self, t0: float, t1: float, dt: float) -> Patch | None:
        """Move the range by ``dt`` seconds (fractional columns interpolate); the source clears."""
        c0, c1 = self._range_cols(t0, t1)
        block = self.values[c0:c1].copy()
        new = self.values.copy()
        new[c0:c1] = 0.0
        self._place(new, block, c0 + dt * self.columns_per_second)
        return self._patch_for(np.clip(new, 0, 1))

    def stretch_range(self, t0: float, t1: float, new_t1: float) -> Patch | None:
        """Stretch the range so it ends at ``new_t1`` (start stays), resampling in time."""
        c0, c1 = self._range_cols(t0, t1)
        block = self.values[c0:c1]
        new_len = max(1, int(round((new_t1 - min(t0, t1)) * self.columns_per_second)))
        xs = np.linspace(0, block.shape[0] - 1, new_len) if block.shape[0] > 1 else np.zeros(new_len)
        stretched = np.stack(
            [np.interp(xs, np.arange(block.shape[0]), block[:, b]) for b in range(self.n_bands)],
            axis=1,
        ).astype(np.float32)
        new = self.values.copy()
        new[c0:c1] = 0.0
        end = min(self.n_columns, c0 + new_len)
        new[c0:end] = stretched[: end - c0]
        return self._patch_for(np.clip(new, 0, 1))

    def snap_moves(self, t0: float, t1: float, snap, threshold: float = 0.25) -> list[tuple[float, int]]:
        """(onset, whole columns to move) for each event whose onset lies in [t0, t1] and whose
        target ``snap(onset)`` lies in another column. An event is painted from the column
        holding its time (``paint_event``), so a target inside its own column means it is
        already there; moving by fractions of a column would only blur it, and pressing S
        again would move it again."""
        out = []
        for t in self.event_times(threshold):
            if t0 - 1e-9 <= t <= t1 + 1e-9:
                shift = self.col_index(max(0.0, float(snap(t)))) - self.col_index(t)
                if shift:
                    out.append((t, shift))
        return out

    def snap_events(self, t0: float, t1: float, snap, threshold: float = 0.25) -> Patch | None:
        """Move each event whose onset lies in [t0, t1] to the column holding ``snap(onset)``
        (frame starts, motion peaks...). An event runs from its onset to the next onset."""
        moves = self.snap_moves(t0, t1, snap, threshold)
        if not moves:
            return None
        all_on = self.event_times(threshold)
        src = self.values
        new = self.values.copy()
        for t, shift in moves:
            c0 = self.col_index(t)
            later = [u for u in all_on if u > t + 1e-9]
            c1 = self.col_index(later[0]) if later else self.n_columns
            block = src[c0:c1].copy()
            new[c0:c1] = 0.0
            self._place(new, block, c0 + shift)
        return self._patch_for(np.clip(new, 0, 1))

    def nudge_events(self, t0: float, t1: float, dt: float, threshold: float = 0.25) -> Patch | None:
        """Move each event whose onset lies in [t0, t1] by ``dt`` seconds (fractions of a
        column interpolate, like ``move_range``). An event runs from its onset to the next."""
        onsets = [t for t in self.event_times(threshold) if t0 - 1e-9 <= t <= t1 + 1e-9]
        if not onsets or dt == 0:
            return None
        all_on = self.event_times(threshold)
        new = self.values.copy()
        for t in onsets:
            c0 = self.col_index(t)
            later = [u for u in all_on if u > t + 1e-9]
            c1 = self.col_index(later[0]) if later else self.n_columns
            block = self.values[c0:c1].copy()
            new[c0:c1] = 0.0
            self._place(new, block, c0 + dt * self.columns_per_second)
        return self._patch_for(np.clip(new, 0, 1))

    def import_block(self, block: np.ndarray, t: float) -> Patch | None:
        """Place a layout computed from a reference recording at ``t`` (the dubbing workflow)."""
        return self.paste(block, t)

    # -- analysis ---------------------------------------------------------------------------
    def event_times(self, threshold: float = 0.25) -> list[float]:
        """Onset times (s) of the layout's events: rising edges of the column energy."""
        e = self.values.max(axis=1)
        prev = np.concatenate([[0.0], e[:-1]])
        rising = (e >= threshold) & (e - prev >= threshold * 0.6)
        # Keep the first column of each run of rising cells.
        idx = np.nonzero(rising)[0]
        keep = [int(i) for k, i in enumerate(idx) if k == 0 or i - idx[k - 1] > 1]
        return [timebase.column_to_seconds(i, self.columns_per_second) for i in keep]
