"""``v2a-studio`` entry point."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QMainWindow

    argv = list(sys.argv if argv is None else argv)
    qapp = QApplication.instance() or QApplication(argv)
    win = QMainWindow()
    win.setWindowTitle("V2A Studio")
    win.menuBar().addMenu("&File")
    win.resize(1600, 900)
    win.show()
    return qapp.exec()


if __name__ == "__main__":
    sys.exit(main())
