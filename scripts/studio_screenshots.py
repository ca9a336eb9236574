"""The studio screenshots of README.md and docs/STUDIO.md: the real window rendered offscreen
with QWidget.grab() (start page, 1600x900 and 1280x720 with two lanes and generated takes,
the shortcuts sheet, a clip with its own sound).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/studio_screenshots.py docs/images
"""
import os
import sys
import time
from pathlib import Path


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["V2A_CONFIG_DIR"] = str(Path(sys.argv[1]) / ".config")
    os.environ["V2A_STATE_DIR"] = str(Path(sys.argv[1]) / ".state")
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    import numpy as np

    from app.ui import commands as cmd
    from app.ui.main_window import MainWindow, load_style
    load_style(app)
    out = Path(sys.argv[1])

    def pump(sec):
        t = time.time()
        while time.time() - t < sec:
            app.processEvents()
            time.sleep(0.01)

    def wait(cond, limit=600):
        t = time.time()
        while not cond() and time.time() - t < limit:
            pump(0.1)
        assert cond(), "timed out"

    w = MainWindow(autosave=False, interactive=False)
    w.resize(1600, 900)
    w.show()
    pump(0.5)
    w.grab().save(str(out / "studio_start.png"))
    sample = "resources/sample/big_buck_bunny_excerpt.mp4"
    w.open_path(sample)
    wait(lambda: w.viewer.has_frame and w.doc.layout_ready and not w.engine.busy)
    wait(lambda: len(w.doc.motion_peaks) > 0, 60)
    doc = w.doc
    lane = doc.active_lane
    doc.undo.push(cmd.lane_attr(lane, "name", "Footsteps", "Rename lane"))
    doc.undo.push(cmd.lane_attr(lane, "prompt", "footsteps on dirt", "Edit prompt"))
    doc.tools.set("brush_bands", 3.0)
    doc.tools.set("decay", 0.12)
    doc.tools.set("intensity", 0.9)
    peaks = [p for p in doc.motion_peaks if 0.3 < p < doc.duration - 0.3][:5]
    for p in peaks:
        doc.timeline.seek(doc.timeline.snap_to_frame(p))
        w.edit.mark_hit()
    w.lanes_panel._add()
    doc.set_active_lane(1)
    wind = doc.active_lane
    doc.undo.push(cmd.lane_attr(wind, "name", "Wind", "Rename lane"))
    doc.undo.push(cmd.lane_attr(wind, "prompt", "wind through grass", "Edit prompt"))
    lay = wind.layout
    doc.tools.set("brush_bands", 2.0)
    doc.tools.set("brush_seconds", 0.6)
    doc.tools.set("intensity", 0.5)
    lay.begin_stroke()
    br = doc.tools.brush(lay.columns_per_second)
    for t in np.arange(0.4, doc.duration - 0.3, 0.1):
        lay.stamp(t * lay.columns_per_second, 3.3 + 0.4 * np.sin(t * 2), br)
    p = lay.end_stroke()
    doc.undo.push(cmd.PatchCommand(lay, p, "Paint", applied=True))
    doc.set_active_lane(0)
    w.generate_all()
    wait(lambda: not w.engine.busy and all(ln.takes for ln in doc.project.lanes), 900)
    doc.tools.set("tool", "select")
    doc.tools.set("snap", "frames")
    doc.timeline.set_view(0.3, 4.6)
    doc.timeline.set_selection((1.0, 2.0))
    doc.timeline.seek(1.4)
    w.focus_timeline()
    pump(2.0)
    w.grab().save(str(out / "studio_main.png"))
    w.resize(1280, 720)
    pump(1.5)
    w.grab().save(str(out / "studio_1280.png"))
    w.resize(1600, 900)
    pump(0.5)
    w.show_shortcuts()
    pump(0.5)
    w.shortcuts_sheet.resize(620, 760)
    pump(0.5)
    w.shortcuts_sheet.grab().save(str(out / "studio_shortcuts.png"))
    w.shortcuts_sheet.hide()
    # a clip with its own sound: this session's mix exported into the sample clip, reopened
    from app.services.jobs import ExportSpec
    scratch = out / ".bbb_scratch.mp4"
    got = []
    w.export_done.connect(got.append)
    w.export(ExportSpec(source=str(Path(sample).resolve()), out=str(scratch), kind="video", mode="replace",
                        sample_rate=48000, normalize=False, target_lufs=-23.0, stems=False))
    wait(lambda: bool(got), 300)
    w.doc.undo.setClean()
    w.open_path(str(scratch))
    wait(lambda: w.viewer.has_frame and w.doc.layout_ready and not w.engine.busy)
    wait(lambda: w.timeline.clip_env is not None, 60)
    doc.timeline.seek(1.4)
    pump(2.0)
    w.grab().save(str(out / "studio_clip_audio.png"))
    w.shutdown()
    print("ok")


if __name__ == "__main__":
    main()
