"""Edit: layout range edits (copy / paste / delete / reset / nudge / stretch), the selection's
marks, hits at the playhead, snapping events, layout imported from a recording. Every change
is one undo step on the document's stack (DESIGN.md §7)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtWidgets import QFileDialog

from app.services import jobs
from app.ui import commands as cmd
from app.ui.controllers import Controller
from app.ui.toolbar import SNAP_TARGETS

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


class EditController(Controller):
    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.last_hit: tuple[str, float] | None = None  # lane id, time of the last H

    # ---------------------------------------------------------------------- range edits ----
    def _range_patch(self, make, label: str) -> None:
        lane, sel = self.doc.active_lane, self.doc.timeline.selection
        if lane is None or sel is None:
            self.status("Select a time range first (Select tool, drag in a lane)", 4000)
            return
        p = make(lane.layout, sel)
        if p is not None:
            self.doc.undo.push(cmd.PatchCommand(lane.layout, p, label))

    def copy_range(self) -> None:
        lane, sel = self.doc.active_lane, self.doc.timeline.selection
        if lane is not None and sel is not None:
            self.doc.clipboard = lane.layout.copy_range(*sel)
            self.status(f"Copied {sel[1] - sel[0]:.2f} s of layout", 3000)

    def paste_range(self) -> None:
        lane, block = self.doc.active_lane, self.doc.clipboard
        if lane is None or block is None:
            return
        t = self.doc.snap(self.doc.timeline.playhead)
        p = lane.layout.paste(block, t)
        if p is not None:
            self.doc.undo.push(cmd.PatchCommand(lane.layout, p, "Paste layout"))
            self.doc.timeline.set_selection((t, t + block.shape[0] / lane.layout.columns_per_second))

    def delete_range(self) -> None:
        self._range_patch(lambda lay, s: lay.delete_range(*s), "Delete events")

    def reset_range(self) -> None:
        self._range_patch(lambda lay, s: lay.reset_range(*s), "Reset range to predicted")

    def nudge(self, frames: int) -> None:
        """Move the selected layout range by whole video frames (and the selection with it)."""
        sel = self.doc.timeline.selection
        dt = frames * self.doc.timeline.frame_duration
        self._range_patch(lambda lay, s: lay.move_range(s[0], s[1], dt), f"Nudge {frames:+d} frame")
        if sel is not None:
            self.doc.timeline.set_selection((sel[0] + dt, sel[1] + dt))

    def stretch(self, factor: float) -> None:
        sel = self.doc.timeline.selection
        if sel is None:
            return
        new_end = self.doc.snap(sel[0] + (sel[1] - sel[0]) * factor)
        self._range_patch(lambda lay, s: lay.stretch_range(s[0], s[1], new_end), "Stretch range")
        self.doc.timeline.set_selection((sel[0], new_end))

    def snap_events(self) -> None:
        """S: move each event in the selection onto the snap target; the status bar says how
        many moved and onto what."""
        mode = self.doc.tools.snap
        lane, sel = self.doc.active_lane, self.doc.timeline.selection
        if mode == "off":
            self.status("Snap is off — choose frames, motion peaks or contacts in the tool bar (Snap)", 5000)
            return
        if lane is None or sel is None:
            self.status("Select a time range first: S snaps the events inside it", 4000)
            return
        target = SNAP_TARGETS[mode]
        if mode == "motion" and not len(self.doc.motion_peaks):
            self.status("No motion peaks yet: the motion curve is still being computed", 5000)
            return
        if mode == "contacts" and not len(self.doc.contacts):
            self.status("No contacts: the detector is still running or found none in this clip", 5000)
            return
        lay = lane.layout
        onsets = [t for t in lay.event_times() if sel[0] - 1e-9 <= t <= sel[1] + 1e-9]
        moved = [abs(shift) / lay.columns_per_second for _t, shift in lay.snap_moves(sel[0], sel[1], self.doc.snap)]
        p = lay.snap_events(sel[0], sel[1], self.doc.snap) if moved else None
        if p is not None:
            self.doc.undo.push(cmd.PatchCommand(lane.layout, p, f"Snap events to {target}"))
        if not onsets:
            msg = "No events in the selection to snap"
        elif not moved:
            msg = f"All {len(onsets)} event{'s' if len(onsets) != 1 else ''} in the selection already on {target}"
        else:
            msg = (f"Snapped {len(moved)} of {len(onsets)} event{'s' if len(onsets) != 1 else ''} to {target} "
                   f"(largest move {1000 * max(moved):.0f} ms)")
        self.status(msg, 6000)

    # --------------------------------------------------------------------- hits & marks ----
    def mark_hit(self) -> None:
        """H: a sound event at the playhead with the Event tool's decay, intensity and band
        height (centred on the lane), as one undo step — spot hits while stepping frames."""
        lane = self.doc.active_lane
        if lane is None or not self.doc.has_clip:
            return
        lay, tools = lane.layout, self.doc.tools
        t = self.doc.timeline.playhead
        half = max(0.0, tools.brush_bands / 2 - 0.5)
        mid = lay.n_bands / 2
        lo, hi = max(0, int(np.floor(mid - half))), min(lay.n_bands - 1, int(np.floor(mid + half)))
        lay.begin_stroke()
        lay.stamp_event(t, tools.decay, lo, hi, min(1.0, tools.intensity))
        p = lay.end_stroke()
        if p is not None:
            self.doc.undo.push(cmd.PatchCommand(lay, p, "Mark hit", applied=True))
        self.last_hit = (lane.id, t)
        self.status(f"Hit at {self.doc.timeline.timecode(t)} on {lane.name} (, and . nudge it by a frame)", 4000)

    def nudge_events(self, frames: int) -> None:
        """, / .: move the events in the selection — or else the last marked hit — by whole
        video frames, one undo step each."""
        lane, sel = self.doc.active_lane, self.doc.timeline.selection
        if lane is None:
            return
        lay = lane.layout
        dt = frames * self.doc.timeline.frame_duration
        onsets = lay.event_times()
        if sel is not None and any(sel[0] - 1e-9 <= t <= sel[1] + 1e-9 for t in onsets):
            rng, what = sel, "events in the selection"
        elif self.last_hit is not None and self.last_hit[0] == lane.id and onsets:
            # The hit's onset sits at the start of the column holding its time.
            t_hit = self.last_hit[1]
            near = min(onsets, key=lambda t: abs(t - t_hit))
            if abs(near - t_hit) > 1.5 / lay.columns_per_second:
                self.status("The last marked hit is gone — select the events to nudge", 4000)
                return
            rng, what = (near, near), "the last hit"
        else:
            self.status("Select events (or mark a hit with H) to nudge them", 4000)
            return
        p = lay.nudge_events(rng[0], rng[1], dt)
        if p is None:
            return
        self.doc.undo.push(cmd.PatchCommand(lay, p, f"Nudge {'hit' if rng[0] == rng[1] else 'events'} {frames:+d} frame"))
        if rng is sel:
            self.doc.timeline.set_selection((sel[0] + dt, sel[1] + dt))
        else:
            self.last_hit = (lane.id, self.last_hit[1] + dt)
        self.status(f"Nudged {what} {frames:+d} frame ({1000 * dt:+.0f} ms)", 3000)

    def mark_in(self) -> None:
        """I: the selection starts at the playhead (it keeps its end when that is later)."""
        tl = self.doc.timeline
        t = tl.playhead
        end = tl.selection[1] if tl.selection is not None and tl.selection[1] > t else tl.duration
        tl.set_selection((t, end))

    def mark_out(self) -> None:
        """O: the selection ends at the playhead (it keeps its start when that is earlier)."""
        tl = self.doc.timeline
        t = tl.playhead
        start = tl.selection[0] if tl.selection is not None and tl.selection[0] < t else 0.0
        tl.set_selection((start, t))

    def select_all(self) -> None:
        self.doc.timeline.set_selection((0, self.doc.duration))

    def escape(self) -> None:
        self.doc.timeline.set_selection(None)

    # ------------------------------------------------------------ layout from recording ----
    def import_reference(self) -> None:
        if self.doc.active_lane is None:
            return
        path, _ = QFileDialog.getOpenFileName(self.win, "Reference recording", "", "Audio or video (*.wav *.flac *.mp3 *.ogg *.m4a *.mp4 *.mov *.mkv);;All files (*)")
        if path:
            self.import_reference_from(path)

    def import_reference_from(self, path: str) -> None:
        """Dubbing workflow: the recording's layout lands at the playhead, as one undo step."""
        lane = self.doc.active_lane
        if lane is None:
            return
        t = self.doc.snap(self.doc.timeline.playhead)
        lane_id = lane.id

        def done(block: np.ndarray) -> None:
            try:
                ln = self.doc.project.lane(lane_id)
            except KeyError:
                return
            p = ln.layout.import_block(block, t)
            if p is not None:
                self.doc.undo.push(cmd.PatchCommand(ln.layout, p, "Import layout from recording"))
            dur = block.shape[0] / ln.layout.columns_per_second
            self.doc.timeline.set_selection((t, min(self.doc.duration, t + dur)))
            self.status(f"Imported {dur:.2f} s of layout from {Path(path).name} at {self.doc.timeline.timecode(t)}", 6000)

        self.win.engine.submit(f"Reading {Path(path).name}", jobs.reference_layout_job(path, lane.layout.columns_per_second, lane.layout.n_bands),
                               done, lambda m: self.win.error("Cannot import recording", m))
