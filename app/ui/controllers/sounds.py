"""Sounds: the sound library in the Sounds panel (search in the engine, audition a recording)
and a lane's sound (the library engine's reference), set as one undo step."""

from __future__ import annotations

from pathlib import Path

from app.services import jobs
from app.services.sounds import sound_problem
from app.ui import commands as cmd
from app.ui.controllers import Controller
from engine.api import V2AError, read_sound


class SoundsController(Controller):
    def wire(self) -> None:
        panel = self.win.library_panel
        panel.search.connect(self.search_library)
        panel.audition.connect(self.audition_sound)

    def search_library(self, query: str) -> int:
        """Run a library search in the engine; the Sounds panel shows the rows, or the
        engine's one line (which lists the classes) when nothing matches."""
        panel = self.win.library_panel
        quiet = self.win.generation.quiet_jobs

        def done(rows: list[dict]) -> None:
            quiet.discard(job)
            panel.show_results(query, rows)

        job = self.win.engine.submit(f"Searching sounds for “{query}”", jobs.library_search_job(query, 20), done,
                                     panel.show_message)
        quiet.add(job)
        return job

    def audition_sound(self, row: dict) -> None:
        """Play a library recording on its own (read here: numpy + soundfile, no engine job)."""
        try:
            audio, sr = read_sound(row["path"], float(row.get("start", 0.0)), float(row.get("duration", 0.0)))
        except V2AError as e:
            self.status(f"Cannot play this recording: {e.message}", 8000)
            return
        self.win.playback.audition_sound(audio, sr)
        self.status(f"Auditioning {Path(row['path']).name} ({row.get('class', '')}, "
                    f"{len(audio) / sr:.1f} s, {row.get('license', '')})", 6000)

    def set_lane_sound(self, lane_id: str, path: str) -> bool:
        """A recording becomes a lane's sound (drop on the lane): one undo step, or a message
        saying why the file cannot be one."""
        try:
            lane = self.doc.project.lane(lane_id)
        except KeyError:
            return False
        problem = sound_problem(path)
        if problem is not None:
            self.status(problem, 10000)
            return False
        if lane.reference != path:
            self.doc.undo.push(cmd.lane_reference(lane, path, f"Set sound of {lane.name}"))
        self.status(f"{lane.name}'s sound is now {Path(path).name} (Library engine)", 6000)
        return True
