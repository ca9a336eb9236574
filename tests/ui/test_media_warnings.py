"""Damaged media in the studio: the engine skips undecodable packets with one warning; the
studio shows it (once per clip) instead of a traceback on stderr or nothing at all."""

from __future__ import annotations

import threading
import warnings

import av
import numpy as np
import pytest

from app.services.media_warnings import MediaWarnings, media_warnings
from engine.api import MediaWarning


def _avi_with_a_bad_ac3_packet(path):
    """2 s of picture + an AC-3 tone in AVI, one audio packet's payload overwritten on disk."""
    c = av.open(str(path), "w")
    v = c.add_stream("mpeg4", rate=25)
    v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
    a = c.add_stream("ac3", rate=48000)
    a.layout = "stereo"
    for i in range(50):
        for p in v.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 4 * i, np.uint8), format="rgb24")):
            c.mux(p)
    t = np.arange(2 * 48000) / 48000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for s in range(0, len(tone), 1536):
        chunk = np.stack([tone[s : s + 1536]] * 2)
        fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
        fr.sample_rate = 48000
        for p in a.encode(fr):
            c.mux(p)
    for st in (v, a):
        for p in st.encode(None):
            c.mux(p)
    c.close()
    with av.open(str(path)) as c:
        pos, size = [(p.pos, p.size) for p in c.demux(c.streams.audio[0]) if p.size][10]
    data = bytearray(path.read_bytes())
    assert data[pos : pos + 2] == b"\x0b\x77"
    data[pos : pos + size] = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def hook(qtbot):
    mw = MediaWarnings()
    mw.install()
    yield mw
    mw.uninstall()


def test_warnings_from_any_thread_reach_the_gui_once_per_clip(qtbot, hook):
    got: list[str] = []
    hook.warned.connect(got.append)

    def reader():
        warnings.warn(MediaWarning("clip.avi: 1 damaged audio packet skipped (silence in its place)"), stacklevel=2)

    for _ in range(2):  # the same message twice: shown once
        th = threading.Thread(target=reader)
        th.start()
        th.join()
    qtbot.waitUntil(lambda: len(got) == 1, timeout=5000)
    qtbot.wait(100)
    assert got == ["clip.avi: 1 damaged audio packet skipped (silence in its place)"]
    hook.reset()  # a new clip: shown again
    reader()
    qtbot.waitUntil(lambda: len(got) == 2, timeout=5000)
    with warnings.catch_warnings(record=True) as other:  # other warnings are not swallowed
        warnings.simplefilter("always")
        warnings.warn(UserWarning("unrelated"), stacklevel=2)
    assert [str(w.message) for w in other] == ["unrelated"]


def test_a_job_in_the_engine_process_sends_its_damaged_media_warning(qtbot, tmp_path):
    """A real job (a layout read from a recording) in the real worker process."""
    from app.services import jobs
    from app.services.engine_client import EngineClient

    bad = _avi_with_a_bad_ac3_packet(tmp_path / "bad.avi")
    got: list[str] = []
    media_warnings().reset()
    media_warnings().warned.connect(got.append)
    client = EngineClient()
    try:
        done: list = []
        client.submit("read", jobs.reference_layout_job(str(bad), 25.0, 5), done.append,
                      lambda m: pytest.fail(m))
        qtbot.waitUntil(lambda: bool(done), timeout=300000)
        qtbot.waitUntil(lambda: bool(got), timeout=10000)
    finally:
        client.shutdown()
        media_warnings().warned.disconnect(got.append)
    assert len(got) == 1 and "bad.avi" in got[0] and "skipped" in got[0]
    assert done[0].shape[1] == 5  # the layout still came back
