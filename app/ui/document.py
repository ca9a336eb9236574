"""The open document as the widgets see it: project + timeline + tools + undo stack.

Widgets hold a reference to this object and subscribe to it; they never call each other.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from app.model.layout import LayoutDoc
from app.model.project import Lane, Project
from app.model.snap import motion_peaks
from app.model.timeline import TimelineState
from app.model.tools import ToolSettings
from engine.api import MediaInfo


class StudioDocument(QObject):
    clip_changed = Signal()  # a new clip/project is loaded
    lanes_changed = Signal()  # lanes added/removed/reordered
    lane_changed = Signal(str, str)  # lane id, attribute
    layout_changed = Signal(str, int, int)  # lane id, c0, c1
    active_lane_changed = Signal(int)
    motion_changed = Signal()
    params_changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo = QUndoStack(self)
        self.timeline = TimelineState()
        self.tools = ToolSettings()
        self.project = Project()
        self.info: MediaInfo | None = None
        self.motion_times = np.zeros(0)
        self.motion_curve = np.zeros(0)
        self.motion_peaks = np.zeros(0)
        self.contacts = np.zeros(0)  # the contact detector's times (engine.video), once found
        self.clipboard: np.ndarray | None = None
        self.clip_audio: tuple[np.ndarray, int] | None = None
        self.layout_ready = False
        self.take_display: dict[str, tuple] = {}  # take id -> (mel image, onsets, duration)
        self._hooked: list[Lane] = []

    # -- loading ----------------------------------------------------------------------------
    def set_project(self, project: Project, info: MediaInfo) -> None:
        self._unhook()
        self.project = project
        self.info = info
        self.undo.clear()
        self.undo.setClean()
        v = info.video
        self.timeline.reset(v.duration if v else info.duration, v.fps if v else 25)
        self.motion_times = self.motion_curve = self.motion_peaks = self.contacts = np.zeros(0)
        self.clipboard = None
        self.take_display = {}
        self.layout_ready = bool(project.lanes)
        project.lanes_changed.connect(self._on_lanes)
        project.params_changed.connect(self.params_changed.emit)
        self._hook()
        self.clip_changed.emit()
        self.lanes_changed.emit()

    def _on_lanes(self) -> None:
        self._unhook()
        self._hook()
        self.lanes_changed.emit()

    def _hook(self) -> None:
        for lane in self.project.lanes:
            lid = lane.id
            lane._qt_changed = lambda what, lid=lid: self.lane_changed.emit(lid, what)  # type: ignore[attr-defined]
            lane._qt_layout = lambda c0, c1, b0, b1, lid=lid: self.layout_changed.emit(lid, c0, c1)  # type: ignore[attr-defined]
            lane.changed.connect(lane._qt_changed)
            lane.layout.changed.connect(lane._qt_layout)
            self._hooked.append(lane)

    def _unhook(self) -> None:
        for lane in self._hooked:
            lane.changed.disconnect(lane._qt_changed)
            lane.layout.changed.disconnect(lane._qt_layout)
        self._hooked = []

    # -- conveniences -------------------------------------------------------------------------
    @property
    def has_clip(self) -> bool:
        return self.info is not None and self.info.video is not None

    @property
    def duration(self) -> float:
        return self.timeline.duration

    @property
    def active_lane(self) -> Lane | None:
        lanes = self.project.lanes
        if not lanes:
            return None
        return lanes[max(0, min(self.project.active_lane, len(lanes) - 1))]

    def set_active_lane(self, index: int) -> None:
        if 0 <= index < len(self.project.lanes) and index != self.project.active_lane:
            self.project.active_lane = index
            self.active_lane_changed.emit(index)

    def set_motion(self, times: np.ndarray, curve: np.ndarray) -> None:
        self.motion_times, self.motion_curve = times, curve
        self.motion_peaks = motion_peaks(curve, times)
        self.motion_changed.emit()

    def set_contacts(self, times: np.ndarray) -> None:
        """Contacts from the engine's detector (engine.video): the targets of "contacts" snapping."""
        self.contacts = np.asarray(times, np.float64)
        self.motion_changed.emit()

    def snap(self, t: float) -> float:
        """Snap a time per the tool settings: to frame starts or to the nearest motion peak."""
        mode = self.tools.snap
        if mode == "frames":
            return self.timeline.snap_to_frame(t)
        targets = {"motion": self.motion_peaks, "contacts": self.contacts}.get(mode)
        if targets is not None and len(targets):
            from app.model.snap import snap_time

            return snap_time(t, targets, max_dist=0.25)
        return t

    def new_lane_layout(self) -> LayoutDoc:
        """A blank layout shaped like the existing lanes (or on the grid of the project's pack)."""
        if self.project.lanes:
            ref = self.project.lanes[0].layout
            return LayoutDoc(np.zeros_like(ref.values), ref.columns_per_second, np.zeros_like(ref.values))
        from engine.api import layout_grid

        cps, bands = layout_grid(self.project.params.pack)
        return LayoutDoc.empty(self.duration, bands, cps)
