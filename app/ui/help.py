"""Help: the keyboard shortcuts sheet, Getting started, and the start page shown while no clip
is open.

The sheet is built from the window's own actions each time it is shown (menu by menu, the
keys each action really has), so it cannot drift from what the keys do. The three steps of
Getting started and of the start page name the shortcuts the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

# Mouse gestures in the timeline: not key shortcuts, but part of the same sheet.
MOUSE = (
    ("Wheel", "Zoom the time axis around the pointer"),
    ("Ctrl+Wheel", "Zoom the frequency axis (Take mel, layout lanes) around the pointer"),
    ("Middle-drag", "Pan the time axis"),
    ("Click or drag in the ruler", "Move the playhead"),
    ("Drag in a lane (Select tool)", "Select a time range"),
    ("Drag inside the selection", "Move the selected layout"),
    ("Shift-drag inside the selection", "Stretch the selected layout"),
    ("Shift / Ctrl while painting", "Half / full intensity"),
    ("Alt while painting", "Erase"),
)
MOUSE_SECTION = "Mouse (timeline)"


def clean(text: str) -> str:
    """A menu text without its mnemonic ampersands and trailing dots."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def key_text(ks: QKeySequence) -> str:
    return ks.toString(QKeySequence.SequenceFormat.NativeText)


def action_keys(action: QAction | None) -> str:
    """The action's shortcuts as the user types them ("Ctrl+G", "= or +"), "" when none."""
    if action is None:
        return ""
    return " or ".join(_keys(action))


def _keys(action: QAction) -> list[str]:
    """The action's distinct shortcuts as text (a standard key can repeat an explicit one)."""
    return list(dict.fromkeys(key_text(k) for k in action.shortcuts() if not k.isEmpty()))


def action_name(action: QAction) -> str:
    name = action.property("sheet_name")
    return str(name) if name else clean(action.text())


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, list[str]]]:
    """(menu, action, [key, …]) for every action of the window that has a shortcut, menu by
    menu in menu order; actions in no menu come last under "Other"."""
    rows: list[tuple[str, str, list[str]]] = []
    seen: set[int] = set()

    def walk(menu, section: str) -> None:
        for a in menu.actions():
            if a.menu() is not None:
                walk(a.menu(), section)
                continue
            if a.isSeparator() or id(a) in seen:
                continue
            keys = _keys(a)
            if keys:
                seen.add(id(a))
                rows.append((section, action_name(a), keys))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), clean(top.text()))
    for a in window.actions():
        keys = _keys(a)
        if keys and id(a) not in seen:
            rows.append(("Other", action_name(a), keys))
    return rows


class ShortcutsDialog(QDialog):
    """Every shortcut of the window, by menu, with a filter; the timeline's mouse gestures
    at the end. Not modal: it can stay open beside the editor."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("ShortcutsSheet")
        self.setWindowTitle("Keyboard Shortcuts")
        self.window_ = window
        self.resize(620, 640)
        v = QVBoxLayout(self)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter, e.g. zoom, frame, Ctrl")
        self.filter.setToolTip("Show only the shortcuts whose action or keys contain this text")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        v.addWidget(self.filter)
        self.tree = QTreeWidget()
        self.tree.setObjectName("ShortcutTree")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setToolTip("Every keyboard shortcut of the window, by menu")
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        v.addWidget(self.tree, 1)
        note = QLabel("Single keys work anywhere in the window except while typing in a text field; "
                      "in a number field Enter or Esc gives the keys back to the timeline.")
        note.setObjectName("Dim")
        note.setWordWrap(True)
        v.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setToolTip("Close this sheet (Esc)")
        buttons.rejected.connect(self.reject)
        v.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        sections: dict[str, QTreeWidgetItem] = {}

        def section(name: str) -> QTreeWidgetItem:
            if name not in sections:
                it = QTreeWidgetItem([name, ""])
                f = it.font(0)
                f.setBold(True)
                it.setFont(0, f)
                it.setFirstColumnSpanned(False)
                it.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.tree.addTopLevelItem(it)
                sections[name] = it
            return sections[name]

        for menu, name, keys in shortcut_rows(self.window_):
            QTreeWidgetItem(section(menu), [name, "   or   ".join(keys)])
        for gesture, what in MOUSE:
            QTreeWidgetItem(section(MOUSE_SECTION), [what, gesture])
        self.tree.expandAll()
        self._apply_filter(self.filter.text())

    def _apply_filter(self, text: str) -> None:
        t = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            sec = self.tree.topLevelItem(i)
            shown = 0
            for j in range(sec.childCount()):
                it = sec.child(j)
                hit = not t or t in it.text(0).lower() or t in it.text(1).lower()
                it.setHidden(not hit)
                shown += hit
            sec.setHidden(shown == 0)

    def entries(self) -> list[tuple[str, str, str]]:
        """(section, action, keys) as shown, for tests."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            sec = self.tree.topLevelItem(i)
            for j in range(sec.childCount()):
                it = sec.child(j)
                out.append((sec.text(0), it.text(0), it.text(1)))
        return out

    def showEvent(self, ev) -> None:  # noqa: N802
        self.refresh()  # shortcuts added since the last time are listed too
        super().showEvent(ev)


def start_steps(acts: dict[str, QAction]) -> list[tuple[str, str]]:
    """The three steps from a silent clip to a soundtrack, naming the real shortcuts."""

    def k(name: str) -> str:
        keys = action_keys(acts.get(name))
        return f" ({keys})" if keys else ""

    return [
        ("Open a clip",
         f"File ▸ Open{k('open')}, or drop a video file on the window. The picture appears first, "
         "then the layout is predicted from it."),
        ("Accept or paint the layout",
         "Each lane's heatmap says when sound happens and in which band (low pitch at the bottom). "
         f"Keep the prediction or paint it: Brush{k('tool_brush')}, Eraser{k('tool_eraser')}, "
         f"mark a hit at the playhead{k('mark_hit')}."),
        ("Generate",
         f"Describe the sound in the lane's prompt, then Generate{k('generate_lane')} — all lanes"
         f"{k('generate_all')}. Play with Space, compare takes, Export{k('export')}."),
    ]


class StepsView(QWidget):
    """The three steps as numbered cards side by side."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StartSteps")
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(14)
        self.cards: list[tuple[QLabel, QLabel]] = []

    def set_steps(self, steps: list[tuple[str, str]]) -> None:
        while len(self.cards) < len(steps):
            card = QFrame()
            card.setObjectName("StepCard")
            cv = QVBoxLayout(card)
            cv.setContentsMargins(14, 12, 14, 12)
            title = QLabel()
            title.setObjectName("StepTitle")
            title.setWordWrap(True)
            body = QLabel()
            body.setObjectName("StepBody")
            body.setWordWrap(True)
            body.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            cv.addWidget(title)
            cv.addWidget(body, 1)
            self.row.addWidget(card, 1)
            self.cards.append((title, body))
        for i, ((title, body), (t, b)) in enumerate(zip(self.cards, steps, strict=False)):
            title.setText(f"{i + 1}.  {t}")
            body.setText(b)

    def text(self) -> str:
        return "\n".join(f"{t.text()}\n{b.text()}" for t, b in self.cards)


class GettingStartedDialog(QDialog):
    def __init__(self, window: QMainWindow, acts: dict[str, QAction], show_shortcuts: Callable[[], None]) -> None:
        super().__init__(window)
        self.setObjectName("GettingStarted")
        self.setWindowTitle("Getting Started")
        self.resize(760, 300)
        v = QVBoxLayout(self)
        head = QLabel("From a silent clip to a soundtrack in three steps")
        head.setObjectName("StartTitle")
        v.addWidget(head)
        self.steps = StepsView()
        self.steps.set_steps(start_steps(acts))
        v.addWidget(self.steps, 1)
        more = QLabel("The lane legend (View ▸ Lane Legend) explains the colours and marks of the timeline; "
                      "every control shows what it does when you hover it.")
        more.setObjectName("Dim")
        more.setWordWrap(True)
        v.addWidget(more)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        sheet = buttons.addButton("Keyboard Shortcuts…", QDialogButtonBox.ButtonRole.HelpRole)
        sheet.setToolTip(f"Every shortcut of the window ({action_keys(acts.get('shortcuts'))})")
        sheet.clicked.connect(show_shortcuts)
        buttons.button(QDialogButtonBox.StandardButton.Close).setToolTip("Close (Esc)")
        buttons.rejected.connect(self.reject)
        v.addWidget(buttons)


class StartPage(QWidget):
    """What the central area shows while no clip is open: the three steps, Open, the sample
    clip and the recent files. A drop anywhere on it opens the file (the window takes drops)."""

    def __init__(self, open_dialog: Callable[[], None], open_path: Callable[[str], object],
                 show_shortcuts: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StartPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._open_path = open_path
        outer = QVBoxLayout(self)
        outer.setContentsMargins(40, 30, 40, 30)
        outer.addStretch(1)
        col = QVBoxLayout()
        col.setSpacing(14)
        title = QLabel("Make the sound for a silent clip")
        title.setObjectName("StartTitle")
        col.addWidget(title)
        self.steps = StepsView()
        col.addWidget(self.steps)
        buttons = QHBoxLayout()
        self.open_btn = QPushButton("Open Clip…")
        self.open_btn.setObjectName("Accent")
        self.open_btn.clicked.connect(open_dialog)
        self.sample_btn = QPushButton("Open the Sample Clip")
        self.sample_btn.clicked.connect(self._open_sample)
        self.keys_btn = QPushButton("Keyboard Shortcuts")
        self.keys_btn.clicked.connect(show_shortcuts)
        for b in (self.open_btn, self.sample_btn, self.keys_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        col.addLayout(buttons)
        self.recent_label = QLabel("Recent")
        self.recent_label.setObjectName("Dim")
        col.addWidget(self.recent_label)
        self.recent_box = QVBoxLayout()
        self.recent_box.setSpacing(2)
        col.addLayout(self.recent_box)
        wrap = QHBoxLayout()
        wrap.addStretch(1)
        holder = QWidget()
        holder.setMaximumWidth(980)
        holder.setLayout(col)
        wrap.addWidget(holder, 20)
        wrap.addStretch(1)
        outer.addLayout(wrap)
        outer.addStretch(2)
        self.sample = _sample_clip()
        self.sample_btn.setVisible(self.sample is not None)

    def set_shortcuts(self, acts: dict[str, QAction]) -> None:
        self.steps.set_steps(start_steps(acts))
        self.open_btn.setToolTip(f"Choose a video clip or a .v2aproj project{_k(acts.get('open'))}")
        self.sample_btn.setToolTip("Open the bundled sample clip (an excerpt of Big Buck Bunny) to try the studio")
        self.keys_btn.setToolTip(f"Every keyboard shortcut of the window{_k(acts.get('shortcuts'))}")

    def set_recent(self, paths: list[str]) -> None:
        while self.recent_box.count():
            w = self.recent_box.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        for p in paths[:5]:
            b = QPushButton(Path(p).name)
            b.setObjectName("Link")
            b.setFlat(True)
            b.setToolTip(f"Open {p}")
            b.clicked.connect(lambda _c=False, path=p: self._open_path(path))
            self.recent_box.addWidget(b, 0, Qt.AlignmentFlag.AlignLeft)
        self.recent_label.setVisible(bool(paths))

    def _open_sample(self) -> None:
        if self.sample is not None:
            self._open_path(str(self.sample))


def _k(action: QAction | None) -> str:
    keys = action_keys(action)
    return f" ({keys})" if keys else ""


def _sample_clip() -> Path | None:
    try:
        from engine.api import resource_path

        d = resource_path("sample")
    except Exception:  # noqa: BLE001 - no resources (a stripped build): no sample button
        return None
    clips = sorted(d.glob("*.mp4")) if d.is_dir() else []
    return clips[0] if clips else None


__all__ = ["GettingStartedDialog", "ShortcutsDialog", "StartPage", "action_keys", "shortcut_rows", "start_steps"]
