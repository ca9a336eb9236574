"""Packaging and first run: the PyInstaller spec, engine.paths, app.firstrun, the self-test's
export check and the frozen entry script. No PyInstaller or network needed."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import types
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine import paths
from engine.errors import V2AError

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "v2a-studio.spec"
PATH_ENV = (
    "V2A_HOME", "V2A_PACKS_DIR", "V2A_CACHE_DIR", "V2A_CONFIG_DIR", "V2A_STATE_DIR",
    "V2A_LOG_DIR", "V2A_RESOURCES", "V2A_PACK_PATH", "V2A_PACKS",
)


@pytest.fixture
def clean_env(monkeypatch):
    for k in PATH_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    monkeypatch.delattr(sys, "frozen", raising=False)
    return monkeypatch


# ---------------------------------------------------------------- the spec


class _FakeAnalysis:
    instances: list[_FakeAnalysis] = []

    def __init__(self, scripts, **kw):
        self.scripts_in = scripts
        self.kw = kw
        self.datas = list(kw["datas"])
        self.binaries = [
            ("nvidia/cu13/lib/libcudart.so.13", "/x/libcudart.so.13", "BINARY"),
            ("nvidia/cu13/lib/libcublasLt.so.13", "/x/libcublasLt.so.13", "BINARY"),
            ("nvidia/cudnn/lib/libcudnn.so.9", "/x/libcudnn.so.9", "BINARY"),
            ("nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9", "/x/e.so.9", "BINARY"),
            ("nvidia/cu13/lib/libcusolver.so.12", "/x/libcusolver.so.12", "BINARY"),
            ("torch/lib/libtorch_cuda_linalg.so", "/x/linalg.so", "BINARY"),
            ("torch/lib/libtorch_cuda.so", "/x/libtorch_cuda.so", "BINARY"),
            ("nvidia/nvshmem/lib/libnvshmem_device.a", "/x/dev.a", "BINARY"),
        ]
        self.pure, self.scripts = [], []
        _FakeAnalysis.instances.append(self)


def _run_spec(monkeypatch, flavour: str = "full") -> dict:
    """Execute the spec with PyInstaller's build objects replaced by recorders."""
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda name, **kw: [f"{name}.fake_submodule"]
    hooks.collect_data_files = lambda name, **kw: []
    hooks.collect_dynamic_libs = lambda name, **kw: [(f"/site/{name}/_C_stable.so", name)]
    hooks.copy_metadata = lambda name, **kw: [(f"/site/{name}.dist-info/METADATA", f"{name}.dist-info")]
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    monkeypatch.setenv("V2A_BUNDLE_CUDA", flavour)
    monkeypatch.delenv("V2A_BUNDLE_NAME", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the spec prepends the repo root
    recorded: dict = {}
    ns = {
        "SPECPATH": str(SPEC.parent),
        "__file__": str(SPEC),
        "Analysis": _FakeAnalysis,
        "PYZ": lambda pure: ("PYZ", pure),
        "EXE": lambda *a, **kw: recorded.setdefault("exe", kw) and ("EXE", kw),
        "COLLECT": lambda *a, **kw: recorded.setdefault("collect", (a, kw)),
    }
    exec(compile(SPEC.read_text(), str(SPEC), "exec"), ns)
    ns["_recorded"] = recorded
    ns["_analysis"] = _FakeAnalysis.instances[-1]
    return ns


def test_license_is_an_spdx_expression_with_its_text():
    # setuptools stops accepting the `license = {text = ...}` table on 2027-02-18
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = doc["project"]
    assert isinstance(project["license"], str) and project["license"] == "Apache-2.0"
    assert all((ROOT / f).is_file() for f in project["license-files"])
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]
    assert any(r.startswith("setuptools>=7") and int(r.split(">=")[1].split(".")[0]) >= 77
               for r in doc["build-system"]["requires"])


def test_spec_reads_name_and_version_from_pyproject(monkeypatch):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    ns = _run_spec(monkeypatch)
    assert (ns["APP_NAME"], ns["APP_VERSION"]) == (project["name"], project["version"])
    assert ns["_recorded"]["exe"]["name"] == project["name"]
    assert ns["_recorded"]["collect"][1]["name"] == project["name"]
    assert ns["_analysis"].scripts_in == [str(ROOT / "packaging" / "launcher.py")]


def test_spec_bundles_every_resource_file_in_place(monkeypatch):
    ns = _run_spec(monkeypatch)
    datas = ns["_analysis"].datas
    bundled = {Path(dest) / Path(src).name for src, dest in datas}
    res = ROOT / "resources"
    expected = {
        Path("resources") / p.relative_to(res)
        for p in res.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert expected, "resources/ is empty"
    assert expected <= bundled, f"not bundled: {sorted(expected - bundled)[:5]}"
    # The sample clip and the starter pack are what --selftest needs.
    assert any(p.suffix == ".mp4" and p.parts[1].startswith("sample") for p in bundled)
    starter = res / "packs" / "starter"
    if starter.is_dir():  # the pack engineer commits it; when present it must be bundled whole
        assert Path("resources/packs/starter/pack.json") in bundled
    for src, _ in datas:
        if not src.startswith("/site/"):  # (the stub's metadata entries)
            assert Path(src).is_file(), src
    assert not any(p.name.endswith(".pyc") for p in bundled)
    assert (Path(".") / "pyproject.toml") in bundled
    assert (Path(".") / "LICENSE") in bundled  # the program's license text


def test_spec_leaves_out_unused_qt_and_heavy_modules(monkeypatch):
    ns = _run_spec(monkeypatch)
    excludes = set(ns["_analysis"].kw["excludes"])
    for mod in ("PySide6.QtWebEngineCore", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.Qt3DCore",
                "PySide6.QtCharts", "triton", "tkinter", "pytest", "librosa"):
        assert mod in excludes, mod
    app_src = "\n".join(p.read_text() for p in (ROOT / "app").rglob("*.py"))
    for needed in ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtOpenGL",
                   "PySide6.QtSvg", "PySide6.QtTest", "torch", "sounddevice", "av"):
        assert needed not in excludes, needed
    if "QtMultimedia" in app_src:
        assert "PySide6.QtMultimedia" not in excludes
    dests = {dest for _, dest in ns["_analysis"].datas}
    assert {"torch.dist-info", "diffusers.dist-info"} <= dests  # diffusers checks torch's version
    hidden = ns["_analysis"].kw["hiddenimports"]
    assert "app.fake_submodule" in hidden and "engine.fake_submodule" in hidden


def test_spec_cpu_flavour_drops_only_lazily_loaded_cuda_libs(monkeypatch):
    full_ns, cpu_ns = _run_spec(monkeypatch, "full"), _run_spec(monkeypatch, "cpu")
    full = [b[0] for b in full_ns["_analysis"].binaries]
    cpu = [b[0] for b in cpu_ns["_analysis"].binaries]
    # nvrtc's dlopen'ed builtins ride along only in the GPU build (when the nvidia wheels exist)
    # torchvision's ops library is not an extension module: it must be collected explicitly
    assert ("/site/torchvision/_C_stable.so", "torchvision") in cpu_ns["_analysis"].kw["binaries"]
    assert [b for b in cpu_ns["_analysis"].kw["binaries"] if "nvrtc" in b[0]] == []
    for src, dest in full_ns["_analysis"].kw["binaries"]:
        if "torchvision" not in src:
            assert "libnvrtc-builtins" in src and Path(src).is_file() and dest.startswith("nvidia")
    # libtorch.so links these: without them `import torch` fails even on a CPU-only machine.
    for must in ("libcudart.so.13", "libcublasLt.so.13", "libcudnn.so.9", "libtorch_cuda.so"):
        assert any(b.endswith(must) for b in full) and any(b.endswith(must) for b in cpu), must
    for lazy in ("libcudnn_engines_precompiled.so.9", "libcusolver.so.12", "libtorch_cuda_linalg.so"):
        assert any(b.endswith(lazy) for b in full)
        assert not any(b.endswith(lazy) for b in cpu), lazy
    assert not any(b.endswith(".a") for b in full)  # static archives never ship
    with pytest.raises(SystemExit):
        _run_spec(monkeypatch, "tiny")


def test_desktop_entry_and_icons():
    entry = (ROOT / "packaging" / "linux" / "v2a-studio.desktop").read_text().splitlines()
    assert entry[0] == "[Desktop Entry]"
    kv = dict(line.split("=", 1) for line in entry[1:] if "=" in line)
    assert kv["Type"] == "Application" and kv["Name"] == "V2A Studio"
    assert kv["Exec"].split()[0] == "v2a-studio" and kv["Icon"] == "v2a-studio"
    assert kv["Categories"].endswith(";") and "AudioVideo" in kv["Categories"]
    icons = ROOT / "packaging" / "icons"
    assert (icons / "v2a-studio.svg").read_text().lstrip().startswith("<?xml")
    for n in (16, 32, 48, 64, 128, 256, 512):
        data = (icons / f"v2a-studio-{n}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (w, h) == (n, n)


# ---------------------------------------------------------------- engine.paths


def test_paths_follow_platform_conventions(clean_env, tmp_path):
    if sys.platform.startswith("linux"):
        clean_env.setenv("XDG_DATA_HOME", str(tmp_path / "xd"))
        clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xc"))
        clean_env.setenv("XDG_CONFIG_HOME", str(tmp_path / "xf"))
        clean_env.setenv("XDG_STATE_HOME", str(tmp_path / "xs"))
        assert paths.user_packs_dir() == tmp_path / "xd" / "v2a-studio" / "packs"
        assert paths.features_cache_dir() == tmp_path / "xc" / "v2a-studio" / "features"
        assert paths.settings_file() == tmp_path / "xf" / "v2a-studio" / "settings.json"
        assert paths.autosave_dir() == tmp_path / "xs" / "v2a-studio" / "autosave"
        assert paths.log_dir().is_relative_to(tmp_path / "xs" / "v2a-studio")
    for p in (paths.user_packs_dir(), paths.cache_dir(), paths.config_dir(), paths.log_dir()):
        assert "v2a-studio" in p.parts
        assert not p.exists()  # asking never creates


def test_v2a_home_moves_everything_and_specific_overrides_win(clean_env, tmp_path):
    home = tmp_path / "home"
    clean_env.setenv("V2A_HOME", str(home))
    assert paths.user_data_dir() == home
    assert paths.user_packs_dir() == home / "packs"
    assert paths.cache_dir() == home / "cache"
    assert paths.features_cache_dir() == home / "cache" / "features"
    assert paths.settings_file() == home / "config" / "settings.json"
    assert paths.autosave_dir() == home / "state" / "autosave"
    assert paths.log_dir() == home / "logs"
    clean_env.setenv("V2A_CACHE_DIR", str(tmp_path / "fastdisk"))
    clean_env.setenv("V2A_PACKS_DIR", str(tmp_path / "models"))
    assert paths.cache_dir() == tmp_path / "fastdisk"
    assert paths.user_packs_dir() == tmp_path / "models"
    assert paths.config_dir() == home / "config"  # the others still follow V2A_HOME
    made = paths.autosave_dir(ensure=True)
    assert made.is_dir() and made.is_relative_to(home)
    desc = paths.describe()
    assert desc["caches"] == str(tmp_path / "fastdisk")
    assert desc["bundled resources"] == str(ROOT / "resources")


def test_pack_search_dirs_user_first_then_extra_then_bundled(clean_env, tmp_path):
    clean_env.setenv("V2A_PACKS_DIR", str(tmp_path / "mine"))
    clean_env.setenv("V2A_PACK_PATH", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    assert paths.pack_search_dirs() == [
        tmp_path / "a", tmp_path / "b", tmp_path / "mine", ROOT / "resources" / "packs"
    ]


def test_resource_path_in_source_tree(clean_env):
    assert paths.resources_root() == ROOT / "resources"
    sample = paths.resource_path("sample")
    assert sample.is_dir() and any(sample.glob("*.mp4"))
    assert paths.bundled_packs_dir() == ROOT / "resources" / "packs"
    assert not paths.is_frozen()


def test_resource_path_in_fake_pyinstaller_bundle(clean_env, tmp_path):
    meipass = tmp_path / "_internal"
    (meipass / "resources" / "packs" / "starter").mkdir(parents=True)
    (meipass / "resources" / "packs" / "starter" / "pack.json").write_text("{}")
    clean_env.setattr(sys, "_MEIPASS", str(meipass), raising=False)
    clean_env.setattr(sys, "frozen", True, raising=False)
    assert paths.is_frozen()
    assert paths.resources_root() == meipass / "resources"
    assert paths.resource_path("packs", "starter", "pack.json").read_text() == "{}"
    assert paths.bundled_packs_dir() == meipass / "resources" / "packs"
    # V2A_RESOURCES beats the bundle (a portable install pointing elsewhere)
    other = tmp_path / "other"
    other.mkdir()
    clean_env.setenv("V2A_RESOURCES", str(other))
    assert paths.resources_root() == other


def test_missing_resources_is_a_clear_error(clean_env, tmp_path):
    clean_env.setattr(paths, "_SOURCE_RESOURCES", tmp_path / "nope" / "resources")
    clean_env.setattr(sys, "prefix", str(tmp_path / "prefix"))
    with pytest.raises(V2AError) as exc:
        paths.resource_path("sample")
    assert "resources folder is missing" in exc.value.message
    assert str(tmp_path / "nope" / "resources") in exc.value.message
    # pack search still works (user packs), and describe() reports instead of raising
    assert paths.pack_search_dirs() == [paths.user_packs_dir()]
    assert paths.describe()["bundled resources"].startswith("MISSING")


# ---------------------------------------------------------------- first run


def test_audio_messages():
    from app import firstrun

    def no_lib():
        raise OSError("PortAudio library not found")

    def no_device():
        raise RuntimeError("Error querying device -1")

    m = firstrun.audio_message(no_lib)
    assert m.key == "no-audio-device" and "libportaudio2" in m.action
    m = firstrun.audio_message(no_device)
    assert m.key == "no-audio-device" and "export work normally" in m.text and m.action
    m = firstrun.audio_message(lambda: {"name": "null", "max_output_channels": 0})
    assert m is not None and "no output channels" in m.text
    assert firstrun.audio_message(lambda: {"name": "pulse", "max_output_channels": 2}) is None


def test_gpu_message_only_for_cpu():
    from app import firstrun

    assert firstrun.gpu_message("cuda:0") is None
    assert firstrun.gpu_message("mps") is None
    m = firstrun.gpu_message("cpu", "CUDA driver too old")
    assert m.key == "no-gpu" and "CUDA driver too old" in m.text and "driver" in m.action


def test_pack_message_with_real_pack_listing(clean_env, tmp_path):
    from app import firstrun

    root = tmp_path / "packs"
    root.mkdir()
    clean_env.setenv("V2A_PACKS", str(root))
    m = firstrun.pack_message()
    assert m is not None and m.severity == firstrun.ERROR and "v2a pack install" in m.action
    (root / "broken").mkdir()
    (root / "broken" / "pack.json").write_text("{not json")
    m = firstrun.pack_message()
    assert m is not None and "broken" in m.text and "unreadable manifest" in m.text
    good = root / "tiny"
    good.mkdir()
    (good / "pack.json").write_text(
        '{"name": "tiny", "version": "1", "format_version": 1, "files": {}}'
    )
    assert firstrun.pack_message() is None


def test_startup_messages_first_run_and_never_raise(clean_env, tmp_path):
    from app import firstrun

    settings = tmp_path / "cfg" / "settings.json"

    def explode():
        raise ValueError("boom")

    msgs = firstrun.startup_messages(
        audio_query=lambda: {"max_output_channels": 2}, list_packs=explode, settings_file=settings
    )
    keys = [m.key for m in msgs]
    assert keys == ["no-pack", "first-run"]  # most severe first
    assert "boom" in msgs[0].text
    welcome = msgs[1]
    assert "settings" in welcome.text and "autosave" in welcome.text
    firstrun.mark_first_run_done(settings)
    assert settings.is_file()
    assert firstrun.startup_messages(
        audio_query=lambda: {"max_output_channels": 2},
        list_packs=lambda: [types.SimpleNamespace(name="starter", problem="")],
        settings_file=settings,
    ) == []


# ---------------------------------------------------------------- self-test pieces


def _tone(seconds: float, sr: int = 48000, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_check_export_accepts_a_good_mux_and_names_each_problem(cfr_clip, tmp_path):
    import av

    from app.selftest import check_export
    from engine.media import mux

    src = cfr_clip.path
    good = mux(src, (_tone(cfr_clip.duration), 48000), tmp_path / "good.mp4")
    res = check_export(src, good)
    assert res.ok, res.problems
    assert res.video_packets == 50 and abs(res.audio_duration - res.video_duration) < 0.1
    assert -15 < res.audio_rms_dbfs < -8  # 0.3 amplitude sine = -13.5 dBFS

    silent = mux(src, (np.zeros(48000 * 2, np.float32), 48000), tmp_path / "silent.mp4")
    assert any("silent" in p for p in check_export(src, silent).problems)

    # a re-encoded picture (same codec, different packets) is caught
    reenc = tmp_path / "reenc.mp4"
    with av.open(str(src)) as ic, av.open(str(reenc), "w") as oc:
        s = oc.add_stream(ic.streams.video[0].codec_context.name, rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i, frame in enumerate(ic.decode(video=0)):
            f = frame.reformat(format="yuv420p")
            f.pts, f.time_base = i, Fraction(1, 25)
            for pkt in s.encode(f):
                oc.mux(pkt)
        for pkt in s.encode(None):
            oc.mux(pkt)
    reenc_muxed = mux(reenc, (_tone(2.0), 48000), tmp_path / "reenc_muxed.mp4")
    probs = check_export(src, reenc_muxed).problems
    assert any("not copied bit-exact" in p or "re-encoded" in p for p in probs), probs

    assert check_export(src, tmp_path / "missing.mp4").problems[0].endswith("missing or empty")


def test_find_sample_clip_is_the_bundled_one(clean_env):
    from app.selftest import find_sample_clip

    clip = find_sample_clip()
    assert clip.parent == ROOT / "resources" / "sample" and clip.suffix == ".mp4"


def _launcher(args: list[str], env_extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in PATH_ENV}
    env.update({"QT_QPA_PLATFORM": "offscreen", "V2A_HOME": str(tmp_path / "home"), **env_extra})
    return subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "launcher.py"), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )


def test_selftest_entry_reports_failure_with_exit_1(tmp_path):
    res = _launcher(["--selftest", "--no-window", "--clip", str(tmp_path / "nope.mp4")], {}, tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "result   : FAIL" in res.stdout
    assert "nope.mp4" in res.stdout  # the failing file is named


def test_startup_probe_reports_first_window(tmp_path):
    res = _launcher([], {"V2A_STARTUP_PROBE": "1"}, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("V2A_FIRST_WINDOW ")]
    assert line, res.stdout + res.stderr
    assert float(line[0].split()[1]) > 1e9  # a unix time the smoke test subtracts from


def _fake_generation(monkeypatch, amplitude: float) -> list[str]:
    """Stand-in for engine.generation (torch-free) so the self-test's own logic runs in seconds."""
    from engine.progress import Progress
    from engine.types import AudioLayout, Take

    calls: list[str] = []
    gen = types.ModuleType("engine.generation")

    def load_pack(name=None, device="cpu"):
        calls.append(f"load:{name}:{device}")
        return types.SimpleNamespace(device="cpu", name="fake")

    def predict_layout(path, pack, cancel=None):
        calls.append("predict")
        yield Progress("layout", 0, 1)
        return AudioLayout(np.full((20, 5), 0.5, np.float32), 10.0)

    def generate(request, pack, cancel=None):
        calls.append(f"generate:steps={request.steps}")
        yield Progress("sampling", 1, 1)
        audio = _tone(2.0, 16000, amplitude)
        return [Take(audio, 16000, request.seed, request.layout, "diffusion")]

    gen.load_pack, gen.predict_layout, gen.generate = load_pack, predict_layout, generate
    monkeypatch.setitem(sys.modules, "engine.generation", gen)
    return calls


def test_selftest_runs_every_step_and_passes(monkeypatch, cfr_clip, tmp_path, capsys):
    from app.selftest import run_selftest

    calls = _fake_generation(monkeypatch, amplitude=0.3)
    keep = tmp_path / "keep"
    rc = run_selftest(["--clip", str(cfr_clip.path), "--no-window", "--steps", "3",
                       "--pack", "fake", "--keep", str(keep)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert calls == ["load:fake:auto", "predict", "generate:steps=3"]
    assert "result   : PASS" in out and "50 packets copied" in out
    assert (keep / "cfr25.selftest.mp4").is_file()


def test_selftest_fails_on_a_silent_take(monkeypatch, cfr_clip, capsys):
    from app.selftest import run_selftest

    _fake_generation(monkeypatch, amplitude=0.0)
    rc = run_selftest(["--clip", str(cfr_clip.path), "--no-window"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "PROBLEM: audio is silent" in out and "result   : FAIL" in out


def test_app_icon_path_in_source_and_in_fake_bundle(clean_env, tmp_path):
    in_resources = ROOT / "resources" / "icons" / "v2a-studio.svg"  # a copy there wins
    expected = in_resources if in_resources.is_file() else ROOT / "packaging" / "icons" / "v2a-studio.svg"
    assert paths.app_icon_path() == expected
    meipass = tmp_path / "_internal"
    (meipass / "icons").mkdir(parents=True)
    (meipass / "resources").mkdir()
    (meipass / "icons" / "v2a-studio.svg").write_text("<svg/>")
    clean_env.setattr(sys, "_MEIPASS", str(meipass), raising=False)
    assert paths.app_icon_path() == meipass / "icons" / "v2a-studio.svg"


def test_about_text_names_version_packs_and_their_data_licenses(clean_env, tmp_path):
    from app import firstrun

    root = tmp_path / "packs"
    pack = root / "starter"
    pack.mkdir(parents=True)
    (pack / "pack.json").write_text(
        '{"name": "starter", "version": "2", "format_version": 1, "files": {},'
        ' "license": "CC-BY-4.0", "training_data": ["minetest sounds (CC BY-SA 3.0)"]}'
    )
    (pack / "DATA_LICENSES.md").write_text("sources")
    clean_env.setenv("V2A_PACKS", str(root))
    text = firstrun.about_text({"Qt": "6.x"})
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert text.startswith(f"V2A Studio {version}")
    assert "starter 2" in text and "CC-BY-4.0" in text and "minetest sounds (CC BY-SA 3.0)" in text
    assert str(pack / "DATA_LICENSES.md") in text
    assert str(ROOT / "resources" / "sample" / "LICENSE.txt") in text
    assert "Qt: 6.x" in text and "settings:" in text
