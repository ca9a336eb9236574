"""A .v2aproj from elsewhere is untrusted: ids and paths stay inside the project folder, every
field is checked (one ProjectError naming the file and the field) before arrays are read."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from app.model import project as project_mod
from app.model.layout import LayoutDoc
from app.model.project import Lane, Project, ProjectError, TakeRecord
from app.services.autosave import AutosaveSlot
from engine.errors import OutputError


def _saved(tmp_path: Path) -> Path:
    p = Project(str(tmp_path / "clip.mp4"))
    lane = Lane("steps", LayoutDoc(np.full((20, 5), 0.5, np.float32), 25.0))
    lane.takes.append(TakeRecord(np.zeros(1600, np.float32), 16000, 1, "diffusion", region=(0.5, 1.0)))
    p.add_lane(lane)
    folder = tmp_path / "proj"
    folder.mkdir()
    return p.save(folder / "p.v2aproj")


def _edit(path: Path, fn) -> None:
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


def _files_outside(tmp_path: Path, inside: Path) -> set[Path]:
    return {f for f in tmp_path.rglob("*") if f.is_file() and inside not in f.parents}


@pytest.mark.parametrize("bad_id", ["../../x", "/tmp/v2a_abs_lane", "a/b", "..", ""])
def test_path_like_lane_id_is_refused_on_load(tmp_path, bad_id):
    path = _saved(tmp_path)
    _edit(path, lambda d: d["lanes"][0].__setitem__("id", bad_id))
    with pytest.raises(ProjectError) as e:
        Project.load(path)
    assert "p.v2aproj" in e.value.message and "lanes[0].id" in e.value.message and "refused" in e.value.message


def test_save_and_autosave_never_write_outside_the_project_folder(tmp_path):
    path = _saved(tmp_path)
    proj = Project.load(path)
    before = _files_outside(tmp_path, path.parent)
    proj.lanes[0].id = "../../x"  # as an old loader would have let through
    with pytest.raises(OutputError, match="lane id"):
        proj.save(path)
    slot = AutosaveSlot(tmp_path / "autosave")
    with pytest.raises(OutputError, match="lane id"):
        slot.save(proj)
    proj.lanes[0].id = "ok"
    proj.lanes[0].takes[0].id = "../t"
    with pytest.raises(OutputError, match="take id"):
        proj.save(path)
    assert _files_outside(tmp_path, path.parent) == before
    assert not (tmp_path / "x_layout.npy").exists() and not (tmp_path.parent / "x_layout.npy").exists()


@pytest.mark.parametrize("field,rel", [("layout", "../outside.npy"), ("layout", "/etc/hostname"),
                                       ("predicted", "../../outside.npy")])
def test_data_paths_outside_the_project_folder_are_refused(tmp_path, field, rel):
    path = _saved(tmp_path)
    np.save(tmp_path / "outside.npy", np.zeros((4, 5), np.float32))
    _edit(path, lambda d: d["lanes"][0].__setitem__(field, rel))
    with pytest.raises(ProjectError, match=rf"p\.v2aproj: lanes\[0\]\.{field}: path .* (leaves|outside)"):
        Project.load(path)


def test_take_file_outside_the_project_folder_is_refused(tmp_path):
    path = _saved(tmp_path)
    _edit(path, lambda d: d["lanes"][0]["takes"][0].__setitem__("file", "../elsewhere.flac"))
    with pytest.raises(ProjectError, match=r"lanes\[0\]\.takes\[0\]\.file"):
        Project.load(path)


def test_symlinked_data_folder_leading_out_is_refused_on_save(tmp_path):
    path = _saved(tmp_path)
    proj = Project.load(path)
    data = Project.data_dir_for(path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for f in data.iterdir():
        f.unlink()
    data.rmdir()
    data.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(OutputError, match="outside"):
        proj.save(path)
    assert not any(elsewhere.iterdir())


def _set_lane(key, value):
    return lambda d: d["lanes"][0].__setitem__(key, value)


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda d: d.__setitem__("lanes", 5), "lanes"),
        (lambda d: d.__setitem__("lanes", ["x"]), "lanes[0]"),
        (lambda d: d.__setitem__("active_lane", "abc"), "active_lane"),
        (lambda d: d.__setitem__("params", [1]), "params"),
        (lambda d: d.__setitem__("params", {"steps": "many"}), "params.steps"),
        (lambda d: d.__setitem__("clip", 3), "clip"),
        (lambda d: d["lanes"][0]["takes"][0].__setitem__("region", 7), "lanes[0].takes[0].region"),
        (lambda d: d["lanes"][0]["takes"][0].__setitem__("region", [2.0, 1.0]), "lanes[0].takes[0].region"),
        (_set_lane("columns_per_second", 0), "lanes[0].columns_per_second"),
        (_set_lane("columns_per_second", "25"), "lanes[0].columns_per_second"),
        (_set_lane("gain_db", None), "lanes[0].gain_db"),
        (_set_lane("mute", "yes"), "lanes[0].mute"),
        (_set_lane("picked", "0"), "lanes[0].picked"),
        (_set_lane("takes", {}), "lanes[0].takes"),
        (_set_lane("name", ["x"]), "lanes[0].name"),
    ],
)
def test_malformed_fields_are_one_error_naming_file_and_field(tmp_path, mutate, field):
    path = _saved(tmp_path)
    _edit(path, mutate)
    with pytest.raises(ProjectError) as e:
        Project.load(path)
    assert e.value.message.startswith(f"{path}: {field}: ")
    assert "\n" not in e.value.message


def test_nan_layout_is_refused(tmp_path):
    path = _saved(tmp_path)
    lay = tmp_path / "proj" / json.loads(path.read_text())["lanes"][0]["layout"]
    a = np.load(lay)
    a[3, 1] = np.nan
    np.save(lay, a)
    with pytest.raises(ProjectError, match=r"lanes\[0\]\.layout: .*NaN"):
        Project.load(path)


def test_huge_layout_is_refused_from_its_header_without_reading_it(tmp_path, monkeypatch):
    path = _saved(tmp_path)
    lay = tmp_path / "proj" / json.loads(path.read_text())["lanes"][0]["layout"]
    # Only the header of a 4M-column layout (80 MB of data that is not there): the size alone refuses it.
    with open(lay, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (4_000_000, 5)})
    monkeypatch.setattr(project_mod.np, "load", lambda *a, **k: pytest.fail("read the array before checking its size"))
    with pytest.raises(ProjectError, match=r"lanes\[0\]\.layout: .*4000000 columns.*at most 360000"):
        Project.load(path)


def test_twenty_thousand_lanes_are_refused_quickly_before_any_array(tmp_path, monkeypatch):
    path = _saved(tmp_path)
    _edit(path, lambda d: d.__setitem__("lanes", d["lanes"] * 20_000))
    monkeypatch.setattr(project_mod.np, "load", lambda *a, **k: pytest.fail("read an array before counting lanes"))
    t0 = time.perf_counter()
    with pytest.raises(ProjectError, match=r"lanes: 20000 lanes, at most 64"):
        Project.load(path)
    assert time.perf_counter() - t0 < 5.0


def test_oversized_project_file_is_refused_before_parsing(tmp_path, monkeypatch):
    path = _saved(tmp_path)
    monkeypatch.setattr(project_mod, "MAX_PROJECT_BYTES", 100)
    with pytest.raises(ProjectError, match="too large"):
        Project.load(path)


def test_a_valid_project_still_round_trips(tmp_path):
    path = _saved(tmp_path)
    q = Project.load(path)
    assert q.lanes[0].takes[0].region == (0.5, 1.0) and q.lanes[0].layout.columns_per_second == 25.0
    q.save(path)  # a loaded project saves back into its own folder
    assert Project.load(path).lanes[0].id == q.lanes[0].id


def test_unknown_params_are_ignored_and_known_ones_typed(tmp_path):
    path = _saved(tmp_path)
    _edit(path, lambda d: d["params"].update({"pack_changes": 1, "from_the_future": "x", "steps": 12.0, "guidance": 4}))
    p = Project.load(path).params
    assert (p.steps, p.guidance) == (12, 4.0) and isinstance(p.steps, int) and isinstance(p.guidance, float)
