"""Shared timeline state: playhead, visible range, selection. Views subscribe; no Qt."""

from __future__ import annotations

from fractions import Fraction

from app.model.events import Event
from engine.api import timebase


class TimelineState:
    """One per document. Every widget reads and writes time here, never in another widget."""

    def __init__(self, duration: float = 0.0, fps: Fraction = Fraction(25)) -> None:
        self.duration = float(duration)
        self.fps = Fraction(fps)
        self.playhead = 0.0
        self.visible = (0.0, max(1.0, self.duration))
        self.selection: tuple[float, float] | None = None
        self.playing = False
        self.playhead_changed = Event()  # (t)
        self.view_changed = Event()  # (t0, t1)
        self.selection_changed = Event()  # (sel | None)
        self.playing_changed = Event()  # (bool)

    def reset(self, duration: float, fps: Fraction) -> None:
        self.duration = float(duration)
        self.fps = Fraction(fps)
        self.set_selection(None)
        self.set_view(0.0, max(0.5, self.duration))
        self.seek(0.0)

    # -- conversions through engine.timebase ---------------------------------------------------
    @property
    def frame_duration(self) -> float:
        return timebase.frame_to_seconds(1, self.fps)

    @property
    def last_frame(self) -> int:
        return max(0, timebase.frame_count(self.duration, self.fps) - 1)

    def frame_of(self, t: float) -> int:
        return min(self.last_frame, timebase.seconds_to_frame(t, self.fps))

    def snap_to_frame(self, t: float) -> float:
        """Start time of the nearest frame boundary."""
        i = int(round(t * float(self.fps)))
        return timebase.frame_to_seconds(max(0, min(i, self.last_frame + 1)), self.fps)

    def timecode(self, t: float | None = None) -> str:
        return timebase.timecode(self.playhead if t is None else t, self.fps)

    # -- mutation ----------------------------------------------------------------------------
    def clamp(self, t: float) -> float:
        return min(max(0.0, t), max(0.0, self.duration))

    def seek(self, t: float) -> None:
        t = self.clamp(t)
        if t != self.playhead:
            self.playhead = t
            self.playhead_changed.emit(t)

    def seek_frame(self, index: int) -> None:
        index = max(0, min(index, self.last_frame))
        # A hair past the frame start so floor() lands on this frame despite float error.
        self.seek(timebase.frame_to_seconds(index, self.fps))

    def step_frames(self, n: int) -> None:
        self.seek_frame(self.frame_of(self.playhead + 1e-9) + n)

    def set_view(self, t0: float, t1: float) -> None:
        if t1 - t0 < 1e-3:
            t1 = t0 + 1e-3
        if (t0, t1) != self.visible:
            self.visible = (t0, t1)
            self.view_changed.emit(t0, t1)

    def zoom(self, factor: float, center: float | None = None) -> None:
        t0, t1 = self.visible
        c = self.playhead if center is None else center
        span = min(max((t1 - t0) * factor, 0.05), max(1.0, self.duration * 1.2))
        frac = 0.5 if not (t0 <= c <= t1) else (c - t0) / max(1e-9, t1 - t0)
        n0 = c - span * frac
        self.set_view(n0, n0 + span)

    def pan(self, fraction: float) -> None:
        t0, t1 = self.visible
        d = (t1 - t0) * fraction
        self.set_view(t0 + d, t1 + d)

    def fit(self) -> None:
        self.set_view(0.0, max(0.5, self.duration))

    def follow(self) -> None:
        """Page the view so the playhead stays visible while playing."""
        t0, t1 = self.visible
        if self.playhead > t1 or self.playhead < t0:
            span = t1 - t0
            self.set_view(self.playhead - span * 0.05, self.playhead + span * 0.95)

    def set_selection(self, sel: tuple[float, float] | None) -> None:
        if sel is not None:
            a, b = sorted(sel)
            a, b = self.clamp(a), self.clamp(b)
            sel = None if b - a < 1e-4 else (a, b)
        if sel != self.selection:
            self.selection = sel
            self.selection_changed.emit(sel)

    def set_playing(self, playing: bool) -> None:
        if playing != self.playing:
            self.playing = playing
            self.playing_changed.emit(playing)
