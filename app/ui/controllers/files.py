"""Files: open a clip or a project, recent files, save / autosave / recovery, drag & drop, and
the services a clip starts once its first frame is shown (thumbnails, motion, its own audio)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.model.layout import LayoutDoc
from app.model.project import Lane, Project, ProjectError
from app.services.autosave import AutosaveSlot, RecentFiles, remove_slot
from app.services.frames import ClipAnalyzer, ThumbnailServer
from app.services.media_warnings import media_warnings
from app.services.sounds import is_sound_file
from app.ui.controllers import Controller
from app.ui.prefs import prefs
from engine.api import V2AError

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

VIDEO_FILTER = "Video or project (*.mp4 *.mov *.mkv *.m4v *.avi *.webm *.v2aproj);;All files (*)"
AUTOSAVE_MS = 30_000


class ClipWork(QObject):
    """One piece of per-clip work off the GUI thread (its own thread), its result handed to
    ``on_result(value_or_exception)`` in the GUI thread — unless another clip was opened (or
    the window is closing) by then."""

    def __init__(self, ctrl: FileController, name: str, on_result: Callable[[object], None], interval: int) -> None:
        super().__init__(ctrl)
        self._ctrl, self._on_result = ctrl, on_result
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: tuple[str, Future] | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(interval)
        self._poll.timeout.connect(self._check)

    def start(self, path: str, fn: Callable[[], object]) -> None:
        self._pending = (path, self._pool.submit(fn))
        self._poll.start()

    def forget(self) -> None:
        self._pending = None

    def _check(self) -> None:
        if self._pending is None:
            self._poll.stop()
            return
        path, fut = self._pending
        if not fut.done():
            return
        self._pending = None
        self._poll.stop()
        win, doc = self._ctrl.win, self._ctrl.doc
        if win.shutting_down or doc.info is None or doc.info.path != path:
            return  # another clip was opened meanwhile
        try:
            value = fut.result()
        except Exception as e:  # noqa: BLE001 - handed over: the caller says what it means
            value = e
        self._on_result(value)

    def shutdown(self) -> None:
        self._poll.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


class FileController(Controller):
    def __init__(self, win: MainWindow, autosave: bool = True) -> None:
        super().__init__(win)
        self.recent = RecentFiles()
        self.autosave_slot = AutosaveSlot() if autosave else None
        self.analyzer: ClipAnalyzer | None = None
        self.thumbs: ThumbnailServer | None = None
        self.pending_start: tuple[str, bool] | None = None  # (clip, predict) until its first frame
        self._autosaved_index = -1
        # The clip's own audio (its waveform row) and its contacts (engine.video's optical-flow
        # detector, for snapping) are worked out off the GUI thread.
        self._audio_work = ClipWork(self, "clip-audio", self._clip_audio_read, 40)
        self._contact_work = ClipWork(self, "contacts", self._contacts_found, 100)
        # Damaged media (skipped packets) read anywhere for this clip: one status-bar line each.
        self.media_warnings = media_warnings()
        self.media_warnings.install()
        self.media_warnings.warned.connect(self._on_media_warning)
        self._warnings_connected = True
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        if autosave:
            self.autosave_timer.start()

    # ---------------------------------------------------------------------------- recent ----
    def fill_recent(self) -> None:
        menu = self.win.recent_menu
        menu.clear()
        items = self.recent.load()
        for p in items:
            a = menu.addAction(p)
            a.triggered.connect(lambda _c=False, path=p: self.open_path(path))
        menu.setEnabled(bool(items))
        self.win.start_page.set_recent(items)

    def _fill_recent_after(self, path: str) -> None:
        self.recent.add(path)
        self.fill_recent()

    # ------------------------------------------------------------------------------ open ----
    def open_folder(self) -> str:
        """Where File ▸ Open starts: the open clip's folder, else the folder a clip was last
        opened from, else the most recent file's."""
        cands = []
        if self.doc.info is not None:
            cands.append(Path(self.doc.info.path).parent)
        last = prefs().value("open/folder")
        if last:
            cands.append(Path(str(last)))
        cands += [Path(p).parent for p in self.recent.load()[:1]]
        for c in cands:
            if c.is_dir():
                return str(c)
        return ""

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.win, "Open clip or project", self.open_folder(), VIDEO_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        """Open a clip or a ``.v2aproj``. Bad files give a dialog naming the file."""
        path = str(path)
        if not self.maybe_keep_changes():
            return False
        try:
            if path.endswith(".v2aproj"):
                ok = self.open_project(Project.load(path))
            else:
                ok = self._open_clip(path)
        except V2AError as e:
            self.win.error("Cannot open file", e.message)
            return False
        if ok:
            self._fill_recent_after(path)
            s = prefs()
            s.setValue("open/folder", str(Path(path).resolve().parent))
            s.sync()
        return ok

    @staticmethod
    def _probe(path: str):
        from engine.api import probe

        info = probe(path)
        if info.video is None:
            raise V2AError("has no video stream — V2A Studio needs a video clip", path)
        if info.video.duration <= 0:
            raise V2AError("the video has zero length", path)
        return info

    def reset_clip_services(self) -> None:
        # A clip whose first frame is still pending must not start its services later.
        self.pending_start = None
        self._audio_work.forget()
        self._contact_work.forget()
        self.media_warnings.reset()  # the next clip's damage is news again
        self.win.edit.last_hit = None
        self.win.playback.stop()
        self.win.generation.cancel_prediction()
        if self.analyzer is not None:
            self.analyzer.close()
            self.analyzer = None
        if self.thumbs is not None:
            self.win.timeline.set_thumbnail_server(None)
            self.thumbs.close()
            self.thumbs = None

    def _open_clip(self, path: str) -> bool:
        info = self._probe(path)
        self.reset_clip_services()
        proj = Project(str(Path(path).resolve()))
        try:  # a new project starts at the steps and guidance its pack recommends
            from engine.api import sampling_defaults

            for k, v in proj.params.pack_changes(sampling_defaults(proj.params.pack)).items():
                setattr(proj.params, k, v)
        except V2AError:  # no such pack here: the built-in defaults; generating will say why
            pass
        proj.add_lane(Lane("Lane 1", self._blank_layout(proj, info.video.duration)))
        self.win.show_editor()
        self.doc.set_project(proj, info)
        self.doc.layout_ready = False
        self._after_load(predict=True)
        return True

    @staticmethod
    def _blank_layout(proj: Project, duration: float) -> LayoutDoc:
        """An empty layout on the grid of the project's pack (its columns/s and bands)."""
        from engine.api import layout_grid

        cps, bands = layout_grid(proj.params.pack)
        return LayoutDoc.empty(duration, bands, cps)

    def open_project(self, proj: Project) -> bool:
        if not proj.clip_path:
            raise ProjectError("the project names no clip", proj.path)
        clip = Path(proj.clip_path)
        if not clip.is_absolute() and proj.path is not None:
            clip = proj.path.resolve().parent / clip
        if not clip.exists():
            raise V2AError(f"the project's clip is missing: {clip}", proj.path)
        info = self._probe(str(clip))
        self.reset_clip_services()
        if not proj.lanes:
            proj.add_lane(Lane("Lane 1", self._blank_layout(proj, info.video.duration)))
        self.win.show_editor()
        self.doc.set_project(proj, info)
        self.doc.layout_ready = True
        self._after_load()
        self.win.timeline.refresh_layouts()
        self.win.layout_shown.emit()
        return True

    def _after_load(self, predict: bool = False) -> None:
        info = self.doc.info
        v = info.video
        # Picture first: thumbnails, motion analysis and layout prediction (which loads torch
        # in the engine thread and competes for the GIL) start once the first frame is shown.
        self.pending_start = (info.path, predict)
        if self.win.viewer.has_frame:
            self._start_background()
        else:  # a clip whose first frame never decodes still gets its layout
            QTimer.singleShot(3000, lambda p=info.path: self.on_first_frame(0.0) if self.pending_start and self.pending_start[0] == p else None)
        self._autosaved_index = -1
        self.win.update_title()
        fps = float(v.fps)
        rot = f", rotated {v.rotation}°" if v.rotation else ""
        dw, dh = v.display_size
        self.status(
            f"Opened {Path(info.path).name}: {dw}×{dh}{rot}, {fps:.3f} fps, {v.duration:.2f} s"
            + ("" if info.audio else ", no audio"), 8000)
        self.win.clip_opened.emit(info.path)

    def on_first_frame(self, _pts: float) -> None:
        if self.pending_start is not None:
            self._start_background()

    def _start_background(self) -> None:
        pending, self.pending_start = self.pending_start, None
        if pending is None or self.win.shutting_down or self.doc.info is None or self.doc.info.path != pending[0]:
            return
        # The filmstrip decodes what the visible range needs (its own thread and reader); the
        # analyzer only computes the motion curve.
        v = self.doc.info.video
        self.thumbs = ThumbnailServer(self.doc.info.path, self.doc.timeline.frame_duration, v.display_size)
        self.win.timeline.set_thumbnail_server(self.thumbs)
        analyzer = self.analyzer = ClipAnalyzer(self.doc.info.path, self.doc.duration)
        # Queued from the analyzer's thread: a result that arrives after the clip changed (or
        # the window shut down) belongs to no document.
        analyzer.motion_ready.connect(lambda t, c: self.doc.set_motion(t, c) if self.analyzer is analyzer else None)
        self._read_clip_audio()
        self._find_contacts()
        if pending[1]:
            self.win.generation.predict_layout()

    # ------------------------------------------------------------------------ clip audio ----
    def _read_clip_audio(self) -> None:
        """The clip's own sound for the timeline's Clip audio row, decoded by the engine's media
        reader off the GUI thread at the player's rate, so *Clip audio* playback reuses it."""
        info = self.doc.info
        if info is None or not info.audio:
            return
        if self.doc.clip_audio is not None:  # already read for playback
            self.win.timeline.set_clip_audio(*self.doc.clip_audio)
            return
        from engine.api import read_audio

        path, sr = info.path, self.win.playback.player.sample_rate
        self._audio_work.start(path, lambda: read_audio(path, sr))

    def _clip_audio_read(self, result: object) -> None:
        timeline = self.win.timeline
        if isinstance(result, Exception):  # a damaged track must not stop the editor
            why = result.message if isinstance(result, V2AError) else str(result)
            timeline.set_clip_audio(None, message=f"Cannot read the clip's audio: {why}")
            return
        audio, sr = result
        if self.doc.clip_audio is None:
            self.doc.clip_audio = (audio, sr)
        timeline.set_clip_audio(audio, sr)

    # -------------------------------------------------------------------------- contacts ----
    def _find_contacts(self) -> None:
        """Snapping targets from the engine's contact detector (the frames where motion stops
        or reverses, camera motion removed), computed once per clip off the GUI thread."""
        from app.model.snap import contact_peaks_job
        from engine.api import run_to_completion

        path = self.doc.info.path
        self._contact_work.start(path, lambda: run_to_completion(contact_peaks_job(path)))

    def _contacts_found(self, result: object) -> None:
        if isinstance(result, Exception):  # snapping falls back to the motion curve's peaks
            self.status(f"Contacts not found ({result}); snapping uses motion peaks", 6000)
            return
        self.doc.set_contacts(result)

    def _on_media_warning(self, message: str) -> None:
        self.status(f"⚠ {message}", 15000)

    # ------------------------------------------------------------------------------ save ----
    def save(self) -> bool:
        if self.doc.project.path is None:
            return self.save_as()
        return self.save_to(self.doc.project.path)

    def save_as(self) -> bool:
        if not self.doc.has_clip:
            return False
        start = self.doc.project.path or Path(self.doc.project.clip_path).with_suffix(".v2aproj")
        path, _ = QFileDialog.getSaveFileName(self.win, "Save project", str(start), "V2A Studio project (*.v2aproj)")
        if not path:
            return False
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        try:
            out = self.doc.project.save(path)
        except (V2AError, OSError) as e:
            self.win.error("Cannot save project", getattr(e, "message", f"{path}: {e}"))
            return False
        self.doc.undo.setClean()
        self._fill_recent_after(str(out))
        self.win.update_title()
        self.status(f"Saved {out}", 5000)
        return True

    def autosave(self) -> Path | None:
        if self.autosave_slot is None or not self.doc.has_clip:
            return None
        idx = self.doc.undo.index()
        if self.doc.undo.isClean() or idx == self._autosaved_index:
            return None
        try:
            out = self.autosave_slot.save(self.doc.project)
        except (V2AError, OSError) as e:
            self.status(f"Autosave failed: {getattr(e, 'message', e)}", 8000)
            return None
        self._autosaved_index = idx
        return out

    def offer_recovery(self) -> bool:
        """After a crash: offer the newest left-over autosave. Returns True if one was opened."""
        left = AutosaveSlot.leftovers(self.autosave_slot.dir if self.autosave_slot else None)
        if not left:
            return False
        left.sort(key=lambda r: r.saved_at)
        rec = left[-1]
        name = rec.original or (Path(rec.clip).name if rec.clip else "untitled")
        ans = QMessageBox.question(
            self.win, "Recover project",
            f"V2A Studio did not close properly last time.\n\nRecover the autosaved work on “{name}”?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard, QMessageBox.StandardButton.Yes)
        opened = False
        if ans == QMessageBox.StandardButton.Yes:
            try:
                proj = Project.load(rec.project)
                proj.path = Path(rec.original) if rec.original else None
                opened = self.open_project(proj)
                if opened:
                    # The recovered state is unsaved work: mark the document dirty.
                    self.doc.undo.resetClean()
                    self.win.update_title()
                    self.status("Recovered the autosaved project — save it to keep it", 10000)
            except V2AError as e:
                self.win.error("Cannot recover", e.message)
        for r in left:
            remove_slot(r.project, r.note)
        return opened

    def maybe_keep_changes(self) -> bool:
        """True when it is fine to replace the current document."""
        if not self.win.interactive or self.doc.undo.isClean() or not self.doc.has_clip:
            return True
        ans = QMessageBox.question(
            self.win, "Unsaved changes", "Save the changes to the current project first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if ans == QMessageBox.StandardButton.Save:
            return self.save()
        return ans == QMessageBox.StandardButton.Discard

    def shutdown(self) -> None:
        """The clip's services and the audio reader stop; the autosave slot is discarded."""
        self.reset_clip_services()
        self._audio_work.shutdown()
        self._contact_work.shutdown()
        if self._warnings_connected:
            self.media_warnings.warned.disconnect(self._on_media_warning)
            self._warnings_connected = False

    def discard_autosave(self) -> None:
        if self.autosave_slot is not None:
            self.autosave_slot.discard()

    # ------------------------------------------------------------------------- drag&drop ----
    def drop_urls(self, urls) -> bool:
        """Files dropped on the window: a recording becomes the active lane's sound, anything
        else opens (the first local file only). True when one was taken."""
        for u in urls:
            if u.isLocalFile():
                path = u.toLocalFile()
                if is_sound_file(path) and self.doc.active_lane is not None:  # a recording: the lane's sound
                    self.win.sounds.set_lane_sound(self.doc.active_lane.id, path)
                else:
                    QTimer.singleShot(0, lambda p=path: self.open_path(p))
                return True
        return False

    def on_timeline_drop(self, path: str, lane_id: str) -> None:
        """A file dropped on the timeline: a recording on a lane becomes its sound; a clip or
        project opens as anywhere else in the window; anything else on a lane is explained."""
        sounds = self.win.sounds
        if lane_id and (is_sound_file(path) or not opens_as_clip(path)):
            sounds.set_lane_sound(lane_id, path)
            return
        if is_sound_file(path) and self.doc.active_lane is not None:
            sounds.set_lane_sound(self.doc.active_lane.id, path)
            return
        QTimer.singleShot(0, lambda: self.open_path(path))


def opens_as_clip(path: str) -> bool:
    """A file the window opens when dropped (a video or a project), by its extension."""
    exts = {e.lstrip("*") for e in VIDEO_FILTER.split("(")[1].split(")")[0].split()}
    return Path(path).suffix.lower() in exts
