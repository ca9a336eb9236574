"""Export: the export dialog, the export job (mixed in the engine process) and the credits of
library recordings the exported takes use."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog

from app.model import mix as mixmod
from app.services import jobs
from app.ui.controllers import Controller
from app.ui.export_dialog import ExportDialog


class ExportController(Controller):
    def credits(self) -> list[tuple[str, list[str]]]:
        """Per audible lane whose picked take uses library recordings: (lane name, credit lines)."""
        return [(ln.name, list(ln.picked_take.meta["credits"])) for ln in mixmod.audible(self.doc.project.lanes)
                if ln.picked_take is not None and ln.picked_take.meta.get("credits")]

    def export_dialog(self) -> None:
        if not self.doc.has_clip:
            return
        dlg = ExportDialog(self.doc.info.path, self.win, credits=bool(self.credits()))
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.export(dlg.spec())

    def export(self, spec: jobs.ExportSpec) -> int | None:
        if not any(ln.picked_take is not None for ln in mixmod.audible(self.doc.project.lanes)):
            self.win.error("Nothing to export", "No audible lane has a picked take yet — generate first.")
            return None
        # A snapshot of what is audible now; mixing and resampling happen in the engine thread.
        sources = [(ln.name, ln.picked_take.audio, ln.picked_take.sample_rate, ln.gain_db)
                   for ln in mixmod.audible(self.doc.project.lanes) if ln.picked_take is not None]

        def done(paths: list[str]) -> None:
            self.status("Exported " + ", ".join(Path(p).name for p in paths), 10000)
            self.win.gen_panel.job_ended(f"Exported {Path(paths[0]).name}")
            self.win.export_done.emit(paths)

        job = jobs.export_job(spec, sources, self.doc.duration, self.credits())
        return self.win.engine.submit(f"Exporting {Path(spec.out).name}", job, done, None)
