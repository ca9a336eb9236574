"""Output problems are one line, exit 2, nothing left behind (issue 21): a read-only folder, a
full disk, a bad suffix (all before any long work), and temporaries of a killed writer."""

from __future__ import annotations

import errno
import importlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from media_helpers import make_clip

import app.services.jobs as jobs
import engine.cli.generate_cmd as generate_cmd
import engine.generation as generation
import engine.media
import engine.safe_write as safe_write
from engine.audio import save_layout
from engine.cli.main import main
from engine.errors import OutputError
from engine.media import write_audio
from engine.progress import CancelToken, run_to_completion
from engine.types import AudioLayout, Take

ROOT = Path(__file__).resolve().parents[2]
mux_mod = importlib.import_module("engine.media.mux")  # engine.media.mux is also the function


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A one-second clip with a sound track (layout reads it, mux and generate take it)."""
    return make_clip(tmp_path_factory.mktemp("clip") / "c.mp4", n_frames=25, fps=25, audio_channels=1).path


@pytest.fixture
def no_long_work(monkeypatch):
    """Any pack load or decode fails the test: refusals must come before the long work."""

    def boom(*a, **k):
        raise AssertionError("long work started before the output was refused")

    monkeypatch.setattr(generate_cmd, "load_any_pack", boom)
    monkeypatch.setattr(generation, "load_pack", boom)
    monkeypatch.setattr(engine.media, "read_audio", boom)  # `v2a layout` decodes through this
    monkeypatch.setattr(mux_mod, "read_audio", boom)
    monkeypatch.setattr(jobs, "resample", boom)  # the export renders its mix with this


def _one_line(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("v2a: error: ") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


def _argv(command: str, clip: Path, out: Path, png: Path | None = None) -> list[str]:
    extra = ["--png", str(png)] if png else []
    if command == "mux":
        return ["mux", str(clip), str(clip), "-o", str(out)]
    return [command, str(clip), "-o", str(out), *extra, *(["--quiet"] if command != "layout" else [])]


OUT_NAME = {"mux": "o.mp4", "generate": "o.wav", "layout": "o.npy", "predict-layout": "o.npy"}
COMMANDS = list(OUT_NAME)


# ------------------------------------------------------------------ read-only folder


def _sys_is_read_only() -> bool:
    try:
        fd, p = tempfile.mkstemp(dir="/sys")
    except OSError:
        return True
    os.close(fd)
    os.unlink(p)
    return False


@pytest.mark.skipif(not Path("/sys").is_dir() or not _sys_is_read_only(), reason="needs a /sys that refuses files")
@pytest.mark.parametrize("command", COMMANDS)
def test_output_into_a_folder_that_refuses_files(command, clip, capsys, no_long_work):
    # sysfs refuses new files even to root (for whom os.access says yes): a real refusal.
    out = Path("/sys") / OUT_NAME[command]
    assert main(_argv(command, clip, out)) == 2
    _one_line(capsys, str(out), "folder is not writable")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("err", [errno.EACCES, errno.EROFS])
def test_read_only_folder_is_refused_before_any_work(command, err, clip, tmp_path, capsys, monkeypatch, no_long_work):
    real = tempfile.mkstemp

    def refuse(*a, dir=None, **k):  # tests run as root: make this folder say what a read-only one says
        if dir is not None and Path(dir) == tmp_path:
            raise OSError(err, os.strerror(err))
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    out = tmp_path / OUT_NAME[command]
    assert main(_argv(command, clip, out)) == 2
    _one_line(capsys, str(out), "folder is not writable", os.strerror(err))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ full disk


@pytest.fixture
def full_disk(monkeypatch):
    """Every temporary output is /dev/full: real writes (libsndfile, numpy, Python, FFmpeg)
    fail with the kernel's ENOSPC, as on a full disk."""
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    real = safe_write._make_temp

    def make(out_p):
        tmp = real(out_p)
        tmp.unlink()
        tmp.symlink_to("/dev/full")
        return tmp

    monkeypatch.setattr(safe_write, "_make_temp", make)


def _only(folder: Path, *names: str) -> None:
    """Nothing but ``names`` in ``folder``: no output, no partial, no hidden temporary."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_full_disk_writing_audio(suffix, tmp_path, full_disk):
    out = tmp_path / f"a{suffix}"
    with pytest.raises(OutputError, match=f"no space left on the device while writing {out}"):
        write_audio(out, np.zeros(48000, np.float32), 48000)
    _only(tmp_path)


def test_full_disk_writing_a_layout_keeps_the_old_one(tmp_path, full_disk, monkeypatch):
    out = tmp_path / "l.npy"
    out.write_bytes(b"old")
    with pytest.raises(OutputError, match="no space left on the device while writing .*l.npy"):
        save_layout(AudioLayout(np.zeros((10, 5), np.float32)), out)
    _only(tmp_path, "l.npy")
    assert out.read_bytes() == b"old"


def test_full_disk_in_mux(clip, tmp_path, full_disk, capsys):
    out = tmp_path / "o.mkv"
    assert main(["mux", str(clip), str(clip), "-o", str(out)]) == 2
    _one_line(capsys, "no space left on the device while writing", str(out))
    _only(tmp_path)


def _fake_engine(monkeypatch):
    lay = AudioLayout(np.full((10, 5), 0.5, np.float32))

    def gen(req, pack, cache_dir=None):
        yield from ()
        return [Take(np.zeros(16000, np.float32), 16000, 0, lay, "diffusion")]

    def predict(video, pack, cache_dir=None):
        yield from ()
        return lay

    monkeypatch.setattr(generate_cmd, "load_any_pack", lambda *a, **k: object())
    monkeypatch.setattr(generation, "load_pack", lambda *a, **k: object())
    monkeypatch.setattr(generation, "generate", gen)
    monkeypatch.setattr(generation, "predict_layout", predict)


@pytest.mark.parametrize("command,name", [("generate", "o.wav"), ("generate", "o.flac"), ("predict-layout", "o.npy")])
def test_full_disk_cli_outputs(command, name, clip, tmp_path, full_disk, monkeypatch, capsys):
    _fake_engine(monkeypatch)
    out = tmp_path / name
    assert main([command, str(clip), "-o", str(out), "--quiet"]) == 2
    _one_line(capsys, f"no space left on the device while writing {out}")
    _only(tmp_path)


def test_fake_engine_writes_when_there_is_room(clip, tmp_path, monkeypatch, capsys):
    """The full-disk cases above fail at the write, not earlier."""
    _fake_engine(monkeypatch)
    assert main(["generate", str(clip), "-o", str(tmp_path / "o.flac"), "--quiet"]) == 0
    assert main(["predict-layout", str(clip), "-o", str(tmp_path / "o.npy"), "--quiet"]) == 0
    _only(tmp_path, "o.flac", "o.npy", "o.json")


def test_libsndfile_failing_mid_write_is_explained(tmp_path):
    """A real partial write: the file size limit (EFBIG) stops libsndfile 50 kB in; libsndfile
    says only "System error", the error names the real cause and the partial file is gone."""
    code = (
        "import resource, signal, sys, numpy as np\n"
        "from engine.media import write_audio\n"
        "from engine.errors import OutputError\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, (50000, {resource.RLIM_INFINITY}))\n"
        "try:\n"
        "    write_audio(sys.argv[1], np.random.default_rng(0).random(100000, np.float32) - 0.5, 16000)\n"
        "except OutputError as e:\n"
        "    print(e)\n"
    )
    out = tmp_path / "a.flac"
    r = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"file too large for the device or the file size limit while writing {out}"
    _only(tmp_path)


# ------------------------------------------------------------------ killed writer


KILLED_WRITER = (
    "import sys, time\n"
    "from engine.safe_write import atomic_output\n"
    "with atomic_output(sys.argv[1]) as tmp:\n"
    "    tmp.write_bytes(b'half a take')\n"
    "    print(tmp.name, flush=True)\n"
    "    time.sleep(60)\n"
)


def test_temp_of_a_killed_writer_is_cleaned_by_the_next_write(tmp_path):
    out = tmp_path / "take.wav"
    p = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        name = p.stdout.readline().strip()
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        p.stdout.close()
    stale = tmp_path / name
    assert name.startswith(".take.v2a-") and name.endswith(".wav") and stale.read_bytes() == b"half a take"
    # Not ours to remove: other dotfiles, another output's temp, a temp of a live writer (us).
    keep = [".take.wav.swp", ".take.v2a-x-abcdefgh.wav", ".other.v2a-999999999-abcdefgh.wav",
            f".take.v2a-{os.getpid()}-abcdefgh.wav", ".take.v2a-999999999-abcdefgh.wav.part"]
    for k in keep:
        (tmp_path / k).write_bytes(b"x")
    write_audio(out, np.zeros(1600, np.float32), 16000)
    assert not stale.exists()
    _only(tmp_path, "take.wav", *keep)
    assert sf.info(str(out)).frames == 1600


# ------------------------------------------------------------------ bad suffix


@pytest.mark.parametrize(
    "command,out,png,words",
    [
        ("generate", "o.avi", None, "output must end in .wav, .flac, .mp4"),
        ("generate", "o", None, "(got no suffix)"),
        ("mux", "o.avi", None, "unsupported output container .avi"),
        ("layout", "o.txt", None, "must end in .npy"),
        ("layout", "o.npy", "o.jpg", "output must end in .png (got .jpg)"),
        ("predict-layout", "o.txt", None, "must end in .npy"),
        ("predict-layout", "o.npy", "o.jpg", "output must end in .png (got .jpg)"),
    ],
)
def test_bad_suffix_is_refused_before_any_work(command, out, png, words, clip, tmp_path, capsys, no_long_work):
    argv = _argv(command, clip, tmp_path / out, tmp_path / png if png else None)
    assert main(argv) == 2
    _one_line(capsys, words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind,name", [("video", "mix.avi"), ("wav", "mix.flac"), ("flac", "mix.wav")])
def test_export_bad_suffix_is_refused_before_rendering(kind, name, clip, tmp_path, no_long_work):
    spec = jobs.ExportSpec(source=str(clip), out=str(tmp_path / name), kind=kind)
    job = jobs.export_job(spec, [("lane", np.zeros(4800, np.float32), 48000, 0.0)], 0.1)
    with pytest.raises(OutputError, match="output must end in"):
        run_to_completion(job(None, CancelToken()))
    assert list(tmp_path.iterdir()) == []
