"""The sound library index, search and the library engine, on small recordings made here.

A user-style folder of WAV files (one sub-folder per class, named as an editor would) is
indexed with the real text encoder and classifier; no Debian data and no network are needed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.library.labels import CLASS_WORDS, CLASSES, keyword_classes, label_from_path

SR = 44100


def _click_recording(sr: int = SR, pre_s: float = 0.05, length_s: float = 0.4, seed: int = 0) -> np.ndarray:
    """Silence, then a one-sample click followed by a short decaying noise burst."""
    rng = np.random.default_rng(seed)
    n = int(length_s * sr)
    y = np.zeros(n, np.float32)
    k = int(pre_s * sr)
    tail = np.exp(-np.arange(n - k) / (0.03 * sr)) * rng.standard_normal(n - k) * 0.08
    y[k:] = tail.astype(np.float32)
    y[k] = 0.9
    return y


def _class_sound(cls: str, i: int) -> np.ndarray:
    """A distinct short sound per class (the index needs audio, search only its names)."""
    rng = np.random.default_rng(abs(hash(cls)) % 2**32 + i)
    t = np.arange(int(0.5 * SR)) / SR
    f = 120.0 + 60.0 * (CLASSES.index(cls) if cls in CLASSES else 0)
    env = np.exp(-t / 0.15)
    return (0.4 * env * np.sin(2 * np.pi * f * t) + 0.05 * env * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("my_sfx")
    for cls in CLASSES:
        d = root / CLASS_WORDS[cls][0].replace(" ", "_")
        d.mkdir()
        sf.write(str(d / f"{cls}_01.wav"), _class_sound(cls, 0), SR)
    steps = root / "Footsteps_gravel"
    for i in range(3):
        sf.write(str(steps / f"gravel_walk_{i:02d}.wav") if steps.exists() else str(_mk(steps) / f"gravel_walk_{i:02d}.wav"),
                 _click_recording(seed=i), SR)
    rain = root / "rain_loops"
    rain.mkdir()
    rng = np.random.default_rng(3)
    sf.write(str(rain / "rain_heavy.flac"), (0.1 * rng.standard_normal(int(3.0 * SR))).astype(np.float32), SR)
    # broken and odd files: listed and skipped, never modified
    (root / "broken").mkdir()
    (root / "broken" / "door_slam.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage" + bytes(range(200)))
    (root / "broken" / "notes.txt").write_text("not audio")
    sf.write(str(root / "broken" / "door_silent.wav"), np.zeros(SR // 2, np.float32), SR)
    (root / "broken" / "empty.flac").write_bytes(b"")
    sf.write(str(root / "broken" / "mystery_sound.wav"), _class_sound("door", 1), SR)
    return root


def _mk(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    return d


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def library(user_folder, tmp_path_factory):
    from engine.library.index import Skipped, add_folder
    from engine.progress import run_to_completion

    before = _hashes(user_folder)
    skipped: list[Skipped] = []
    out = tmp_path_factory.mktemp("index")
    from engine.library.index import LibraryIndex

    empty = LibraryIndex([], np.zeros((0, 384), np.float32), np.zeros((0, 1), np.float32), [], out)
    index = run_to_completion(add_folder(empty, user_folder, skipped=skipped))
    assert _hashes(user_folder) == before, "indexing must never modify the user's files"
    return index, skipped, out


# ------------------------------------------------------------------------- labels ----
def test_every_class_name_is_recognised_in_text():
    for cls in CLASSES:
        assert cls in keyword_classes(cls.replace("_", " ")), cls
        assert cls in keyword_classes(f"some {CLASS_WORDS[cls][0]} please"), cls


@pytest.mark.parametrize(
    ("rel", "cls", "material"),
    [
        ("SFX/Footsteps/gravel_walk_03.wav", "footstep", "gravel"),
        ("Foley/Doors/wood_door_close.flac", "door", "wood"),
        ("ambience/Rain/heavy rain on roof.ogg", "rain", ""),
        ("misc/dog_bark_02.mp3", "dog", ""),
        ("misc/untitled_take_7.wav", None, ""),
    ],
)
def test_labels_come_from_folder_and_file_names(rel, cls, material):
    lab = label_from_path(rel)
    assert lab.cls == cls
    assert lab.material == material


# ------------------------------------------------------------------ index + search ----
def test_user_folder_broken_files_are_listed_and_skipped(library, user_folder):
    index, skipped, _ = library
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert "notes.txt" in reasons and "not an audio file" in reasons["notes.txt"]
    assert "door_slam.wav" in reasons  # garbage after a RIFF header
    assert "empty.flac" in reasons
    assert "silent" in reasons["door_silent.wav"]
    assert "mystery_sound.wav" in reasons and "no sound class" in reasons["mystery_sound.wav"]
    paths = {Path(r.path).name for r in index.records}
    assert not paths & set(reasons), "a skipped file must not be indexed"
    # every class folder is indexed in place, with the user's own path
    assert {r.cls for r in index.records} == set(CLASSES)
    assert all(Path(r.path).is_relative_to(user_folder) for r in index.records)
    assert all(r.user and r.source.startswith("user:") for r in index.records)


def test_retrieval_ranks_the_right_class_first_for_every_class_name(library):
    from engine.library.search import choose_class, search

    index, _, _ = library
    for cls in CLASSES:
        for query in (cls.replace("_", " "), CLASS_WORDS[cls][0]):
            assert choose_class(index, query).cls == cls, query
            assert search(index, query, k=1)[0].cls == cls, query


def test_material_in_the_prompt_picks_those_recordings(library):
    from engine.library.search import search

    index, _, _ = library
    top = [index.records[h.index] for h in search(index, "footsteps on gravel", k=3)]
    assert all(r.cls == "footstep" and r.material == "gravel" for r in top)


def test_a_prompt_that_matches_nothing_names_the_classes(library):
    from engine.library.index import LibraryError
    from engine.library.search import choose_class

    index, _, _ = library
    with pytest.raises(LibraryError) as exc:
        choose_class(index, "quarterly spreadsheet totals")
    assert "matches" in exc.value.message and "footstep" in exc.value.message and "rain" in exc.value.message


def test_index_round_trip_and_checksum(library):
    from engine.library.index import EMB_FILE, LibraryError, load_index

    index, _, out = library
    index.save(out)
    again = load_index(out)
    assert [r.id for r in again.records] == [r.id for r in index.records]
    assert np.allclose(again.text_emb, index.text_emb)
    data = bytearray((out / EMB_FILE).read_bytes())
    data[-1] ^= 0xFF
    (out / EMB_FILE).write_bytes(bytes(data))
    with pytest.raises(LibraryError, match="checksum"):
        load_index(out)
    index.save(out)  # repair for the other tests


# --------------------------------------------------------------------- placement ----
def _painted(times: list[float], duration: float, cps: float = 25.0):
    from engine.audio.layout import paint_event
    from engine.types import AudioLayout

    v = np.zeros((int(round(duration * cps)), 5), np.float32)
    for t in times:
        paint_event(v, t, cps, 0.08, 0, 4, 0.8)
    return AudioLayout(v, cps)


def _click_record(tmp_path: Path, sr: int = SR):
    from engine.library.index import ANALYSIS_RATE, _resample16, analyse
    from engine.library.records import SoundRecord

    y = _click_recording(sr)
    p = tmp_path / "click.wav"
    sf.write(str(p), y, sr, subtype="FLOAT")
    an = analyse(_resample16(y, sr))
    assert ANALYSIS_RATE == 16000
    return SoundRecord(id="click", path=str(p), start=0.0, duration=len(y) / sr, sample_rate=sr, cls="impact",
                       subclass="click", material="", description="click", source="test", license="CC0",
                       attribution="test", onset=an.onset, loudness_db=an.loudness_db, bands=an.bands)


def test_placement_puts_each_click_on_its_event_within_1ms(tmp_path):
    from engine.library.events import layout_events
    from engine.library.render import place_events

    rec = _click_record(tmp_path)
    layout = _painted([0.31, 0.77, 1.5, 2.22, 3.05], 4.0)
    events = layout_events(layout)
    assert len(events) == 5
    pl = place_events(layout, [rec], SR, 4.0, np.random.default_rng(0), vary=False)
    assert len(pl.onsets) == 5
    for ev in events:
        # the click is the loudest sample of its window: find it in the output
        a, b = int((ev.onset - 0.02) * SR), int((ev.onset + 0.05) * SR)
        k = a + int(np.argmax(np.abs(pl.audio[a:b])))
        assert abs(k / SR - ev.onset) <= 0.001, (k / SR, ev.onset)
    # nothing sounds before the first event or after the last event's tail
    assert np.max(np.abs(pl.audio[: int((events[0].onset - 0.002) * SR)])) == 0.0


def test_fast_steps_get_one_hit_each_with_tails_cut_before_the_next(tmp_path):
    from engine.library.events import layout_events
    from engine.library.render import place_events

    rec = _click_record(tmp_path)
    times = [0.2 + 0.16 * i for i in range(10)]  # 6 steps per second
    layout = _painted(times, 2.2)
    events = layout_events(layout)
    assert len(events) == 10, [round(e.onset, 3) for e in events]
    pl = place_events(layout, [rec, rec], SR, 2.2, np.random.default_rng(1))
    assert len(pl.onsets) == 10
    for e2 in events[1:]:  # silence just before each next hit
        a, b = int((e2.onset - 0.011) * SR), int((e2.onset - 0.0005) * SR)
        assert np.max(np.abs(pl.audio[a:b])) < 1e-3 * np.max(np.abs(pl.audio))


def test_round_robin_never_repeats_immediately():
    from engine.library.render import RoundRobin

    rr = RoundRobin(4, np.random.default_rng(0))
    seq = [rr.next() for _ in range(200)]
    assert all(a != b for a, b in zip(seq, seq[1:], strict=False))
    assert set(seq) == {0, 1, 2, 3}


def test_texture_follows_the_layout_and_is_silent_where_it_is(library):
    from engine.library.render import texture
    from engine.types import AudioLayout

    index, _, _ = library
    rain = [r for r in index.records if r.cls == "rain" and "heavy" in r.description]
    assert rain
    cps = 25.0
    v = np.zeros((100, 5), np.float32)  # 4 s: silent, loud, silent, quiet
    v[25:50] = 0.55
    v[75:100] = 0.35
    pl = texture(AudioLayout(v, cps), rain, SR, 4.0, np.random.default_rng(0))
    rms = lambda a, b: float(np.sqrt(np.mean(pl.audio[int(a * SR) : int(b * SR)] ** 2)))  # noqa: E731
    assert rms(0.1, 0.9) < 1e-4 and rms(2.1, 2.9) < 1e-4
    assert rms(1.2, 1.8) > 3 * rms(3.2, 3.8) > 0


# ------------------------------------------------------------------ the engine ----
def test_library_engine_takes_credits_and_native_rate(library, tmp_path, cfr_clip):
    from engine.library.engine import LibraryPack
    from engine.library.engine import generate as library_generate
    from engine.progress import run_to_completion
    from engine.types import GenerationRequest

    index, _, _ = library
    lib = LibraryPack(index)
    layout = _painted([0.3, 0.9, 1.4], 2.0)
    req = GenerationRequest(video_path=str(cfr_clip.path), layout=layout, prompt="footsteps on gravel", takes=2, seed=5)
    takes = run_to_completion(library_generate(req, lib))
    assert len(takes) == 2 and all(t.sample_rate == 44100 for t in takes)
    assert abs(takes[0].duration - 2.0) < 0.05
    assert takes[0].meta["class"] == "footstep"
    assert all("gravel" in Path(r["path"]).name for r in takes[0].meta["recordings"])
    assert takes[0].meta["credits"] and "user's own" in takes[0].meta["credits"][0]
    assert not np.array_equal(takes[0].audio, takes[1].audio), "takes are different draws"


def test_cli_generate_writes_credits_next_to_the_export(library, tmp_path, cfr_clip, capsys):
    from engine.cli.main import main

    _, _, out_dir = library
    lay = tmp_path / "lay.npy"
    from engine.audio import save_layout

    save_layout(_painted([0.3, 1.1], 2.0), lay)
    out = tmp_path / "dub.wav"
    rc = main(["generate", str(cfr_clip.path), "-o", str(out), "--engine", "library", "--library", str(out_dir),
               "--layout", str(lay), "--prompt", "dog barking", "--quiet"])
    assert rc == 0
    credits = (tmp_path / "dub.credits.txt").read_text()
    assert "dog" in credits and "user's own" in credits
    info = sf.info(str(out))
    assert info.samplerate == 44100


def test_cli_reference_that_is_not_audio_is_one_line_exit_2(library, tmp_path, cfr_clip, capsys):
    from engine.cli.main import main

    _, _, out_dir = library
    bad = tmp_path / "ref.wav"
    bad.write_bytes(b"this is not a recording")
    out = tmp_path / "x.wav"
    rc = main(["generate", str(cfr_clip.path), "-o", str(out), "--engine", "library", "--library", str(out_dir),
               "--reference", str(bad), "--prompt", "door"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "ref.wav" in err[0] and "not an audio recording" in err[0]
    assert not out.exists()


def test_reference_file_is_placed_itself(library, tmp_path, cfr_clip):
    from engine.library.engine import LibraryPack
    from engine.library.engine import generate as library_generate
    from engine.progress import run_to_completion
    from engine.types import GenerationRequest

    index, _, _ = library
    ref = tmp_path / "my_knock.wav"
    sf.write(str(ref), _click_recording(48000, seed=9), 48000)
    req = GenerationRequest(video_path=str(cfr_clip.path), layout=_painted([0.5], 2.0), prompt="impact", reference=str(ref))
    take = run_to_completion(library_generate(req, LibraryPack(index)))[0]
    assert take.meta["recordings"][0]["path"] == str(ref.resolve())
    assert take.sample_rate == 48000  # the reference's native rate
    assert "reference my_knock.wav" in take.meta["notice"]


def test_numpy_text_encoder_matches_the_torch_one():
    from engine.text import encode_text
    from engine.text_numpy import encode_text_numpy

    texts = ["footsteps on gravel", "a heavy wooden door slams shut in an empty hall", "x"]
    assert np.abs(encode_text_numpy(texts) - encode_text(texts)).max() < 1e-5


def test_library_search_and_placement_never_load_torch(tmp_path):
    """Prompted library generation with a given layout runs without torch (memory, start-up)."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from engine.library.index import load_index, starter_library_dir\n"
        "from engine.library.engine import choose_sound, render\n"
        "from engine.types import AudioLayout\n"
        "idx = load_index(starter_library_dir())\n"
        "v = np.zeros((100, 5), np.float32); v[10:14] = 0.6; v[40:44] = 0.6\n"
        "pl = render(AudioLayout(v, 25.0), choose_sound(idx, 'footsteps on gravel', None), 4.0, 0)\n"
        "assert len(pl.onsets) == 2, pl.onsets\n"
        "rec = next(r for r in idx.records if r.cls == 'footstep')\n"  # a reference recording, searched by sound
        "pl = render(AudioLayout(v, 25.0), choose_sound(idx, '', rec.path), 4.0, 0)\n"
        "assert len(pl.onsets) == 2, pl.onsets\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
