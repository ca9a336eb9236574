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
