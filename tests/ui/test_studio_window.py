"""Issue 22: the window at laptop sizes (tool bar fits, geometry fits the screen and is
remembered), visible check boxes, named undo actions."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _lum(c) -> float:
    return 0.2126 * c.red() + 0.7152 * c.green() + 0.0722 * c.blue()


@pytest.mark.parametrize("checked", [False, True])
@pytest.mark.parametrize("enabled", [True, False])
def test_checkbox_indicator_is_visible_with_the_app_style(qtbot, checked, enabled):
    from PySide6.QtWidgets import QCheckBox, QStyle, QStyleOptionButton, QVBoxLayout, QWidget

    from engine.paths import resource_path

    host = QWidget()
    host.setStyleSheet(resource_path("styles", "studio.qss").read_text(encoding="utf-8"))
    lay = QVBoxLayout(host)
    cb = QCheckBox("Mute")
    cb.setChecked(checked)
    cb.setEnabled(enabled)
    lay.addWidget(cb)
    qtbot.addWidget(host)
    host.resize(120, 40)
    host.show()
    qtbot.waitExposed(host)
    img = host.grab().toImage()
    opt = QStyleOptionButton()
    cb.initStyleOption(opt)
    r = cb.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, opt, cb).translated(cb.pos())
    assert r.width() >= 10 and r.height() >= 10
    bg = _lum(img.pixelColor(host.width() - 3, 3))
    lums = [_lum(img.pixelColor(x, y)) for x in range(r.left(), r.right() + 1) for y in range(r.top(), r.bottom() + 1)]
    # the box's outline stands out from the panel behind it, whatever the state
    assert max(abs(v - bg) for v in lums) > (25 if enabled else 15)


def _controls(tools):
    from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QLabel, QToolButton

    return [w for kind in (QToolButton, QAbstractSpinBox, QComboBox, QLabel) for w in tools.findChildren(kind)
            if w.parent() is tools or w.parent().parent() is tools]


@pytest.mark.parametrize("size", [(1280, 720), (1600, 900)])
def test_every_tool_bar_control_is_on_screen(qtbot, window, clip, size):
    from studio_helpers import open_and_wait

    window.resize(*size)
    open_and_wait(qtbot, window, clip)
    qtbot.wait(50)
    assert window.size().width() <= size[0] and window.size().height() <= size[1]
    ctrls = _controls(window.tools)
    names = {w.text() for w in ctrls if hasattr(w, "text")}
    assert {"Select", "Brush", "Eraser", "Event", "Snap", "Decay"} <= {n.strip() for n in names}
    assert any("Alt" in n for n in names)  # the modifier hint
    win_rect = window.rect()
    tools_rect = window.tools.rect()
    for w in ctrls:
        r = w.rect().translated(w.mapTo(window, w.rect().topLeft()))
        assert w.isVisible(), w
        assert win_rect.contains(r), (w, r)
        assert tools_rect.contains(r.translated(-window.tools.mapTo(window, tools_rect.topLeft()))), (w, r)
    # the timeline keeps every row on screen under the tool bar: lane, Take mel and Mix
    glw = window.timeline.glw
    assert window.timeline.height() >= window.timeline.minimumHeight()
    assert window.tools.height() >= window.tools.flow.heightForWidth(window.tools.width())
    bottom = glw.mapFromScene(window.timeline.wave_row.sceneBoundingRect().bottomLeft()).y()
    assert bottom <= glw.viewport().height() + 1
    assert window.timeline.lane_rows[window.doc.active_lane.id].sceneBoundingRect().height() >= 60
    assert window.tools.snap.currentText() == "frames"
    # the frame counter stays readable: a shorter form of it, never cut to "f…"
    shown = window.viewer_panel.transport.frame_lbl.shown_text()
    assert "…" not in shown and "/" in shown, shown
    if size == (1600, 900):
        assert "fps" in shown  # room for all of it


def test_window_fits_a_small_screen_and_remembers_its_layout(qtbot, studio_home):
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QDockWidget

    from app.ui.main_window import MainWindow

    small = QRect(0, 0, 1280, 720)
    win = MainWindow(autosave=False, interactive=False)
    qtbot.addWidget(win)
    win.restore_window_state(small)  # first start: nothing saved
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: small.contains(win.frameGeometry()), timeout=2000)
    assert win.minimumSizeHint().width() <= 1280 and win.minimumSizeHint().height() <= 720
    win.resize(1500, 860)
    win.split.setSizes([220, 380])
    dock = win.findChild(QDockWidget, "TakesDock")
    dock.hide()
    qtbot.wait(20)
    sizes = win.split.sizes()
    win.close()  # saves geometry, docks and splitter
    assert (studio_home / "config" / "studio-window.ini").exists()

    again = MainWindow(autosave=False, interactive=False)
    qtbot.addWidget(again)
    again.restore_window_state(QRect(0, 0, 1920, 1080))
    again.show()
    qtbot.waitExposed(again)
    assert (again.width(), again.height()) == (1500, 860)
    assert again.split.sizes() == sizes
    assert not again.findChild(QDockWidget, "TakesDock").isVisible()
    again.close()
    # a smaller screen than last time: shrunk to fit
    third = MainWindow(autosave=False, interactive=False)
    qtbot.addWidget(third)
    third.restore_window_state(small)
    assert third.width() <= 1280 and third.height() <= 720
    third.shutdown()


def test_first_start_on_a_big_screen_is_1600_by_900(qtbot, studio_home):
    from PySide6.QtCore import QRect

    from app.ui.main_window import MainWindow

    win = MainWindow(autosave=False, interactive=False)
    qtbot.addWidget(win)
    win.restore_window_state(QRect(0, 0, 2560, 1440))
    assert (win.width(), win.height()) == (1600, 900)
    assert win.x() == (2560 - 1600) // 2
    win.shutdown()


def test_undo_names_the_action_and_takes_buttons_wait_for_a_clip(qtbot, window, silent_clip, mouse):
    from studio_helpers import open_and_wait

    tp = window.takes_panel
    assert not any(b.isEnabled() for b in (tp.play, tp.ab_btn, tp.pick_btn, tp.del_btn))
    open_and_wait(qtbot, window, silent_clip)
    assert not any(b.isEnabled() for b in (tp.play, tp.ab_btn, tp.pick_btn, tp.del_btn))  # no takes yet
    doc = window.doc
    lane = doc.active_lane

    def undo_text() -> str:
        return window.undo_action.text().replace("&", "")

    doc.tools.set("tool", "brush")
    mouse.drag(window, lane.id, [(0.5, 2.5), (0.6, 2.5), (0.8, 2.5), (1.0, 2.5)])
    assert undo_text() == "Undo Paint"
    doc.tools.set("tool", "event")
    mouse.click(window, lane.id, 1.4, 2.5)
    assert undo_text() == "Undo Add event"
    doc.timeline.set_selection((0, doc.duration))
    window.edit.delete_range()
    assert undo_text() == "Undo Delete events"
    doc.undo.undo()
    assert window.redo_action.text().replace("&", "") == "Redo Delete events"
