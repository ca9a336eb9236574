"""Train the independent judge on the held-out recordings and measure it (grouped CV).

    .venv/bin/python -m benchmarks.heldout.train     # -> benchmarks/results/heldout_classifier.json

Cross-validation: 5 folds, every recording's windows held out together (group = source file),
stratified by class; and leave-one-package-out (group = package: the judge must recognise a
class in a game it never heard). The file's class = mean window probabilities. The saved model
is fitted on all recordings. A near-duplicate check against the library's recordings
(data/sfx, when present) flags held-out files whose features match a library file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.heldout.classifier import (  # noqa: E402
    LogReg,
    audio_windows_features,
    cross_validate,
    dataset,
    grouped_folds,
)
from benchmarks.heldout.fetch import DATA, SR, load_audio, load_index  # noqa: E402
from benchmarks.heldout.labels import CLASSES, PACKAGES  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "heldout_classifier.json"
L2 = 1e-2  # fixed beforehand, not tuned on the CV folds


def library_near_duplicates(records, audios, sfx: Path, tol: float = 0.02) -> list[dict]:
    """Held-out files whose first-window features are within ``tol`` (relative L2) of a library file's."""
    import soundfile as sf

    files = sorted(sfx.rglob("*.flac")) if sfx.is_dir() else []
    if not files:
        return []
    lib = []
    for f in files:
        a, sr = sf.read(str(f), dtype="float32", always_2d=True)
        lib.append(audio_windows_features(a.mean(axis=1), sr)[0])
    L = np.stack(lib)
    out = []
    for rec, a in zip(records, audios, strict=False):
        v = audio_windows_features(a, SR)[0]
        rel = np.linalg.norm(L - v, axis=1) / (np.linalg.norm(v) + 1e-9)
        j = int(rel.argmin())
        if rel[j] < tol:
            out.append({"id": rec["id"], "library_file": files[j].name, "relative_distance": float(rel[j])})
    return out


def library_transfer(model: LogReg, sfx: Path, per_class: int = 40) -> dict | None:
    """How the judge classes the library's own recordings of the same classes (data/sfx/<class>/,
    the first ``per_class`` of each, sorted): the judge's transfer to another set of games. The
    library row's figure is read against this, not against the held-out CV."""
    import soundfile as sf

    if not sfx.is_dir():
        return None
    hits, n, per = 0, 0, {}
    for c in CLASSES:
        files = sorted((sfx / c).glob("*.flac"))[:per_class]
        h = 0
        for f in files:
            a, sr = sf.read(str(f), dtype="float32", always_2d=True)
            h += model.classify_audio(a.mean(axis=1), sr)[0] == c
        per[c] = f"{h}/{len(files)}"
        hits, n = hits + h, n + len(files)
    return {"accuracy": hits / n if n else None, "hits": hits, "n": n, "per_class": per}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-dup-check", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.time()
    records = load_index(args.data)
    audios = [load_audio(r, args.data) for r in records]
    X, y, g, w = dataset(records, audios, SR, list(CLASSES))
    print(f"{len(records)} recordings, {len(y)} windows, {X.shape[1]} features ({time.time() - t0:.0f} s)")
    gcls = [CLASSES.index(r["class"]) for r in records]
    cv = cross_validate(X, y, g, w, list(CLASSES), grouped_folds(gcls, args.folds, args.seed), l2=L2)
    print(f"grouped {args.folds}-fold CV (group = source file): file accuracy {cv['file_accuracy']:.3f} "
          f"({cv['file_hits']}/{cv['n_files']}), window accuracy {cv['window_accuracy']:.3f}")
    pkgs = sorted({r["package"] for r in records})
    pkg_fold = np.array([pkgs.index(r["package"]) for r in records])
    cv_pkg = cross_validate(X, y, g, w, list(CLASSES), pkg_fold, l2=L2)
    print(f"leave-one-package-out: file accuracy {cv_pkg['file_accuracy']:.3f} ({cv_pkg['file_hits']}/{cv_pkg['n_files']})")
    dups = [] if args.no_dup_check else library_near_duplicates(records, audios, ROOT / "data" / "sfx")
    print(f"near-duplicates of library recordings: {len(dups)} {dups[:5]}")
    model = LogReg.fit(X, y, list(CLASSES), l2=L2, sample_weight=w)
    train_acc = float(np.mean([model.classify_audio(a, SR)[0] == r["class"] for r, a in zip(records, audios, strict=False)]))
    transfer = None if args.no_dup_check else library_transfer(model, ROOT / "data" / "sfx")
    print(f"judge on the library's own recordings: {transfer}")
    counts = {c: sum(r["class"] == c for r in records) for c in CLASSES}
    by_pkg = {p: {c: sum(r["class"] == c and r["package"] == p for r in records) for c in CLASSES} for p in pkgs}
    extra = {
        "trained_on": "held-out recordings only (benchmarks/heldout/labels.py); none of the library's packages",
        "n_recordings": len(records), "n_windows": int(len(y)), "counts": counts, "counts_by_package": by_pkg,
        "licenses": {p: PACKAGES[p] for p in pkgs},
        "chance": 1 / len(CLASSES), "majority": max(counts.values()) / len(records),
        "cv_grouped_by_file": cv, "cv_leave_one_package_out": cv_pkg, "train_file_accuracy": train_acc,
        "library_near_duplicates": dups, "judge_on_library_recordings": transfer, "recordings": [r["id"] for r in records],
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out, extra)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB, {time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
