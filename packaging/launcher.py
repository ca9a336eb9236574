"""Entry script of the frozen app (PyInstaller runs this file as ``__main__``).

It only dispatches: ``--selftest`` runs :func:`app.selftest.run_selftest` (so the frozen smoke
test works whatever the studio's argument parser does), everything else goes to
:func:`app.main.main`, exactly as the ``v2a-studio`` console script does from a source install.

``V2A_STARTUP_PROBE=1`` (used by packaging/smoke_test.sh): print ``V2A_FIRST_WINDOW <unix time>``
when the first top-level window is exposed, then quit — the cold-start time to first window.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time


def _install_startup_probe() -> None:
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtGui import QWindow
    from PySide6.QtWidgets import QApplication

    qapp = QApplication.instance() or QApplication(sys.argv)

    class _FirstWindow(QObject):
        done = False

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
            if (
                not self.done
                and event.type() == QEvent.Type.Expose
                and isinstance(obj, QWindow)  # the native window of a top-level widget
                and obj.isExposed()
            ):
                self.done = True
                print(f"V2A_FIRST_WINDOW {time.time():.3f} {obj.title()!r}", flush=True)
                QTimer.singleShot(0, qapp.quit)
            return False

    probe = _FirstWindow(qapp)
    qapp.installEventFilter(probe)
    qapp._v2a_probe = probe  # keep it alive


def _entry() -> int:
    multiprocessing.freeze_support()  # torch/data loaders may spawn workers in a frozen exe
    argv = sys.argv[1:]
    if "--selftest" in argv:
        from app.selftest import run_selftest

        return run_selftest([a for a in argv if a != "--selftest"])
    if os.environ.get("V2A_STARTUP_PROBE") == "1":
        _install_startup_probe()
    from app.main import main

    return int(main() or 0)


if __name__ == "__main__":
    sys.exit(_entry())
