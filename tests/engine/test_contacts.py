"""Contact detection (engine.video.contacts) on synthetic clips written with PyAV, and fusion."""

from __future__ import annotations

import numpy as np
import pytest
from media_helpers import BOUNCE_FPS as FPS
from media_helpers import BOUNCES
from media_helpers import write_bounce_clip as write_clip

from engine.errors import Cancelled
from engine.progress import CancelToken
from engine.video import ContactResult, contact_times, contact_times_job, fuse_contacts


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("contacts")
    out = {
        "still_camera": d / "still_camera.mp4",
        "panning": d / "panning.mp4",
        "pan_only": d / "pan_only.mp4",
        "still": d / "still.mp4",
    }
    write_clip(out["still_camera"], pan=(0.0, 0.0))
    write_clip(out["panning"], pan=(2.0, 0.5))
    write_clip(out["pan_only"], pan=(3.0, -2.0), ball=False)
    write_clip(out["still"], still=True)
    return out


@pytest.mark.parametrize("name", ["still_camera", "panning"])
def test_bounces_found_within_one_frame(clips, name):
    r = contact_times(clips[name])
    assert isinstance(r, ContactResult)
    assert r.frame_rate == pytest.approx(FPS)
    frames = r.times * FPS
    for b in BOUNCES:
        assert np.min(np.abs(frames - b)) <= 1.0, (name, frames)
    # nothing in mid-flight or at the tops of the hops: up to frame 45 every contact is at a
    # bounce (the third hop is small and lands at 50; its landing is not asserted)
    for f in frames[frames < 45]:
        assert min(abs(f - b) for b in BOUNCES) <= 1.0, (name, frames)
    assert r.strengths.shape == r.times.shape and np.all((r.strengths > 0) & (r.strengths <= 1))
    assert len(r.motion_curve) == len(r.contact_curve) == 60


def test_camera_pan_alone_gives_no_contact(clips):
    r = contact_times(clips["pan_only"])
    assert len(r.times) == 0
    assert np.all(r.motion_curve < 5.0)  # the pan is removed: little residual motion


def test_still_picture_is_silent(clips):
    r = contact_times(clips["still"])
    assert len(r.times) == 0
    assert r.still_mask().all()


def test_job_reports_progress_and_cancels(clips):
    job = contact_times_job(clips["still"])
    first = next(job)
    assert first.stage == "contacts" and first.total >= 60
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        for _ in contact_times_job(clips["still"], cancel=token):
            pass


# ------------------------------------------------------------------------- fusion ----
def _layout_with_onsets(n=100, cps=25.0, at=(0.4, 2.0), bed=0.2) -> np.ndarray:
    v = np.full((n, 5), bed, np.float32)
    for t in at:
        k = int(t * cps)
        for j in range(4):
            v[k + j] = bed + 0.6 * np.exp(-j / 2) * np.array([1.0, 0.8, 0.6, 0.4, 0.2])
    return v


def _onset_columns(v: np.ndarray, rise: float = 0.15) -> np.ndarray:
    e = v.mean(1)
    return np.flatnonzero(np.diff(e) > rise) + 1


def test_fuse_moves_supported_onset_and_drops_unsupported():
    cps = 25.0
    v = _layout_with_onsets(at=(0.4, 2.0))
    out = fuse_contacts(
        v, cps, [0.52]
    )  # supports the first onset (moved by 120 ms), not the second
    assert out.shape == v.shape and out.dtype == np.float32
    cols = _onset_columns(out)
    assert list(cols) == [int(0.52 * cps)]  # one attack, at the contact's column
    # the bands of T's hit are kept: low band louder than high band at the attack
    k = int(0.52 * cps)
    assert out[k + 1, 0] > out[k + 1, 4]
    # the sustain (bed) is kept where nothing happens
    assert np.allclose(out[60:], 0.2, atol=1e-6)
    assert np.all((out >= 0) & (out <= 1))


def test_fuse_adds_default_hit_where_t_heard_nothing_and_keeps_sustain():
    cps = 25.0
    v = np.full((50, 5), 0.1, np.float32)
    out = fuse_contacts(v, cps, np.array([1.0]), np.array([1.0]))
    k = 25
    assert out[k].mean() > 0.3 and out[k - 1].mean() == pytest.approx(0.1)
    assert out[k + 10].mean() < out[k + 1].mean()  # decays
    assert np.allclose(fuse_contacts(v, cps, []), v)  # no contacts: only the sustain


def test_fuse_attack_area_weighted_inside_a_column_and_still_mask():
    cps = 10.0
    v = np.zeros((20, 5), np.float32)
    early = fuse_contacts(v, cps, [1.0])  # at the start of column 10
    late = fuse_contacts(v, cps, [1.08])  # near its end: less of the hit falls in column 10
    assert early[10].mean() > late[10].mean() > 0
    still = np.zeros(20, bool)
    still[10:] = True
    assert fuse_contacts(v, cps, [1.0], still=still)[10:].max() == 0.0


def test_fuse_accepts_a_contact_result_and_rejects_bad_input():
    r = ContactResult(
        np.array([0.5]),
        np.array([0.5], np.float32),
        np.zeros(3, np.float32),
        np.zeros(3, np.float32),
        25.0,
    )
    out = fuse_contacts(np.zeros((40, 5), np.float32), 25.0, r)
    assert out[int(0.5 * 25)].mean() > 0
    with pytest.raises(ValueError):
        fuse_contacts(np.zeros(10), 25.0, [0.1])
    with pytest.raises(ValueError):
        fuse_contacts(np.zeros((10, 5)), 25.0, [0.1, 0.2], strengths=np.ones(3))


def test_studio_snap_targets_from_the_detector(clips):
    from app.model.snap import contact_peaks_job, contact_targets
    from engine.progress import run_to_completion

    assert list(contact_targets([0.49, 0.21, 0.49], [1.0, 0.1, 1.0], min_strength=0.2, frame_rate=25)) == [0.48]
    targets = run_to_completion(contact_peaks_job(clips["still_camera"]))
    assert np.min(np.abs(targets * FPS - 18)) <= 1.0
