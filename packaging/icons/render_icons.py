"""Render packaging/icons/v2a-studio.svg to the PNG sizes desktops and PyInstaller want.

Run: ``.venv/bin/python packaging/icons/render_icons.py`` (uses Qt's SVG renderer, offscreen).
Writes ``v2a-studio-<N>.png`` for N in SIZES beside the SVG, and ``v2a-studio.ico`` if Pillow
is available (Windows builds).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SVG = HERE / "v2a-studio.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(sizes: tuple[int, ...] = SIZES, out_dir: Path = HERE) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG}: not a valid SVG")
    written = []
    for n in sizes:
        img = QImage(n, n, QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(Qt.GlobalColor.transparent)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(p)
        p.end()
        out = out_dir / f"v2a-studio-{n}.png"
        if not img.save(str(out)):
            raise SystemExit(f"{out}: could not write")
        written.append(out)
    try:
        from PIL import Image

        big = Image.open(out_dir / f"v2a-studio-{max(sizes)}.png")
        big.save(out_dir / "v2a-studio.ico", sizes=[(s, s) for s in sizes if s <= 256])
        written.append(out_dir / "v2a-studio.ico")
    except ImportError:
        pass
    return written


if __name__ == "__main__":
    for path in render():
        print(path)
