"""A tiny synthetic sound library for tests, smoke runs and benchmarks (no downloads).

The recordings are synthesised (decaying noise bursts, clicks, tones, steady noise) with
names that the taxonomy rules recognise, so the whole pipeline - cleaning, de-duplication,
license filter, splits, rendering, caching - runs on them in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.data.sources import SourceFile

SR = 22050


def _burst(rng: np.random.Generator, dur: float, decay: float, lead: float, tone: float | None = None) -> np.ndarray:
    n = int(dur * SR)
    t = np.arange(n) / SR
    env = np.exp(-np.maximum(t - lead, 0) / decay) * (t >= lead)
    # Every file gets its own tone and decay so that only the planted copies are duplicates.
    f0 = tone if tone is not None else float(rng.uniform(150, 3000))
    sig = np.sin(2 * np.pi * f0 * t) + (0.2 if tone is not None else 0.6) * rng.normal(0, 1, n)
    return (0.5 * env * sig).astype(np.float32)


def synthetic_sources(folder: Path, seed: int = 0) -> list[SourceFile]:
    """Write ~40 WAV files into ``folder`` and return them as library source files.

    Includes an exact duplicate, a re-levelled copy (same audio after normalisation), a file
    with a refused license, a voice file the taxonomy skips, and a 14 s ambience that is
    split into segments.
    """
    import soundfile as sf

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    mt = "usr/share/games/minetest/games/minetest_game/mods"
    specs: list[tuple[str, str, np.ndarray, str]] = []
    for i in range(8):
        surface = ["wood", "grass", "gravel", "sand"][i % 4]
        specs.append(("minetest-data", f"{mt}/default/sounds/default_{surface}_footstep.{i}.ogg",
                      _burst(rng, 0.5, 0.03 + 0.01 * i, 0.05 + 0.01 * i, tone=180.0 * (i + 1)), "CC-BY-SA-3.0"))
    for i in range(8):
        mat = ["wood", "metal", "stone", "dirt"][i % 4]
        specs.append(("0ad-data", f"usr/share/games/0ad/mods/public/public.zip:audio/attack/impact/arrow_{mat}_{i:02d}.ogg",
                      _burst(rng, 0.6, 0.08, 0.1, tone=200.0 * 1.45**i), "CC-BY-SA-3.0"))
    for i in range(6):
        specs.append(("minetest-data", f"{mt}/doors/sounds/doors_door_{'open' if i % 2 else 'close'}{i}.ogg",
                      _burst(rng, 0.8, 0.12, 0.08, tone=120.0 + 30 * i), "CC0"))
    for i in range(6):
        specs.append(("minetest-data", f"{mt}/tnt/sounds/tnt_explode{i}.ogg", _burst(rng, 1.5, 0.2 + 0.1 * i, 0.05, tone=60.0 + 45 * i), "CC-BY-SA-3.0"))
    for i in range(6):
        specs.append(("widelands-data", f"usr/share/games/widelands/data/sound/animals/bird1_{i:02d}.ogg",
                      _burst(rng, 1.0, 0.3, 0.1, tone=2000.0 + 200 * i), "GPL-2.0-or-later"))
    amb = (0.1 * rng.normal(0, 1, int(14.0 * SR))).astype(np.float32)
    amb *= (1 + 0.5 * np.sin(np.arange(len(amb)) / SR * 2 * np.pi * 0.3)).astype(np.float32)
    specs.append(("0ad-data", "usr/share/games/0ad/mods/public/public.zip:audio/ambient/dayscape/day_temperate_11.ogg", amb, "CC-BY-SA-3.0"))
    base = specs[0]
    specs.append((base[0], base[1].replace(".0.ogg", ".dup.ogg"), base[2], base[3]))  # same bytes
    specs.append((base[0], base[1].replace(".0.ogg", ".quiet.ogg"), base[2] * 0.5, base[3]))  # same after normalisation
    specs.append(("sonic-pi-samples", "usr/share/sonic-pi/samples/perc_impact9.flac", _burst(rng, 0.4, 0.05, 0.02), "unknown"))
    specs.append(("0ad-data", "usr/share/games/0ad/mods/public/public.zip:audio/voice/greek/civ/hello.ogg", _burst(rng, 0.5, 0.2, 0.0, tone=200.0), "CC-BY-SA-3.0"))
    out = []
    for i, (pkg, rel, audio, lic) in enumerate(specs):
        p = folder / f"src{i:03d}.wav"
        sf.write(str(p), audio, SR, subtype="PCM_16")
        out.append(SourceFile(pkg, rel, p, lic, f"synthetic test sound {i}"))
    return out
