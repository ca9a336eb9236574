"""Editing tool settings shared by the tool bar and the layout lanes (no Qt)."""

from __future__ import annotations

from dataclasses import dataclass

from app.model.events import Event
from app.model.layout import Brush

TOOLS = ("select", "brush", "eraser", "event")
SNAPS = ("off", "frames", "motion", "contacts")


@dataclass
class ToolSettings:
    tool: str = "brush"
    brush_seconds: float = 0.2  # brush width in time (diameter)
    brush_bands: float = 1.0  # brush height in bands (diameter)
    intensity: float = 0.8
    softness: float = 0.5
    decay: float = 0.25  # event tool: seconds to 1/e
    snap: str = "frames"

    def __post_init__(self) -> None:
        self.changed = Event()  # (name)

    def set(self, name: str, value) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)
            self.changed.emit(name)

    def brush(self, columns_per_second: float, erase: bool = False, scale: float = 1.0) -> Brush:
        """The brush in layout units; ``scale`` is the modifier intensity (Shift lighter)."""
        return Brush(
            radius_cols=max(0.5, self.brush_seconds * columns_per_second / 2),
            radius_bands=max(0.5, self.brush_bands / 2),
            intensity=min(1.0, self.intensity * scale),
            softness=self.softness,
            erase=erase or self.tool == "eraser",
        )
