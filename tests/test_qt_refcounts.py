"""The Qt binding must not corrupt the reference counts of None/True/False.

PySide6 6.12.0 drops one reference too many to None on each repaint of a Python
``paintEvent`` and to True on ``Signal.emit(True)``; on Python 3.11 the interpreter aborts
("bool_dealloc"/"none_dealloc") once a count reaches zero — within seconds in the studio's GUI
process. pyproject.toml excludes that release; this test catches any binding that regresses.
Run in a subprocess so a fatal abort fails this test instead of killing the test session.
"""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = r"""
import sys
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QApplication, QWidget

app = QApplication([])

class W(QWidget):
    def paintEvent(self, e):
        QPainter(self).end()

class S(QObject):
    sig = Signal(bool)

w = W(); w.resize(64, 64); w.show()
s = S(); s.sig.connect(lambda b: None)
def counts():
    return sys.getrefcount(None), sys.getrefcount(True)
n0, t0 = counts()
for _ in range(5000):
    w.repaint(); s.sig.emit(True)
app.processEvents()
n1, t1 = counts()
print(n1 - n0, t1 - t0)
"""


def test_repaint_and_emit_keep_singleton_refcounts():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, f"the Qt binding aborted the interpreter: {r.stderr[-400:]}"
    d_none, d_true = (int(v) for v in r.stdout.split())
    # 5000 paint+emit rounds: a per-call leak or over-release shows as thousands; allow noise
    assert abs(d_none) < 500 and abs(d_true) < 500, (d_none, d_true)
