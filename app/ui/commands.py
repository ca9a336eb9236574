"""Undo commands (DESIGN.md §7): every edit of the document goes through one of these."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from app.model.layout import LayoutDoc, Patch
from app.model.project import Lane, Project, TakeRecord


class PatchCommand(QUndoCommand):
    """A layout patch (a brush drag, a range edit). Built after the fact: the first redo is a no-op
    when ``applied`` is True (the stroke was painted live)."""

    def __init__(self, layout: LayoutDoc, patch: Patch, text: str, applied: bool = False) -> None:
        super().__init__(text)
        self.layout, self.patch, self._skip = layout, patch, applied

    def redo(self) -> None:
        if self._skip:
            self._skip = False
            return
        self.layout.apply(self.patch)

    def undo(self) -> None:
        self.layout.apply(self.patch, undo=True)


class SetAttrCommand(QUndoCommand):
    """A parameter change on a lane or the generation params; consecutive edits of one field merge."""

    _ID = 0x5A1

    def __init__(self, setter: Callable[[object], None], key: tuple, old, new, text: str) -> None:
        super().__init__(text)
        self.setter, self.key, self.old, self.new = setter, key, old, new

    def id(self) -> int:
        return self._ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt API)
        if isinstance(other, SetAttrCommand) and other.key == self.key and self.key[-1] != "nomerge":
            self.new = other.new
            return True
        return False

    def redo(self) -> None:
        self.setter(self.new)

    def undo(self) -> None:
        self.setter(self.old)


def lane_attr(lane: Lane, name: str, new, label: str) -> SetAttrCommand:
    return SetAttrCommand(lambda v: lane.set_attr(name, v), ("lane", lane.id, name), getattr(lane, name), new, label)


def lane_reference(lane: Lane, path: str | None, label: str) -> SetAttrCommand:
    """The lane's sound (a recording's path, or None): each choice is its own undo step, so
    undo after "Use" brings back the sound the lane had before, not an older one."""
    return SetAttrCommand(lambda v: lane.set_attr("reference", v), ("lane", lane.id, "reference", "nomerge"),
                          lane.reference, path, label)


def param_attr(project: Project, name: str, new, label: str) -> SetAttrCommand:
    return SetAttrCommand(
        lambda v: project.set_param(name, v), ("param", name), getattr(project.params, name), new, label
    )


class AddLaneCommand(QUndoCommand):
    def __init__(self, project: Project, lane: Lane, index: int | None = None) -> None:
        super().__init__(f"Add lane “{lane.name}”")
        self.project, self.lane = project, lane
        self.index = len(project.lanes) if index is None else index

    def redo(self) -> None:
        self.project.add_lane(self.lane, self.index)
        self.project.active_lane = self.index
        self.project.lanes_changed.emit()

    def undo(self) -> None:
        self.project.remove_lane(self.index)


class RemoveLaneCommand(QUndoCommand):
    def __init__(self, project: Project, index: int) -> None:
        super().__init__(f"Delete lane “{project.lanes[index].name}”")
        self.project, self.index = project, index
        self.lane = project.lanes[index]

    def redo(self) -> None:
        self.project.remove_lane(self.index)

    def undo(self) -> None:
        self.project.add_lane(self.lane, self.index)


class AddTakesCommand(QUndoCommand):
    """New takes from a generation (or a region regeneration); picks the first new take."""

    def __init__(self, lane: Lane, takes: list[TakeRecord], text: str) -> None:
        super().__init__(text)
        self.lane, self.takes = lane, takes
        self._old_pick = lane.picked
        self._old_prev = lane.previous_pick

    def redo(self) -> None:
        first = len(self.lane.takes)
        for t in self.takes:
            self.lane.insert_take(t)
        self.lane.pick(first)

    def undo(self) -> None:
        for t in self.takes:
            self.lane.remove_take(self.lane.takes.index(t))
        self.lane.picked = self._old_pick
        self.lane.previous_pick = self._old_prev
        self.lane.changed.emit("picked")


class PickTakeCommand(QUndoCommand):
    def __init__(self, lane: Lane, index: int | None) -> None:
        super().__init__("Pick take")
        self.lane, self.index, self.old = lane, index, lane.picked

    def redo(self) -> None:
        self.lane.pick(self.index)

    def undo(self) -> None:
        self.lane.pick(self.old)


class DeleteTakeCommand(QUndoCommand):
    def __init__(self, lane: Lane, index: int) -> None:
        super().__init__("Delete take")
        self.lane, self.index = lane, index
        self.take = lane.takes[index]
        self.was_picked = lane.picked == index
        self.old_pick = lane.picked

    def redo(self) -> None:
        self.lane.remove_take(self.index)

    def undo(self) -> None:
        self.lane.insert_take(self.take, self.index)
        self.lane.picked = self.old_pick
        self.lane.changed.emit("picked")
