"""Generation: the ``GenerationRequest`` of each lane, engine jobs (generate, regenerate a
region, predict the layout) with their progress / cancel / failure, and the takes they add
(audition, A/B). The engine runs in the worker process behind ``EngineClient`` (DESIGN.md §6)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np

from app.model.project import Lane
from app.services import jobs
from app.ui import commands as cmd
from app.ui.controllers import Controller
from engine.api import GenerationRequest, V2AError, resize_layout

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


class GenerationController(Controller):
    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.engine = win.engine
        self.predict_job: int | None = None
        self.quiet_jobs: set[int] = set()  # jobs whose failure their own panel shows

    def wire(self) -> None:
        """Engine job signals to the Generate panel's job strip; the panels' buttons to here."""
        w, panel = self.win, self.win.gen_panel
        self.engine.job_started.connect(lambda _i, label: panel.job_started(label))
        self.engine.job_progress.connect(lambda _i, s, f: panel.job_progress(s, f))
        self.engine.job_failed.connect(self.on_job_failed)
        self.engine.job_cancelled.connect(self.on_job_cancelled)
        self.engine.job_finished.connect(lambda _i, _r: panel.job_ended("Done"))
        self.engine.engine_state.connect(self.on_engine_state)
        panel.generate.connect(self.generate_lane)
        panel.regenerate_region.connect(self.regenerate_selection)
        panel.cancel.connect(self.cancel_job)
        w.lanes_panel.generate_lane.connect(self.generate_lane)
        w.lanes_panel.generate_all.connect(self.generate_all)
        w.takes_panel.audition.connect(self.audition)
        w.takes_panel.ab.connect(self.ab_switch)

    # ------------------------------------------------------------------------- requests ----
    def request(self, lane: Lane, region: tuple[float, float] | None) -> GenerationRequest:
        """What the engine is asked for one lane. Sampling settings go in only where the editor
        changed them from what the pack recommends; the rest stay None, "the pack's value"
        (the engine resolves them against the pack that runs, e.g. the AR pack's guidance).
        The Auto engine is decided per lane here: the request names the engine that runs."""
        p = self.doc.project.params
        return GenerationRequest(
            video_path=self.doc.info.path,
            layout=lane.layout.to_layout(),
            prompt=lane.prompt,
            negative_prompt=lane.negative_prompt,
            layout_strength=p.layout_strength,
            seed=p.seed,
            takes=p.takes,
            engine=p.engine_for(lane.prompt, lane.reference),
            region=region,
            reference=lane.reference or None,
            **p.sampling_overrides(self.recommended_sampling(p.pack)),
        )

    @staticmethod
    def recommended_sampling(pack: str) -> dict | None:
        """The sampling settings ``pack`` recommends (``engine.api.sampling_defaults``); None
        when its manifest cannot be read (then every setting is passed as shown)."""
        from engine.api import sampling_defaults

        try:
            return sampling_defaults(pack)
        except V2AError:
            return None

    def _next_seed(self) -> None:
        if not self.doc.project.params.seed_locked:
            self.doc.project.set_param("seed", random.randrange(0, 2**31 - 1))

    # ----------------------------------------------------------------------- generating ----
    def generate_lane(self) -> None:
        if self.doc.active_lane is not None:
            self._generate([self.doc.active_lane], None)

    def generate_all(self) -> None:
        self._generate(list(self.doc.project.lanes), None)

    def regenerate_selection(self) -> None:
        lane, sel = self.doc.active_lane, self.doc.timeline.selection
        if lane is None or sel is None:
            self.status("Select the time range to regenerate first", 4000)
            return
        if lane.picked_take is None:
            self.status("Pick a take first: the selection is regenerated inside it", 5000)
            return
        self._generate([lane], sel)

    def _generate(self, lanes: list[Lane], region: tuple[float, float] | None) -> None:
        if not self.doc.has_clip or not lanes:
            return
        if self.engine.busy:
            self.status("The engine is busy — wait or cancel first", 4000)
            return
        self._next_seed()
        items = [(ln.id, ln.name, self.request(ln, region)) for ln in lanes]
        bases = {ln.id: ln.picked_take for ln in lanes if region is not None and ln.picked_take is not None}
        label = "Generating " + (lanes[0].name if len(lanes) == 1 else f"{len(lanes)} lanes") + (" (selection)" if region else "")
        self.engine.submit(label, jobs.generate_job(items, self.doc.project.params.pack, bases),
                           lambda res: self._on_generated(res, region), None)

    def _on_generated(self, result: jobs.GeneratedTakes, region: tuple[float, float] | None) -> None:
        n = 0
        names = {ln.id: ln.name for ln in self.doc.project.lanes}
        self.doc.take_display.update(result.display)
        macro = len(result.takes) > 1
        if macro:
            self.doc.undo.beginMacro("Generate all lanes")
        try:
            for lane_id, recs in result.takes.items():
                try:
                    lane = self.doc.project.lane(lane_id)
                except KeyError:
                    continue  # the lane was deleted while the engine worked
                text = f"Regenerate {region[0]:.2f}–{region[1]:.2f} s" if region else f"Generate {lane.name}"
                self.doc.undo.push(cmd.AddTakesCommand(lane, recs, text))
                n += len(recs)
        finally:
            if macro:
                self.doc.undo.endMacro()
        self.win.gen_panel.job_ended(f"{n} new take{'s' if n != 1 else ''}")
        # Library takes say why they sound as they do ("prompt names footstep", …).
        notes = [f"{names[lid]}: {recs[0].meta['notice']}" for lid, recs in result.takes.items()
                 if recs and recs[0].meta.get("notice") and lid in names]
        seeds = sorted({r.seed for recs in result.takes.values() for r in recs})
        seed_note = f" (seed {seeds[0]}{f'–{seeds[-1]}' if len(seeds) > 1 else ''})" if seeds else ""
        self.status(f"Generated {n} take{'s' if n != 1 else ''}{seed_note}"
                    + (" — " + "; ".join(notes) if notes else ""), 6000 if not notes else 15000)
        self.win.takes_added.emit(n)

    # ---------------------------------------------------------------------- engine jobs ----
    def cancel_job(self) -> None:
        if self.engine.busy:
            self.engine.cancel()
            self.win.gen_panel.stage.setText("Cancelling…")

    def on_job_failed(self, job: int, message: str) -> None:
        self.win.gen_panel.job_ended("Failed")
        self.win.job_failed.emit(message)
        if job in self.quiet_jobs:
            self.quiet_jobs.discard(job)
            return
        self.win.error("Engine", message)

    def on_job_cancelled(self, _job: int) -> None:
        self.win.gen_panel.job_ended("Cancelled")
        self.status("Cancelled", 4000)
        self.win.job_cancelled.emit()

    def on_engine_state(self, state: str, message: str) -> None:
        """Worker process start-up / loss. "Engine ready" never hides a message the editor
        has not read yet (recovery, first-run notes): it only replaces "Loading engine…"."""
        current = self.win.statusBar().currentMessage()
        if state == "error":
            self.status(message, 15000)
        elif state == "loading" and not current:
            self.status(message)
        elif state == "ready" and current in ("", "Loading engine…"):
            self.status(message, 8000)

    # ------------------------------------------------------------------- layout predict ----
    def predict_layout(self) -> None:
        if not self.doc.has_clip:
            return
        lane = self.doc.project.lanes[0]
        job = jobs.predict_layout_job(self.doc.info.path, self.doc.project.params.pack, self.doc.duration,
                                      lane.layout.columns_per_second, lane.layout.n_bands)
        clip = self.doc.info.path
        self.predict_job = self.engine.submit("Predicting layout", job, lambda r: self._on_predicted(clip, r),
                                              lambda m: self._on_predict_failed(clip, m))

    def cancel_prediction(self) -> None:
        if self.predict_job is not None:
            self.engine.cancel(self.predict_job)
            self.predict_job = None

    def _on_predicted(self, clip: str, result: jobs.PredictResult) -> None:
        self.predict_job = None
        if self.doc.info is None or self.doc.info.path != clip:
            return  # a different clip was opened meanwhile
        fresh = self.doc.undo.count() == 0
        for lane in self.doc.project.lanes:
            lay = lane.layout
            vals = np.asarray(result.layout.values, np.float32)
            if fresh:
                # Nothing edited yet: take the predictor's own grid (no resampling loss).
                lay.reset_grid(vals, result.layout.columns_per_second)
                continue
            if vals.shape != lay.values.shape:  # the engine's one grid resize
                vals = resize_layout(vals, lay.n_columns, lay.n_bands).astype(np.float32)
            untouched = np.array_equal(lay.values, lay.predicted)
            lay.set_predicted(vals, replace_values=untouched)
        self.doc.layout_ready = True
        self.win.timeline.refresh_layouts()
        self.status(result.source, 15000)
        self.win.layout_shown.emit()

    def _on_predict_failed(self, clip: str, message: str) -> None:
        self.predict_job = None
        self.doc.layout_ready = True  # the empty layout stays; the user can paint
        self.status(f"Layout prediction failed: {message} — starting from an empty layout", 15000)
        self.win.layout_shown.emit()

    # ---------------------------------------------------------------------------- takes ----
    def audition(self, index: int) -> None:
        lane = self.doc.active_lane
        if lane is None or not (0 <= index < len(lane.takes)):
            return
        if index != lane.picked:
            self.doc.undo.push(cmd.PickTakeCommand(lane, index))
        sel = self.doc.timeline.selection
        playback = self.win.playback
        playback.stop()
        if sel is not None:
            self.doc.timeline.seek(sel[0])
        playback.play(1.0)

    def ab_switch(self) -> None:
        lane = self.doc.active_lane
        if lane is None or lane.previous_pick is None or lane.picked is None:
            return
        playback = self.win.playback
        was_playing = playback.speed == 1.0
        t = self.doc.timeline.playhead
        self.doc.undo.push(cmd.PickTakeCommand(lane, lane.previous_pick))
        if was_playing:  # keep playing from the same instant so the comparison is fair
            playback.stop()
            self.doc.timeline.seek(t)
            playback.play(1.0)
        self.status(f"Now playing take #{lane.picked + 1}", 2500)
