"""The held-out content benchmark's parts, on synthetic sounds (no network, no Debian data)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.heldout import labels  # noqa: E402
from benchmarks.heldout.classifier import LogReg, cross_validate, grouped_folds  # noqa: E402

SR = 16000


def test_logreg_learns_a_separable_toy_problem():
    rng = np.random.default_rng(0)
    centres = np.array([[4.0, 0, 0], [0, 4.0, 0], [0, 0, 4.0]])
    y = np.repeat(np.arange(3), 40)
    X = centres[y] + rng.normal(0, 0.5, (len(y), 3)) + 100.0  # offset: standardisation must handle it
    m = LogReg.fit(X, y, ["a", "b", "c"], iters=500)
    assert (m.predict(X) == y).mean() == 1.0
    Xt = centres[y] + rng.normal(0, 0.5, (len(y), 3)) + 100.0
    assert (m.predict(Xt) == y).mean() > 0.97
    p = m.predict_proba(Xt)
    assert np.allclose(p.sum(axis=1), 1.0)
    again = LogReg.from_json(json.loads(json.dumps(m.to_json())))  # the JSON round trip
    assert np.allclose(again.predict_proba(Xt), p)


def _tone(f, s=0.4):
    t = np.arange(int(s * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * f * t) * np.exp(-t * 4)).astype(np.float32)


def _burst(rng, s=0.3):
    n = int(s * SR)
    return (rng.normal(0, 0.3, n) * np.exp(-np.arange(n) / (0.05 * SR))).astype(np.float32)


def test_classifier_on_audio_and_grouped_cv():
    """Tones vs noise bursts as two fake classes: features + grouped CV separate them."""
    from benchmarks.heldout.classifier import dataset

    rng = np.random.default_rng(1)
    recs, audios = [], []
    for i in range(6):
        recs.append({"class": "tone"})
        audios.append(_tone(300 + 120 * i))
        recs.append({"class": "noise"})
        audios.append(_burst(rng))
    classes = ["tone", "noise"]
    X, y, g, w = dataset(recs, audios, SR, classes)
    assert X.shape[1] == 105 and len(y) == len(g) == len(w)
    folds = grouped_folds([classes.index(r["class"]) for r in recs], 3)
    cv = cross_validate(X, y, g, w, classes, folds, iters=500)
    assert cv["file_accuracy"] >= 0.9 and cv["n_files"] == 12
    m = LogReg.fit(X, y, classes, iters=500, sample_weight=w)
    assert m.classify_audio(_tone(1000), SR)[0] == "tone"
    assert m.classify_audio(_burst(rng), SR)[0] == "noise"


def test_montage_places_recordings_at_the_stated_times():
    import librosa

    from benchmarks.bench_heldout import place

    click = np.zeros(int(0.2 * SR), np.float32)
    click[0] = 1.0  # the sound starts on its first sample
    click[1:40] = np.linspace(0.5, 0.0, 39)
    times = [0.5123, 2.0, 3.3337, 5.75]
    audio = place([click] * len(times), times, 7.0)
    assert len(audio) == 7 * SR
    peaks = np.nonzero(np.abs(audio) >= 0.5 * np.abs(audio).max())[0]
    starts = peaks[np.r_[True, np.diff(peaks) > SR // 10]] / SR
    assert len(starts) == len(times)
    assert np.max(np.abs(starts - np.array(times))) <= 0.001
    # and an onset detector agrees to a hop
    on = librosa.onset.onset_detect(y=audio, sr=SR, hop_length=64, units="time", backtrack=True)
    assert all(np.min(np.abs(on - t)) <= 64 / SR + 0.001 for t in times)


def test_make_case_is_seeded_and_fits(tmp_path):
    from benchmarks.bench_heldout import make_case, still_video
    from engine.audio import LayoutConfig

    rng = np.random.default_rng(2)
    pool = [({"id": f"r{i}", "class": "bird"}, _burst(rng, 0.5 + 0.5 * i)) for i in range(5)]
    cfg = LayoutConfig(columns_per_second=25)
    a = make_case("bird", 0, pool, 0, cfg)
    b = make_case("bird", 0, pool, 0, cfg)
    assert a.times == b.times and a.recording_ids == b.recording_ids
    assert 6.0 <= a.duration <= 8.0 and 2 <= len(a.times) <= 4
    assert a.wrong_cls != a.cls and a.wrong_cls in labels.CLASSES
    assert a.layout.values.shape[1] == 5 and abs(a.layout.values.shape[0] - a.duration * 25) <= 1
    v = still_video(tmp_path / "still.mp4", a.duration)
    import av

    with av.open(str(v)) as c:
        st = c.streams.video[0]
        frames = sum(1 for _ in c.decode(st))
    assert frames == round(a.duration * 8)


def test_labels_are_explicit_rules():
    assert labels.label("hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/explosion.ogg") == "explosion"
    assert labels.label("hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/voices/Default/Ooff1.ogg") is None
    assert labels.label("0ad-data", "audio/explosion.ogg") is None  # a library package: never held-out
    assert labels.label("warmux-data", "usr/share/games/warmux/sound/default/weapons/explosion1.txt") is None
    assert set(labels.CLASSES) == set(labels.PROMPTS)
    from engine.data.taxonomy import VISUAL_KIND

    assert set(labels.CLASSES) <= set(VISUAL_KIND)
    assert "dropped" in labels.rule_table_markdown()


def test_benchmark_json_fields(tmp_path, monkeypatch):
    """The whole benchmark on a fake held-out set (real + gl rows, a missing engine row skipped)."""
    import benchmarks.bench_heldout as bh
    from benchmarks.heldout import fetch

    rng = np.random.default_rng(3)
    data = tmp_path / "heldout"
    (data / "audio").mkdir(parents=True)
    recs = []
    for ci, cls in enumerate(labels.CLASSES):
        for i in range(3):
            a = _tone(200 * (ci + 1) + 30 * i) if ci % 2 else _burst(rng, 0.2 + 0.1 * ci)
            rid = f"{cls}-{i}"
            np.save(data / "audio" / f"{rid}.npy", a)
            recs.append({"id": rid, "class": cls, "package": "fake", "path": rid, "license": "-", "seconds": 0.3})
    (data / "index.json").write_text(json.dumps({"records": recs}))
    audios = [fetch.load_audio(r, data) for r in recs]
    X = np.concatenate([bh.audio_windows_features(a, SR) for a in audios])
    y = np.repeat(np.arange(len(labels.CLASSES)), 3)  # one window per short recording
    LogReg.fit(X, y, list(labels.CLASSES), iters=200).save(tmp_path / "clf.json", {"n_recordings": len(recs)})
    monkeypatch.setattr(bh.Judge, "__init__", _fast_judge_init(bh.Judge.__init__))
    monkeypatch.setattr(bh, "machine", lambda: {"cpu_count": 1})
    out = tmp_path / "heldout.json"
    assert bh.main(["--rows", "real,gl", "--n", "1", "--data", str(data), "--classifier",
                    str(tmp_path / "clf.json"), "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    for k in ("machine", "settings", "classes", "recordings_per_class", "classifier", "cases", "rows", "per_case",
              "table_markdown", "wall_seconds"):
        assert k in rep
    assert len(rep["cases"]) == len(labels.CLASSES)
    rows = {r["row"]: r for r in rep["rows"]}
    real = rows["real montage"]
    assert real["status"] == "ok" and real["n"] == 8 and 0 <= real["layout_class_hits"] <= 8
    assert "same_as_gl" in real and real["flatness_mean"] is not None
    case = rep["per_case"]["real montage"][0]
    for k in ("case", "class", "prompt_class", "label", "label_full", "flatness", "seconds"):
        assert k in case


def _fast_judge_init(orig):
    def init(self, records, audios, full, l2=1e-2, iters=2000):
        orig(self, records, audios, full, l2=l2, iters=100)

    return init


def test_run_row_rejects_unknown_prompt_mode():
    from benchmarks.bench_heldout import Packs, run_row

    with pytest.raises(ValueError):
        run_row("diffusion", "sideways", None, Packs())


def test_library_row_is_skipped_while_engine_library_is_missing(monkeypatch):
    import benchmarks.bench_heldout as bh

    real_import = bh.importlib.import_module

    def fake_import(name, *a, **k):
        if name == "engine.library":
            raise ModuleNotFoundError("No module named 'engine.library'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(bh.importlib, "import_module", fake_import)
    packs = bh.Packs()
    with pytest.raises(bh.NotAvailable, match="engine.library cannot be imported"):
        packs.get("library")
    with pytest.raises(bh.NotAvailable):  # remembered: not retried for every case
        packs.get("library")
