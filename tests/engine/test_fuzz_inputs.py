"""Seeded fuzz of the input paths (issue 21): damaged media and projects never give a traceback.

600 cases: random bytes, random truncations and random byte flips of a small valid MP4, AVI,
WAV and .v2aproj (its JSON or its layout data) made here. Each case goes to `v2a probe` and
`v2a layout` (``main()`` in-process) and to ``Project.load``. Every outcome must be success or
one ``V2AError`` (for the CLI: exit 2 with one ``v2a: error:`` line, ``v2a: warning:`` lines
allowed), and the output folder must hold a complete layout or nothing at all.

Measured on the 2-core development machine: about 12 s for all 600 cases.
"""

from __future__ import annotations

import shutil
import traceback
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from media_helpers import make_clip

from app.model.layout import LayoutDoc
from app.model.project import Lane, Project, TakeRecord
from engine.audio import load_layout
from engine.cli.main import main
from engine.errors import V2AError

SEED = 21
CASES = 600
OPS = ("random", "truncate", "flip", "flip+truncate")


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> tuple[dict[str, bytes], Path]:
    """Valid files by kind (bytes) and the folder of the saved project."""
    d = tmp_path_factory.mktemp("seeds")
    out = {
        ".mp4": make_clip(d / "s.mp4", n_frames=5, size=(32, 24), audio_channels=1, sample_rate=16000,
                          click_samples=(1000,)).path.read_bytes(),
        ".avi": make_clip(d / "s.avi", n_frames=5, size=(32, 24), codec="mpeg4", audio_channels=1,
                          sample_rate=16000, click_samples=(1000,)).path.read_bytes(),
    }
    wav = d / "s.wav"
    sf.write(str(wav), np.sin(np.arange(3200) / 5.0).astype(np.float32) * 0.5, 16000, subtype="PCM_16")
    out[".wav"] = wav.read_bytes()
    proj = Project(str(d / "s.mp4"))
    lane = Lane("steps", LayoutDoc(np.full((8, 5), 0.5, np.float32), 25.0))
    lane.takes.append(TakeRecord(np.zeros(800, np.float32), 16000, 1, "diffusion", region=(0.1, 0.3)))
    proj.add_lane(lane)
    path = proj.save(d / "p.v2aproj")
    out[".v2aproj"] = path.read_bytes()
    layout = next(Project.data_dir_for(path).glob("*_layout.npy"))
    out["layout"] = layout.read_bytes()
    return out, d


def _mutate(rng: np.random.Generator, data: bytes, op: str) -> bytes:
    if op == "random":
        return rng.integers(0, 256, int(rng.integers(0, 2000)), dtype=np.uint8).tobytes()
    b = bytearray(data)
    if "flip" in op and b:
        for i in rng.integers(0, len(b), int(rng.integers(1, 9))):
            b[i] ^= 1 << int(rng.integers(0, 8))
    if "truncate" in op:
        b = b[: int(rng.integers(0, len(b) + 1))]
    return bytes(b)


def _cli(capsys, argv: list[str], what: str) -> int:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse only: never for a file's content
        pytest.fail(f"{what}: exited {e.code}")
    except BaseException as e:  # noqa: BLE001 - the point: report any escape with its case
        pytest.fail(f"{what}: {type(e).__name__}: {e}\n{traceback.format_exc()}")
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err, what
    if code != 0:  # a success may report on stderr (`v2a layout` does); a failure only so
        assert all(ln.startswith(("v2a: error: ", "v2a: warning: ")) for ln in lines), f"{what}: {err}"
    errors = [ln for ln in lines if ln.startswith("v2a: error: ")]
    assert code in (0, 2) and len(errors) == (code == 2), f"{what}: exit {code}, {err}"
    return code


def test_fuzzed_inputs_never_escape(seeds, tmp_path, capsys):
    seeds, seed_dir = seeds
    rng = np.random.default_rng(SEED)
    src = tmp_path / "in"
    out = tmp_path / "out"
    src.mkdir()
    out.mkdir()
    proj_dir = tmp_path / "proj"  # a copy of the saved project, its files mutated one at a time
    shutil.copytree(seed_dir, proj_dir)
    proj_path = proj_dir / "p.v2aproj"
    layout_path = next(Project.data_dir_for(proj_path).glob("*_layout.npy"))
    kinds = [".mp4", ".avi", ".wav", ".v2aproj", "layout"]
    seen = {"project": set(), "layout": set()}  # outcomes, to show the mutations reach both
    for case in range(CASES):
        kind = kinds[case % len(kinds)]
        op = OPS[int(rng.integers(0, len(OPS)))]
        data = _mutate(rng, seeds[kind], op)
        what = f"case {case} ({kind}, {op}, seed {SEED})"
        # the project's files are mutated in place (the loader resolves its data folder)
        proj_path.write_bytes(data if kind == ".v2aproj" else seeds[".v2aproj"])
        layout_path.write_bytes(data if kind == "layout" else seeds["layout"])
        f = proj_path if kind in (".v2aproj", "layout") else src / f"f{kind}"
        if f.parent == src:
            f.write_bytes(data)
        try:
            Project.load(f)  # a media file too: refused as "not a project", never an escape
            ok = True
        except V2AError:
            ok = False
        except BaseException as e:  # noqa: BLE001
            pytest.fail(f"{what}: Project.load raised {type(e).__name__}: {e}\n{traceback.format_exc()}")
        if f == proj_path:
            seen["project"].add(ok)
        if kind == "layout":  # what `v2a generate --layout` reads
            try:
                load_layout(layout_path)
            except V2AError:
                pass
            except BaseException as e:  # noqa: BLE001
                pytest.fail(f"{what}: load_layout raised {type(e).__name__}: {e}\n{traceback.format_exc()}")
        _cli(capsys, ["probe", str(f)], what)
        lay = out / "l.npy"
        code = _cli(capsys, ["layout", str(f), "-o", str(lay)], what)
        if f != proj_path:
            seen["layout"].add(code)
        left = sorted(p.name for p in out.iterdir())
        assert left == (["l.json", "l.npy"] if code == 0 else []), f"{what}: left {left}"
        for p in out.iterdir():
            p.unlink()
        for p in src.iterdir():
            p.unlink()
    assert seen == {"project": {True, False}, "layout": {0, 2}}
