"""Issue 22: the editor's workflow — the shortcuts sheet and Getting started, tool tips on
every control, the lane legend, the start page, frequency zoom, the clip's own waveform."""

from __future__ import annotations

import numpy as np
import pytest
from studio_helpers import open_and_wait


def _registered_shortcuts(window):
    """(action name, key text) for every shortcut the window registers: its actions (menus
    and window-level) and any QShortcut object."""
    from PySide6.QtGui import QAction, QKeySequence, QShortcut

    from app.ui.help import action_name

    out = []
    for a in {id(a): a for a in [*window.actions(), *window.findChildren(QAction)]}.values():
        for ks in a.shortcuts():
            if not ks.isEmpty():
                out.append((action_name(a), ks.toString(QKeySequence.SequenceFormat.NativeText)))
    for sc in window.findChildren(QShortcut):
        out.append((sc.objectName(), sc.key().toString(QKeySequence.SequenceFormat.NativeText)))
    return out


def test_shortcut_sheet_lists_every_registered_shortcut(qtbot, window, clip):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QAction, QKeySequence

    open_and_wait(qtbot, window, clip)
    window.activateWindow()
    window.focus_timeline()
    qtbot.keyClick(window.timeline.glw, Qt.Key.Key_Question, Qt.KeyboardModifier.ShiftModifier)
    sheet = window.shortcuts_sheet
    assert sheet is not None and sheet.isVisible()
    entries = sheet.entries()
    shown = {(name, keys) for _sec, name, keys in entries}
    regs = _registered_shortcuts(window)
    assert len(regs) > 40
    missing = [(name, key) for name, key in regs if not any(n == name and key in k.split("   or   ") for n, k in shown)]
    assert not missing, f"shortcuts missing from the sheet: {missing}"
    sections = {sec for sec, _n, _k in entries}
    assert {"File", "Edit", "Playback", "View", "Generate", "Help"} <= sections
    assert ("Generate", "Generate Lane", "Ctrl+G") in entries
    # built from the actions, not a copy: a shortcut added later is on the sheet next time
    extra = QAction("Frobnicate Lanes", window)
    extra.setShortcut(QKeySequence("Ctrl+Shift+K"))
    window.menuBar().actions()[0].menu().addAction(extra)
    window.addAction(extra)
    sheet.hide()
    window.acts["shortcuts"].trigger()  # Help ▸ Keyboard Shortcuts
    assert sheet.isVisible()
    assert ("File", "Frobnicate Lanes", "Ctrl+Shift+K") in sheet.entries()
    # the filter narrows the list to matching actions or keys
    sheet.filter.setText("zoom")
    visible = [sheet.tree.topLevelItem(i).child(j).text(0) for i in range(sheet.tree.topLevelItemCount())
               for j in range(sheet.tree.topLevelItem(i).childCount())
               if not sheet.tree.topLevelItem(i).child(j).isHidden()]
    assert visible and all("zoom" in v.lower() or "Wheel" in v for v in visible)
    assert "Zoom In" in visible and "Mark Hit at Playhead" not in visible


def test_question_mark_opens_the_sheet_from_a_spin_box_but_types_in_a_text_field(qtbot, window, clip):
    from PySide6.QtCore import Qt

    open_and_wait(qtbot, window, clip)
    window.activateWindow()
    prompt = window.lanes_panel.prompt
    prompt.setFocus()
    qtbot.waitUntil(prompt.hasFocus, timeout=3000)
    qtbot.keyClicks(prompt, "rain?")
    assert prompt.text() == "rain?"
    assert window.shortcuts_sheet is None or not window.shortcuts_sheet.isVisible()
    spin = window.tools.decay
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=3000)
    qtbot.keyClick(spin, Qt.Key.Key_Question, Qt.KeyboardModifier.ShiftModifier)
    assert window.shortcuts_sheet is not None and window.shortcuts_sheet.isVisible()


def test_getting_started_shows_the_three_steps_with_the_real_shortcuts(qtbot, window):
    from PySide6.QtWidgets import QMenu

    help_menu = [a.menu() for a in window.menuBar().actions() if a.text() == "&Help"][0]
    assert isinstance(help_menu, QMenu)
    item = [a for a in help_menu.actions() if a.text() == "&Getting Started"][0]
    item.trigger()
    dlg = window.getting_started
    assert dlg.isVisible()
    text = dlg.steps.text()
    assert [ln.split(".")[0] for ln in text.splitlines() if ln[:1].isdigit()] == ["1", "2", "3"]
    assert "Open a clip" in text and "Generate" in text and "layout" in text
    for name in ("open", "generate_lane", "mark_hit"):
        assert window.acts[name].shortcut().toString() in text
    window.acts["generate_lane"].setShortcut("Ctrl+Alt+Shift+Y")  # the text follows the action
    window.show_getting_started()
    assert "Ctrl+Alt+Shift+Y" in window.getting_started.steps.text()


INTERACTIVE = ("QAbstractButton", "QAbstractSpinBox", "QComboBox", "QLineEdit", "QAbstractSlider",
               "QAbstractItemView")


def _without_tooltip(root):
    """Visible interactive widgets under ``root`` with no tool tip, named for the message.
    A spin box's or combo's own line edit and a line edit's clear button belong to a control
    that has one; scroll bars are standard."""
    from PySide6 import QtWidgets as W

    kinds = tuple(getattr(W, k) for k in INTERACTIVE)
    bad = []
    for w in root.findChildren(W.QWidget):
        if not isinstance(w, kinds) or isinstance(w, W.QScrollBar) or not w.isVisibleTo(root):
            continue
        parent = w.parentWidget()
        if isinstance(parent, (W.QAbstractSpinBox, W.QComboBox, W.QLineEdit)):
            continue
        if isinstance(parent, W.QAbstractItemView) or (parent is not None and isinstance(parent.parentWidget(), W.QAbstractItemView)):
            continue  # an item view's own header / corner / viewport parts
        if isinstance(w, W.QAbstractButton) and w.objectName().startswith("qt_dockwidget_"):
            continue  # the dock title bar's float button (Qt's own, labelled by its icon)
        if not w.toolTip().strip():
            label = getattr(w, "text", lambda: "")() if not isinstance(w, W.QAbstractItemView) else ""
            bad.append(f"{type(w).__name__} {w.objectName()!r} {label!r} in {type(parent).__name__}")
    return bad


def test_every_control_has_a_tooltip(qtbot, window, clip):
    from PySide6.QtWidgets import QToolBar

    assert window.showing_start_page
    assert not _without_tooltip(window), _without_tooltip(window)
    open_and_wait(qtbot, window, clip)
    # the Sounds panel shown with results, so its table and buttons are on screen too
    window.library_panel.show_results("steps", [
        {"class": "footstep", "subclass": "gravel", "duration": 0.5, "source": "test", "license": "CC0",
         "path": "/tmp/x.wav", "sample_rate": 44100}])
    assert window.library_panel.isVisible()
    qtbot.wait(20)
    assert not _without_tooltip(window), _without_tooltip(window)
    for tb in window.findChildren(QToolBar):
        for a in tb.actions():
            assert a.isSeparator() or a.toolTip().strip(), a.text()
    # tips that name a shortcut read it from the action
    assert "(Ctrl+G)" in window.lanes_panel.gen_one.toolTip()
    assert window.tools.buttons["brush"].toolTip().endswith("(B)")
    assert "Space" in window.viewer_panel.transport.play_btn.toolTip()


def test_export_dialog_controls_have_tooltips(qtbot, window, clip):
    from app.ui.export_dialog import ExportDialog

    open_and_wait(qtbot, window, clip)
    dlg = ExportDialog(str(clip), window)
    qtbot.addWidget(dlg)
    dlg.show()
    assert not _without_tooltip(dlg), _without_tooltip(dlg)


def test_start_page_until_a_clip_opens(qtbot, window, clip):
    sp = window.start_page
    assert window.showing_start_page and sp.isVisible()
    assert not window.timeline.isVisible() and not window.viewer.isVisible()
    text = sp.steps.text()
    assert "1.  Open a clip" in text and "2.  Accept or paint the layout" in text and "3.  Generate" in text
    assert "Ctrl+O" in text and "drop" in text and "Ctrl+G" in text
    assert sp.open_btn.isVisible() and "Ctrl+O" in sp.open_btn.toolTip()
    open_and_wait(qtbot, window, clip)
    assert not window.showing_start_page and not sp.isVisible()
    assert window.timeline.isVisible() and window.viewer.isVisible()
    # the clip opened shows up among the recent files of the start page
    names = [sp.recent_box.itemAt(i).widget().text() for i in range(sp.recent_box.count())]
    assert clip.name in names


def test_lane_legend_explains_bands_colours_and_marks(qtbot, window, clip, studio_home):
    from PySide6.QtCore import QRect

    from app.ui.main_window import MainWindow

    open_and_wait(qtbot, window, clip)
    tl = window.timeline
    leg = tl.legend
    qtbot.waitUntil(leg.isVisible, timeout=3000)
    qtbot.wait(30)
    lay = window.doc.active_lane.layout
    text = leg.text()
    assert f"{lay.n_bands} bands" in text and "low pitch at the bottom" in text
    assert "Brightness = loudness" in text and "Event" in text and "predicted" in text
    assert "blue" in text and "orange" in text
    assert leg.band_ranges.endswith("kHz") and leg.band_ranges.count("–") == lay.n_bands
    # over the lanes, clear of the picture row, inside the timeline
    first = next(iter(tl.lane_rows.values()))
    lane_top = tl.glw.mapTo(tl, tl.glw.mapFromScene(first.sceneBoundingRect().topLeft())).y()
    assert leg.geometry().top() >= lane_top
    assert QRect(0, 0, tl.width(), tl.height()).contains(leg.geometry())
    # a lane on another grid: the legend follows the active lane
    lay.reset_grid(np.zeros((lay.n_columns, 8), np.float32), lay.columns_per_second)
    window.timeline._build_rows()
    assert "8 bands" in leg.text()
    # View ▸ Lane Legend (Ctrl+L) hides it, the ✕ too; the choice is remembered
    window.acts["legend"].trigger()
    assert not leg.isVisible() and not window.acts["legend"].isChecked()
    window.acts["legend"].trigger()
    assert leg.isVisible()
    leg.close_btn.click()
    assert not leg.isVisible() and not window.acts["legend"].isChecked()
    other = MainWindow(autosave=False, interactive=False)
    qtbot.addWidget(other)
    try:
        assert not other.acts["legend"].isChecked() and not other.timeline.legend_visible
    finally:
        other.shutdown()


def _wheel(qtbot, window, row, notches: int, ctrl: bool = True) -> None:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    glw = window.timeline.glw
    r = row.vb.sceneBoundingRect()
    pos = QPointF(glw.mapFromScene(r.center()))
    mods = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    ev = QWheelEvent(pos, QPointF(glw.viewport().mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120 * notches),
                     Qt.MouseButton.NoButton, mods, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(glw.viewport(), ev)
    qtbot.wait(10)


def test_ctrl_wheel_zooms_the_frequency_axis_and_reset_brings_it_back(qtbot, window, clip):
    open_and_wait(qtbot, window, clip)
    tl = window.timeline
    view = window.doc.timeline.visible
    f0, f1 = tl.mel_frequency_range()
    assert f0 == pytest.approx(0, abs=1) and f1 == pytest.approx(8000, rel=1e-3)
    _wheel(qtbot, window, tl.mel_row, 3)
    g0, g1 = tl.mel_frequency_range()
    assert f0 <= g0 < g1 <= f1 and (g1 - g0) < 0.7 * (f1 - f0)
    assert window.doc.timeline.visible == pytest.approx(view)  # time did not zoom
    lo, hi = tl.mel_row.vb.viewRange()[1]
    assert hi - lo == pytest.approx(0.8 ** 3, rel=1e-3)
    _wheel(qtbot, window, tl.mel_row, -1)  # out again by one notch
    assert tl.mel_row.vb.viewRange()[1][1] - tl.mel_row.vb.viewRange()[1][0] == pytest.approx(0.8 ** 2, rel=1e-3)
    # the axis labels follow: its ticks are the frequencies now in view
    ticks = tl.mel_row.getAxis("left").tickValues(lo, hi, 88)[0][1]
    assert ticks and all(lo <= t <= hi for t in ticks)
    # lanes: Ctrl+wheel zooms bands; a plain wheel still zooms time
    row = next(iter(tl.lane_rows.values()))
    _wheel(qtbot, window, row, 2)
    b0, b1 = row.vb.viewRange()[1]
    assert b1 - b0 < window.doc.active_lane.layout.n_bands - 0.5
    _wheel(qtbot, window, tl.mel_row, 1, ctrl=False)
    assert window.doc.timeline.visible[1] - window.doc.timeline.visible[0] < view[1] - view[0]
    window.acts_reset = [a for a in window.actions() if a.text() == "Reset Frequency Zoom"][0]
    window.acts_reset.trigger()
    assert tl.mel_frequency_range() == pytest.approx((f0, f1), abs=1)
    assert row.vb.viewRange()[1] == pytest.approx([0, window.doc.active_lane.layout.n_bands], abs=1e-6)
    # View ▸ Zoom Frequency In, and a new take keeps the zoom
    [a for a in window.actions() if a.text() == "Zoom Frequency In"][0].trigger()
    span = tl.mel_row.vb.viewRange()[1][1] - tl.mel_row.vb.viewRange()[1][0]
    assert span == pytest.approx(0.8, rel=1e-3)
    tl.refresh_audio()
    assert tl.mel_row.vb.viewRange()[1][1] - tl.mel_row.vb.viewRange()[1][0] == pytest.approx(span)


def test_clip_audio_row_shows_the_clips_own_sound_on_the_shared_time_axis(qtbot, window, clip, silent_clip):
    open_and_wait(qtbot, window, clip)
    tl = window.timeline
    assert tl.clip_row in tl.rows()
    qtbot.waitUntil(lambda: tl.clip_env is not None, timeout=20000)
    # the engine's reader decoded it once, at the player's rate: playback reuses it
    assert window.doc.clip_audio is not None and window.doc.clip_audio[1] == window.playback.player.sample_rate
    x, y = tl.clip_wave.getData()
    assert x is not None and len(x) > 100
    loud = np.abs(y) > 0.1
    # the tone bursts at 0.4 s and 1.2 s (0.25 s each), silence elsewhere
    assert loud.any()
    t_loud = x[loud]
    assert all(0.35 < t < 0.7 or 1.15 < t < 1.5 for t in t_loud)
    assert (np.abs(t_loud - 0.45) < 0.1).any() and (np.abs(t_loud - 1.25) < 0.1).any()
    # the same time axis as the lanes: zoom in and the row shows the zoomed range, at finer detail
    window.doc.timeline.set_view(0.3, 0.6)
    qtbot.wait(60)
    assert tl.clip_row.vb.viewRange()[0] == pytest.approx(tl.ruler.vb.viewRange()[0])
    x2, _ = tl.clip_wave.getData()
    assert x2.min() >= 0.29 and x2.max() <= 0.61 and len(x2) > 100
    assert tl.clip_row.playhead.value() == pytest.approx(window.doc.timeline.playhead)
    # a clip without a sound track has no Clip audio row
    open_and_wait(qtbot, window, silent_clip)
    assert tl.clip_row not in tl.rows() and tl.clip_row.scene() is None
    assert tl.clip_env is None
