"""The quality benchmark harness on two tiny synthetic clips (logic only, no timing)."""

from __future__ import annotations

import importlib.util
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.classifier.model import AudioClassifier, AudioCNN, ClassifierConfig
from engine.progress import Progress
from engine.types import AudioLayout, Take

ROOT = Path(__file__).resolve().parents[2]
SR = 16000


def _bench():
    spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "benchmarks" / "bench_quality.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_quality"] = mod
    spec.loader.exec_module(mod)
    return mod


def _write_clip(folder: Path, cid: str, times: list[float], dur: float = 2.0, fps: int = 10) -> None:
    """A grey video that flashes at each event, with a noise burst at the same times."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(cid)) % 1000)
    with av.open(str(folder / f"{cid}.mp4"), "w") as oc:
        st = oc.add_stream("mpeg4", rate=Fraction(fps))
        st.width = st.height = 64
        st.pix_fmt = "yuv420p"
        for i in range(int(dur * fps)):
            t = i / fps
            img = np.full((64, 64, 3), 40, np.uint8)
            for e in times:
                if 0 <= t - e < 0.15:
                    x = int(8 + 40 * ((i * 7) % 5) / 5)
                    img[16:48, x : x + 16] = 230
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                oc.mux(pkt)
        for pkt in st.encode():
            oc.mux(pkt)
    y = rng.normal(size=int(dur * SR)).astype(np.float32) * 1e-3
    for e in times:
        n = int(0.2 * SR)
        a = int(e * SR)
        y[a : a + n] += rng.normal(size=n).astype(np.float32) * np.exp(-np.arange(n) / 800) * 0.5
    sf.write(folder / f"{cid}.flac", y, SR)
    events = [{"time": t, "class": "impact" if k % 2 == 0 else "footstep"} for k, t in enumerate(times)]
    (folder / f"{cid}.json").write_text(json.dumps({"id": cid, "duration": dur, "events": events}))


class _FakeGeneration:
    """Stands in for engine.generation: returns the true track delayed by 30 ms."""

    def __init__(self, clips_dir: Path) -> None:
        self.clips_dir = clips_dir
        self.requests = []

    def load_pack(self, name=None):
        return "fake-pack"

    def generate(self, request, pack, cancel=None, cache_dir=None):
        self.requests.append(request)
        yield Progress("sampling", 1, 1)
        y, _ = sf.read(str(Path(request.video_path).with_suffix(".flac")), dtype="float32")
        y = np.concatenate([np.zeros(int(0.03 * SR), np.float32), y])[: len(y)]
        lay = request.layout or AudioLayout(np.zeros((20, 5), np.float32), 10.0)
        return [Take(y, SR, request.seed, lay, request.engine)]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    _write_clip(root / "clips" / "test", "a", [0.3, 1.2])
    _write_clip(root / "clips" / "test", "b", [0.5, 0.9, 1.6])
    return root


def _classifier() -> AudioClassifier:
    torch.manual_seed(0)
    cfg = ClassifierConfig(class_names=["footstep", "impact"], channels=(4, 8), embed_dim=8)
    return AudioClassifier(AudioCNN(cfg), cfg)


def test_painted_layout_is_coarse_version_of_truth() -> None:
    bq = _bench()
    v = np.zeros((30, 5), np.float32)
    v[10:12, 1:3] = 0.8
    painted = bq.painted_like(AudioLayout(v, 10.0)).values
    assert painted.shape == v.shape
    assert set(np.unique(painted)) <= {0.0, 0.25, 0.5, 0.75, 1.0}  # a few levels
    assert painted[9:13].max() > 0 and painted[:5].max() == 0 and painted[20:].max() == 0
    assert (painted > 0).sum() > (v > 0).sum()  # smeared by the brush


def test_event_tool_layout_clicks_each_event_in_its_loud_bands() -> None:
    from app.model.tools import ToolSettings
    from engine.metrics.adherence import events_from_layout

    bq = _bench()
    true = np.zeros((50, 5), np.float32)
    true[10:14, 0:2] = 0.9  # a low sound at 1.0 s ...
    true[30:40, 3:5] = 0.6  # ... and a long high one at 3.0 s
    clip = bq.Clip("c", Path("c.mp4"), np.zeros(5 * SR, np.float32), [(1.0, "impact"), (3.0, "fire")],
                   AudioLayout(true, 10.0))
    lay = bq.event_tool_layout(clip)
    assert lay.values.shape == true.shape and lay.columns_per_second == 10.0
    assert lay.values[10, :2].tolist() == pytest.approx([ToolSettings().intensity] * 2)  # the tool's default
    assert lay.values[10:20, 2:].max() == 0 and lay.values[30:40, :3].max() == 0  # only the loud bands
    assert lay.values[31, 3] < lay.values[30, 3]  # a click decays; it does not copy the true layout
    assert events_from_layout(lay) == pytest.approx([1.0, 3.0], abs=0.1)  # read where the editor clicked


def test_gl_baseline_follows_layout_timing() -> None:
    bq = _bench()
    v = np.zeros((20, 5), np.float32)
    v[5:7] = 0.8
    y = bq.layout_to_audio_gl(AudioLayout(v, 10.0), 2.0)
    assert len(y) == 2 * SR
    rms = lambda a, b: float(np.sqrt(np.mean(y[int(a * SR) : int(b * SR)] ** 2)))  # noqa: E731
    assert rms(0.5, 0.7) > 20 * rms(1.2, 1.8)


def test_harness_rows_metrics_and_not_available(data: Path) -> None:
    bq = _bench()
    clips = bq.load_clips(data, "test", 5, bq.LayoutConfig())
    assert [c.id for c in clips] == ["a", "b"] and [len(c.events) for c in clips] == [2, 3]
    assert [c.id for c in bq.load_clips(data, "test", 5, bq.LayoutConfig(), skip=1)] == ["b"]  # --skip
    with pytest.raises(SystemExit, match="--skip"):
        bq.load_clips(data, "test", 5, bq.LayoutConfig(), skip=-1)
    fake = _FakeGeneration(data / "clips" / "test")
    engines = bq.Engines(None, steps=2, seed=0, generation=fake)
    rows = ["reference", "baseline_gl", "diffusion_true", "diffusion_nolayout", "diffusion_painted",
            "diffusion_event_tool"]
    res = bq.run_benchmark(clips, rows, engines, _classifier(), log=lambda s: None)
    ref = res["reference"]["metrics"]
    assert res["reference"]["status"] == "ok"
    assert ref["onset_acc"] == pytest.approx(1.0)
    assert ref["aa_align"] == pytest.approx(1.0)
    assert ref["energy_l1"] == pytest.approx(0.0, abs=1e-9)
    assert ref["fad"] == pytest.approx(0.0, abs=1e-6)
    assert 0.0 <= ref["class_acc"] <= 1.0
    assert ref["layout_recall_40ms"] > 0.5
    # a 30 ms late copy still hits ±50 ms onsets but is not identical
    d = res["diffusion_true"]["metrics"]
    assert d["energy_l1"] > 0 and d["onset_acc"] > 0.5
    # requests: true layout passed through; the ablation drops the layout; painted != true
    true_req, nolay_req, painted_req = fake.requests[0], fake.requests[2], fake.requests[4]
    assert true_req.layout is clips[0].true_layout and true_req.steps == 2
    assert nolay_req.layout is None and nolay_req.layout_strength == 0.0
    assert not np.array_equal(painted_req.layout.values, clips[0].true_layout.values)
    tool_req = fake.requests[6]
    assert np.array_equal(tool_req.layout.values, bq.event_tool_layout(clips[0]).values)
    assert res["diffusion_event_tool"]["status"] == "ok"
    assert true_req.layout_guidance is None  # the pack's default unless --layout-guidance
    bq.Engines(None, 2, 0, generation=fake, layout_guidance=0.0).run(clips[0], "diffusion", clips[0].true_layout)
    assert fake.requests[-1].layout_guidance == 0.0
    assert res["baseline_gl"]["status"] == "ok" and res["baseline_gl"]["n_clips"] == 2

    # no engine here: the row says so instead of crashing
    class Missing:
        pass

    res2 = bq.run_benchmark(clips, ["diffusion_pred", "ar"], bq.Engines(None, 2, 0, generation=Missing()),
                            None, "no classifier", log=lambda s: None)
    assert res2["diffusion_pred"]["status"] == "not available"
    assert "load_pack" in res2["diffusion_pred"]["reason"]
    table = bq.markdown_table({**res, **res2})
    assert "| reference |" in table and "not available" in table


def test_main_writes_json_with_machine(data: Path, tmp_path: Path, monkeypatch) -> None:
    bq = _bench()
    clf_dir = _classifier().save(tmp_path / "clf")
    monkeypatch.setenv("V2A_PACKS", str(tmp_path / "no-packs"))
    out = tmp_path / "quality.json"
    rc = bq.main(["--data", str(data), "--n", "2", "--rows", "reference,baseline_gl,diffusion_pred",
                  "--classifier", str(clf_dir), "--out", str(out)])
    assert rc == 0
    rep = json.loads(out.read_text())
    assert rep["n_clips"] == 2 and rep["machine"]["cpu_count"] >= 1
    assert rep["rows"]["reference"]["status"] == "ok"
    assert rep["rows"]["diffusion_pred"]["status"] in ("not available", "ok")
    assert rep["classifier"]["classes"] == 2
