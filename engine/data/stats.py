"""``v2a data stats``: what the data root holds, per split (from manifests and clip JSON only)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from engine.data import SPLITS


def library_stats(root: Path) -> dict:
    out: dict = {"root": str(root)}
    manifest = root / "sfx" / "manifest.jsonl"
    if manifest.exists():
        rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        lib: dict = {"recordings": len(rows), "classes": len({r["class"] for r in rows}), "splits": {}}
        for split in SPLITS:
            rs = [r for r in rows if r["split"] == split]
            lib["splits"][split] = {
                "recordings": len(rs),
                "source_files": len({(r["source"], r["original_path"]) for r in rs}),
                "hours": round(sum(r["duration"] for r in rs) / 3600, 3),
                "licenses": dict(Counter(r["license"] for r in rs).most_common()),
            }
        per_class: dict = defaultdict(dict)
        for cls in sorted({r["class"] for r in rows}):
            rs = [r for r in rows if r["class"] == cls]
            d = np.array([r["duration"] for r in rs])
            per_class[cls] = {
                **{s: sum(r["split"] == s for r in rs) for s in SPLITS},
                "total": len(rs),
                "median_s": round(float(np.median(d)), 2),
                "max_s": round(float(d.max()), 2),
                "centroid_hz": round(float(np.median([r.get("centroid_hz", 0.0) for r in rs])), 0),
                "subclasses": len({r["subclass"] for r in rs}),
                "sources": dict(Counter(r["source"] for r in rs)),
            }
        lib["per_class"] = dict(per_class)
        lib["licenses"] = dict(Counter(r["license"] for r in rows).most_common())
        out["library"] = lib
    clips: dict = {}
    for split in SPLITS:
        metas = [json.loads(p.read_text()) for p in sorted((root / "clips" / split).glob("*.json"))]
        if not metas:
            continue
        ev = [e for m in metas for e in m["events"]]
        clips[split] = {
            "clips": len(metas),
            "hours": round(sum(m["duration"] for m in metas) / 3600, 3),
            "duration_range_s": [round(min(m["duration"] for m in metas), 2), round(max(m["duration"] for m in metas), 2)],
            "fps": dict(Counter(m["fps"] for m in metas).most_common()),
            "sizes": dict(Counter(f"{m['width']}x{m['height']}" for m in metas).most_common()),
            "events": len(ev),
            "events_per_clip": round(len(ev) / len(metas), 2),
            "event_classes": dict(Counter(e["class"] for e in ev).most_common()),
            "events_at_first_frame": sum(e["frame"] == 0 for e in ev),
            "events_at_last_frame": sum(e["frame"] == m["n_frames"] - 1 for m in metas for e in m["events"]),
        }
    if clips:
        out["clips"] = clips
    index = root / "cache" / "index.jsonl"
    if index.exists():
        rows = [json.loads(line) for line in index.read_text().splitlines() if line.strip()]
        out["cache"] = {"entries": len(rows), "per_split": dict(Counter(r["split"] for r in rows))}
    return out


def format_stats(st: dict) -> str:
    lines = [f"data root: {st['root']}"]
    lib = st.get("library")
    if lib is None:
        lines.append("no sound library (run `v2a data sfx`)")
    else:
        lines.append(f"library: {lib['recordings']} recordings, {lib['classes']} classes")
        for s, v in lib["splits"].items():
            lic = ", ".join(f"{k} {n}" for k, n in v["licenses"].items())
            lines.append(f"  {s:5s} {v['recordings']:5d} recordings from {v['source_files']} files, {v['hours'] * 60:.1f} min; {lic}")
        lines.append(f"  {'class':12s} {'train':>5s} {'val':>4s} {'test':>4s} {'median s':>8s} {'centroid':>8s}")
        for c, v in sorted(lib["per_class"].items(), key=lambda kv: -kv[1]["total"]):
            lines.append(f"  {c:12s} {v['train']:5d} {v['val']:4d} {v['test']:4d} {v['median_s']:8.2f} {v['centroid_hz']:8.0f}")
    for s, v in st.get("clips", {}).items():
        lines.append(
            f"clips {s}: {v['clips']} clips, {v['hours'] * 60:.1f} min, {v['duration_range_s'][0]}-{v['duration_range_s'][1]} s, "
            f"{v['events']} events ({v['events_per_clip']}/clip), fps {v['fps']}, sizes {v['sizes']}"
        )
    if "cache" in st:
        lines.append(f"cache: {st['cache']['entries']} entries {st['cache']['per_split']}")
    return "\n".join(lines)


def class_analysis(root: Path, per_class: int = 12, seed: int = 0) -> dict:
    """Listening substitute: measured features of a random sample of recordings per class.

    For each class: median duration, spectral centroid, share of energy below 500 Hz and
    above 4 kHz, onsets per recording (``engine.audio.detect_onsets``, librosa defaults),
    and attack sharpness (rise time from 10 % to 90 % of the peak envelope). Classes whose
    sounds should be one-shot impacts must show short durations, about one onset and fast
    attacks; textures (wind, rain, ambience) long durations and slow attacks.
    """
    import soundfile as sf

    from engine.audio import detect_onsets
    from engine.data import clean
    from engine.data.library import read_manifest, sound_path

    manifest = root / "sfx" / "manifest.jsonl"
    rows = read_manifest(manifest)
    rng = np.random.default_rng(seed)
    out = {}
    for cls in sorted({r["class"] for r in rows}):
        rs = [r for r in rows if r["class"] == cls]
        pick = [rs[i] for i in rng.choice(len(rs), min(per_class, len(rs)), replace=False)]
        feats = defaultdict(list)
        for r in pick:
            a, sr = sf.read(str(sound_path(manifest, r)), dtype="float32")
            spec = np.abs(np.fft.rfft(a)) ** 2
            fr = np.fft.rfftfreq(len(a), 1 / sr)
            tot = max(float(spec.sum()), 1e-12)
            env = clean.envelope(a, sr, 200.0)
            i90 = int(np.argmax(env >= 0.9))
            i10 = int(np.argmax(env >= 0.1))
            feats["duration"].append(len(a) / sr)
            feats["centroid"].append(float((spec * fr).sum() / tot))
            feats["low"].append(float(spec[fr < 500].sum() / tot))
            feats["high"].append(float(spec[fr > 4000].sum() / tot))
            feats["onsets"].append(len(detect_onsets(a, sr)))
            feats["attack_ms"].append((i90 - i10) * 5.0)
        out[cls] = {
            "n": len(rs),
            "sampled": len(pick),
            "median_duration_s": round(float(np.median(feats["duration"])), 2),
            "median_centroid_hz": round(float(np.median(feats["centroid"]))),
            "median_low_share": round(float(np.median(feats["low"])), 2),
            "median_high_share": round(float(np.median(feats["high"])), 2),
            "median_onsets": float(np.median(feats["onsets"])),
            "median_attack_ms": float(np.median(feats["attack_ms"])),
            "examples": [f"{r['id']}: {r['description']}" for r in pick[:3]],
        }
    return out


def attribution_list(manifest: Path) -> str:
    """Markdown list of every distinct (package, license, credit) in the library with counts:
    the notice a model pack trained on this library must carry."""
    from engine.data.library import read_manifest
    from engine.data.sources import PACKAGES

    rows = read_manifest(manifest)
    groups: dict[tuple[str, str, str], int] = Counter((r["source"], r["license"], r["attribution"]) for r in rows)
    lines = []
    for pkg in sorted({k[0] for k in groups}):
        home = PACKAGES[pkg].homepage if pkg in PACKAGES else ""
        n = sum(v for k, v in groups.items() if k[0] == pkg)
        lines.append(f"- **{pkg}** ({home}), {n} recordings:")
        for (p, lic, credit), v in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][2])):
            if p == pkg:
                lines.append(f"  - {lic}, {v} files: {credit}")
    return "\n".join(lines)
