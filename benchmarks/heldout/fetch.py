"""Fetch and index the held-out sound effects (Debian packages the library does not use).

    .venv/bin/python -m benchmarks.heldout.fetch            # download, unpack, index
    .venv/bin/python -m benchmarks.heldout.fetch --no-download   # index what is unpacked

``apt-get download PKG`` + ``dpkg -x`` into ``data/heldout/src/PKG/`` (gitignored; the audio is
never committed), Quake ``.pk3`` / Warzone ``.wz`` archives unpacked to ``<archive>.d/``, then
every audio file is labelled by ``labels.label`` (explicit rules), decoded to mono 16 kHz (the
engines' rate), trimmed of leading/trailing silence, de-duplicated by content (MegaGlest ships
the same chicken.wav in many tilesets) and written to ``data/heldout/index.json`` and
``data/heldout/audio/<id>.npy`` (float32, 16 kHz).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.heldout.labels import CLASSES, LIBRARY_PACKAGES, PACKAGES, label  # noqa: E402

DATA = ROOT / "data" / "heldout"
SR = 16000
MAX_SECONDS = 6.0  # longer recordings (ambiences) are cut: the montage uses at most a few seconds
ARCHIVES = (".pk3", ".wz")


def download(packages: list[str], data: Path = DATA) -> None:
    debs, src = data / "debs", data / "src"
    debs.mkdir(parents=True, exist_ok=True)
    for pkg in packages:
        if pkg in LIBRARY_PACKAGES:
            raise SystemExit(f"{pkg} is used by the library: not held-out")
        if not list(debs.glob(f"{pkg}_*.deb")):
            subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True)
        deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
        out = src / pkg
        if not out.is_dir():
            out.mkdir(parents=True)
            subprocess.run(["dpkg", "-x", str(deb), str(out)], check=True)
        for arc in [p for p in out.rglob("*") if p.suffix.lower() in ARCHIVES and p.is_file()]:
            dest = out / (arc.name + ".d")
            if dest.is_dir():
                continue
            with zipfile.ZipFile(arc) as z:
                for info in z.infolist():
                    if info.filename.lower().endswith((".wav", ".ogg", ".flac", ".mp3")):
                        z.extract(info, dest)


def decode(path: Path) -> np.ndarray:
    """Mono float32 at 16 kHz."""
    import soundfile as sf

    from engine.audio import resample

    try:
        a, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:
        import librosa

        a, sr = librosa.load(str(path), sr=None, mono=False)
        a = np.atleast_2d(a).T
    a = a.mean(axis=1)
    return resample(a, sr, SR).astype(np.float32) if sr != SR else a.astype(np.float32)


def trim(a: np.ndarray, top_db: float = 40.0) -> np.ndarray:
    """Cut leading/trailing parts quieter than ``top_db`` below the peak (5 ms frames)."""
    if a.size == 0 or np.max(np.abs(a)) <= 0:
        return a[:0]
    hop = SR // 200
    n = len(a) // hop
    if n == 0:
        return a
    env = np.abs(a[: n * hop]).reshape(n, hop).max(axis=1)
    loud = np.nonzero(env >= env.max() * 10 ** (-top_db / 20))[0]
    return a[loud[0] * hop : min(len(a), (loud[-1] + 1) * hop)]


def build_index(data: Path = DATA, log=print) -> list[dict]:
    src, audio_dir = data / "src", data / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    seen: dict[str, str] = {}
    dropped = {"duplicate": 0, "silent_or_short": 0}
    for pkg_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        pkg = pkg_dir.name
        for f in sorted(pkg_dir.rglob("*")):
            if not f.is_file():
                continue
            rel = f.relative_to(pkg_dir).as_posix()
            cls = label(pkg, rel)
            if cls is None or cls not in CLASSES:
                continue
            a = trim(decode(f))[: int(MAX_SECONDS * SR)]
            if len(a) < int(0.05 * SR) or np.max(np.abs(a)) < 1e-3:
                dropped["silent_or_short"] += 1
                continue
            a = (a / np.max(np.abs(a)) * 0.5).astype(np.float32)  # peak -6 dBFS
            digest = hashlib.sha1(np.round(a * 2**12).astype(np.int16).tobytes()).hexdigest()[:12]
            if digest in seen:
                dropped["duplicate"] += 1
                continue
            seen[digest] = rel
            rid = f"{cls}-{pkg.split('-')[0]}-{f.stem.lower()}-{digest[:6]}"
            np.save(audio_dir / f"{rid}.npy", a)
            records.append({"id": rid, "class": cls, "package": pkg, "path": rel,
                            "license": PACKAGES.get(pkg, "?"), "seconds": round(len(a) / SR, 3), "sha1": digest})
    (data / "index.json").write_text(json.dumps({"sample_rate": SR, "dropped": dropped, "records": records},
                                                indent=1) + "\n")
    counts = {c: sum(r["class"] == c for r in records) for c in CLASSES}
    log(f"{len(records)} recordings: {counts}; dropped {dropped}")
    return records


def load_index(data: Path = DATA) -> list[dict]:
    p = data / "index.json"
    if not p.is_file():
        raise FileNotFoundError(f"{p} missing: run `.venv/bin/python -m benchmarks.heldout.fetch` first")
    return json.loads(p.read_text())["records"]


def load_audio(rec: dict, data: Path = DATA) -> np.ndarray:
    return np.load(data / "audio" / f"{rec['id']}.npy")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-download", action="store_true")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args(argv)
    if not args.no_download:
        download([p for p in PACKAGES if p != "freedink-data"], args.data)
    build_index(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
