"""The layout tool bar above the timeline: tools, brush/event settings, snap mode, hints.

Its groups flow onto as many rows as the width needs, so every control stays visible on a
1280-pixel laptop screen with both docks open (a single-row QToolBar hid the Snap control
and the hints past its right edge, with no overflow).
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QToolButton,
    QWidget,
)

from app.model.tools import SNAPS
from app.ui.document import StudioDocument
from app.ui.panels import _dspin

SNAP_LABELS = {"off": "off", "frames": "frames", "motion": "motion peaks", "contacts": "contacts"}
SNAP_TARGETS = {"frames": "frame starts", "motion": "motion peaks", "contacts": "contacts"}  # for status messages


class FlowLayout(QLayout):
    """Lays items left to right and wraps to a new row when the width runs out (the Qt
    flow-layout example, rows centred vertically)."""

    def __init__(self, parent: QWidget | None = None, hspacing: int = 10, vspacing: int = 3) -> None:
        super().__init__(parent)
        self._items = []
        self._h, self._v = hspacing, vspacing

    def addItem(self, item) -> None:  # noqa: N802 (Qt API)
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, i: int):  # noqa: N802
        return self._items[i] if 0 <= i < len(self._items) else None

    def takeAt(self, i: int):  # noqa: N802
        return self._items.pop(i) if 0 <= i < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802
        s = QSize()
        for it in self._items:
            s = s.expandedTo(it.minimumSize())
        m = self.contentsMargins()
        return s + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _place(self, rect: QRect, move: bool) -> int:
        m = self.contentsMargins()
        r = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        rows: list[list] = [[]]
        x = 0
        for it in self._items:
            w = it.sizeHint().width()
            if rows[-1] and x + w > r.width():
                rows.append([])
                x = 0
            rows[-1].append(it)
            x += w + self._h
        y = r.y()
        for row in rows:
            h = max((it.sizeHint().height() for it in row), default=0)
            x = r.x()
            for it in row:
                hint = it.sizeHint()
                if move:
                    it.setGeometry(QRect(QPoint(x, y + (h - hint.height()) // 2), hint))
                x += hint.width() + self._h
            y += h + self._v
        return y - self._v - r.y() + m.top() + m.bottom()


class ToolBar(QWidget):
    """Layout tools and their settings (the shared ``ToolSettings``)."""

    def __init__(self, doc: StudioDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LayoutTools")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.doc = doc
        t = doc.tools
        flow = FlowLayout(self)
        flow.setContentsMargins(6, 3, 6, 3)
        self.flow = flow

        def group(*widgets: QWidget) -> QWidget:
            g = QWidget()
            g.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground, True)
            h = QHBoxLayout(g)
            h.setContentsMargins(0, 0, 0, 0)
            h.setSpacing(4)
            for w in widgets:
                h.addWidget(w)
            flow.addWidget(g)
            return g

        def label(text: str) -> QLabel:
            lbl = QLabel(text)
            lbl.setObjectName("Dim")
            return lbl

        self.buttons: dict[str, QToolButton] = {}
        for name, text, key, tip in (
            ("select", "Select", "V", "Select tool: drag in a lane to select a time range; drag inside the "
                                      "selection to move it, Shift-drag to stretch it"),
            ("brush", "Brush", "B", "Brush tool: paint sound into the layout (Alt erases)"),
            ("eraser", "Eraser", "E", "Eraser tool: wipe sound out of the layout"),
            ("event", "Event", "N", "Event tool: click to stamp a sound that starts there and decays"),
        ):
            b = QToolButton()
            b.setText(text)
            b.setCheckable(True)
            b.setProperty("tip", tip)
            b.setToolTip(f"{tip} ({key})")
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a click must not take the keys from the timeline
            b.clicked.connect(lambda _c=False, n=name: t.set("tool", n))
            self.buttons[name] = b
        sep = QFrame()
        sep.setFrameShape(QFrame.Shape.VLine)
        sep.setObjectName("ToolSep")
        group(*self.buttons.values(), sep)
        self.size_t = _dspin(0.02, 5.0, t.brush_seconds, 0.05, 2, " s", "Brush width in seconds")
        self.size_b = _dspin(1, 16, t.brush_bands, 1, 0, " bands", "Brush height in bands (also the event tool's)")
        self.intensity = _dspin(0.05, 1.0, t.intensity, 0.05, 2, "", "Brush and event intensity")
        self.soft = _dspin(0.0, 1.0, t.softness, 0.1, 1, "", "Soft edge: 0 hard, 1 fully feathered")
        self.decay = _dspin(0.02, 5.0, t.decay, 0.05, 2, " s", "Event tool and Mark hit (H): seconds to 1/e")
        group(label("Size"), self.size_t, self.size_b)
        group(label("Intensity"), self.intensity)
        group(label("Soft"), self.soft)
        group(label("Decay"), self.decay)
        for w, name in ((self.size_t, "brush_seconds"), (self.size_b, "brush_bands"), (self.intensity, "intensity"),
                        (self.soft, "softness"), (self.decay, "decay")):
            w.valueChanged.connect(lambda x, n=name: t.set(n, float(x)))
        self.snap = QComboBox()
        for s in SNAPS:
            self.snap.addItem(SNAP_LABELS[s], s)
        self.snap.setToolTip("Where selections, moves, event clicks and S (snap events) land: frame starts; "
                             "motion peaks (the picture's motion curve); contacts (frames where an object "
                             "lands or stops, camera motion removed - the engine's contact detector)")
        self.snap.currentIndexChanged.connect(lambda _i: t.set("snap", self.snap.currentData()))
        self.snap_label = label("Snap")
        group(self.snap_label, self.snap)
        self.hint = label("Shift lighter · Ctrl full · Alt erase · drag selection: move · Shift-drag: stretch")
        self.hint.setToolTip("Modifiers while painting, and what dragging inside a selection does")
        group(self.hint)
        t.changed.connect(lambda _n: self.refresh())
        self.refresh()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        # As tall as the rows the current width needs: the splitter and the layout above size
        # the timeline from this, and a one-row minimum let the rows eat into the timeline.
        m = self.flow.minimumSize()
        return QSize(m.width(), self.flow.heightForWidth(max(self.width(), m.width())))

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSizeHint()

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        if ev.size().width() != ev.oldSize().width():
            self.updateGeometry()  # another width may need another number of rows

    def controls(self) -> list[QWidget]:
        """Every control and label the editor needs to see (tests check they fit)."""
        return [*self.buttons.values(), self.size_t, self.size_b, self.intensity, self.soft, self.decay,
                self.snap_label, self.snap, self.hint]

    def refresh(self) -> None:
        t = self.doc.tools
        for n, b in self.buttons.items():
            b.setChecked(n == t.tool)
        for w, v in ((self.size_t, t.brush_seconds), (self.size_b, t.brush_bands), (self.intensity, t.intensity),
                     (self.soft, t.softness), (self.decay, t.decay)):
            if abs(w.value() - v) > 1e-9:
                w.blockSignals(True)
                w.setValue(v)
                w.blockSignals(False)
        self.snap.blockSignals(True)
        self.snap.setCurrentIndex(max(0, self.snap.findData(t.snap)))
        self.snap.blockSignals(False)


__all__ = ["FlowLayout", "SNAP_TARGETS", "ToolBar"]
