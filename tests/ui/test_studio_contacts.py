"""The studio's "contacts" snapping uses the engine's contact detector (issue 20), and a
clip with a damaged packet says so in the status bar (once) instead of staying silent."""

from __future__ import annotations

from pathlib import Path

from media_helpers import BOUNCE_FPS, BOUNCES, write_bounce_clip
from studio_helpers import open_and_wait

ROOT = Path(__file__).resolve().parents[2]


def test_motion_snapping_lands_on_the_detected_contacts(qtbot, window, tmp_path):
    clip = tmp_path / "bounce.mp4"
    write_bounce_clip(clip, pan=(2.0, 0.5))  # the camera pans: the detector removes it
    open_and_wait(qtbot, window, clip, timeout=300000)
    doc = window.doc
    qtbot.waitUntil(lambda: len(doc.contacts) > 0, timeout=120000)
    for b in BOUNCES:
        assert min(abs(doc.contacts - b / BOUNCE_FPS)) <= 1.0 / BOUNCE_FPS
    doc.tools.set("snap", "contacts")
    near = BOUNCES[0] / BOUNCE_FPS + 0.09  # a click 2 frames after the first bounce
    assert abs(doc.snap(near) - BOUNCES[0] / BOUNCE_FPS) <= 1.0 / BOUNCE_FPS
    assert doc.snap(0.2) == 0.2  # nothing to snap to in mid-fall


def test_a_damaged_audio_packet_is_reported_once_in_the_status_bar(qtbot, window, tmp_path):
    from test_media_warnings import _avi_with_a_bad_ac3_packet

    bad = _avi_with_a_bad_ac3_packet(tmp_path / "damaged.avi")
    window.files.media_warnings.install()  # as at start-up (pytest swaps warning hooks per test phase)
    shown: list[str] = []
    window.statusBar().messageChanged.connect(lambda m: shown.append(m) if m.startswith("⚠") else None)
    open_and_wait(qtbot, window, bad, timeout=300000)
    qtbot.waitUntil(lambda: bool(shown), timeout=60000)  # the Clip audio row read the damaged track
    assert "damaged.avi" in shown[0] and "skipped" in shown[0]
    qtbot.wait(500)
    assert len(shown) == 1
