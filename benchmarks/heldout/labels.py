"""Labels of the held-out sound effects: explicit rules on package + path, nothing guessed.

The held-out set comes from Debian game-data packages that the project's Foley library does NOT
use (the library: 0ad-data, widelands-data, wesnoth-1.16-data, minetest-data,
tuxpaint-stamps-default, lugaru-data, freedroidrpg-data, sonic-pi-samples). Each rule is
``(package, regex on the lower-cased path inside the unpacked package, class)``; the first rule
that matches wins; ``class=None`` drops the file (the reason is the rule's comment). A file no
rule matches is not used. Archives inside a package (Quake ``.pk3``, Warzone ``.wz``) are
unpacked next to themselves as ``<name>.d/`` by ``benchmarks/heldout/fetch.py``.

The class names are the project's taxonomy's (``engine.data.taxonomy``), so a prompt can name
them; the classifier that judges them is NOT the project's (``benchmarks/heldout/classifier.py``).
freedink-data is downloaded for completeness but dropped: its free sound replacements are partly
taken from Wesnoth (README-REPLACEMENTS.txt), which the library uses.
"""

from __future__ import annotations

import re

# The 8 classes of the benchmark (all in engine.data.taxonomy's VISUAL_KIND).
CLASSES: tuple[str, ...] = ("bird", "explosion", "fire", "footstep", "gunshot", "impact", "livestock", "water")

# What a prompt says for each class (the "right" prompt; a "wrong" prompt is another class's).
PROMPTS: dict[str, str] = {
    "bird": "birds chirping",
    "explosion": "an explosion",
    "fire": "a fire crackling",
    "footstep": "footsteps",
    "gunshot": "gunshots",
    "impact": "an impact, something hitting hard",
    "livestock": "cows, sheep and pigs calling",
    "water": "water splashing",
}

# Packages (Debian bookworm) and the licence of the sound files we use, from
# /usr/share/doc/PKG/copyright (the Files: stanza covering the sounds).
PACKAGES: dict[str, str] = {
    "openarena-data": "GPL-2+ (Files: *)",
    "openarena-088-data": "GPL-2+ (Files: *)",
    "warzone2100-data": "GPL-2+ (Files: *)",
    "megaglest-data": "CC-BY-SA-3.0 (Files: *)",
    "hedgewars-data": "GFDL-1.3 (Files: share/hedgewars/Data/Sounds/*); CC-BY-SA-3.0 (Droplet*.ogg)",
    "warmux-data": "GPL-2+",
    "scorched3d-data": "GPL-2+ (Files: *); CC-BY-SA-3 (data/globalmods/apoc/*)",
    "freedink-data": "not used (sounds partly from Wesnoth)",
}

# Packages the project's library uses: never a source of held-out data.
LIBRARY_PACKAGES = frozenset({
    "0ad-data", "widelands-data", "wesnoth-1.16-data", "minetest-data", "tuxpaint-stamps-default",
    "lugaru-data", "freedroidrpg-data", "sonic-pi-samples",
})

AUDIO_EXT = (".wav", ".ogg", ".flac", ".mp3")

D = None  # drop

RULES: list[tuple[str, str, str | None]] = [
    # ------------------------------------------------------------------ global drops
    ("*", r"/(music|voices?|announcer|taunts?|tutorial|countdown|feedback)/", D),  # music, speech
    ("freedink-data", r".", D),  # partly Wesnoth's sounds (the library uses Wesnoth)
    # ------------------------------------------------------------------ OpenArena (GPL-2+)
    ("openarena-data", r"sound/player/footsteps/(step|boot|clank|flesh|mech)\d\.wav$", "footstep"),
    ("openarena-data", r"sound/player/footsteps/", D),  # splash (step in water: ambiguous), energy (synthetic)
    ("openarena-data", r"sound/weapons/machinegun/machgf\db\.wav$", "gunshot"),
    ("openarena-data", r"sound/weapons/shotgun/sshotf1b\.wav$", "gunshot"),
    ("openarena-data", r"sound/weapons/rocket/rocklx1a\.wav$", "explosion"),
    ("openarena-data", r"sound/world/(fire1|fire2|firesoft)\.wav$", "fire"),
    ("openarena-data", r"sound/world/(waterfall|drops)\.wav$", "water"),
    # ------------------------------------------------------------------ Warzone 2100 (GPL-2+)
    ("warzone2100-data", r"audio/sfx/explons/(lrgexpl|smlexpl|atnkexpl|mpodexpl)\.ogg$", "explosion"),
    ("warzone2100-data", r"audio/sfx/weapons/(mgbar\d|mgheavy|asltmg|mgtower)\.ogg$", "gunshot"),
    ("warzone2100-data", r"audio/sfx/weapons/(smlcan|medcan|lrgcan|rapdcan|hivelcan)\.ogg$", "gunshot"),
    ("warzone2100-data", r"audio/sfx/weapons/flmthrow\.ogg$", "fire"),
    ("warzone2100-data", r"audio/sfx/weapons/splash\.ogg$", "water"),
    # ------------------------------------------------------------------ MegaGlest (CC-BY-SA-3.0)
    ("megaglest-data", r"data/core/water_sounds/water\d\.wav$", "water"),
    ("megaglest-data", r"tilesets/[^/]+/sounds/(chicken|owl|rooster|hawk)\.(wav|ogg)$", "bird"),
    ("megaglest-data", r"units/chicken/sounds/chicken_(ack|die|select|standing)\d*\.wav$", "bird"),
    ("megaglest-data", r"tilesets/[^/]+/sounds/mudchute_cow_\d\.ogg$", "livestock"),
    ("megaglest-data", r"commondata/sounds/(cow|pig)_(ack|die|select)\d+\.wav$", "livestock"),
    ("megaglest-data", r"units/sheep/sounds/[^/]+\.wav$", "livestock"),
    ("megaglest-data", r"units/wild_sow/sounds/pig_[^/]+\.wav$", "livestock"),
    ("megaglest-data", r"commondata/sounds/arrow_hit\d\.wav$", "impact"),
    # ------------------------------------------------------------------ Hedgewars (GFDL-1.3 / CC-BY-SA-3.0)
    ("hedgewars-data", r"sounds/steps\.ogg$", "footstep"),
    ("hedgewars-data", r"sounds/explosion\.ogg$", "explosion"),
    ("hedgewars-data", r"sounds/(shotgunfire|gun|minigun)\.ogg$", "gunshot"),
    ("hedgewars-data", r"sounds/flamethrower\.ogg$", "fire"),
    ("hedgewars-data", r"sounds/(splash|droplet\d)\.ogg$", "water"),
    ("hedgewars-data", r"sounds/(airmine_impact|frozen_hog_impact|graveimpact|knife_impact|melonimpact"
     r"|mineimpact|firepunch_hit|baseballbat|bump)\.ogg$", "impact"),
    # ------------------------------------------------------------------ WarMUX (GPL-2+)
    ("warmux-data", r"sound/default/misc/step\.ogg$", "footstep"),
    ("warmux-data", r"sound/default/weapons/(explosion\d|dynamite_exp|riot_bomb_exp)\.ogg$", "explosion"),
    ("warmux-data", r"sound/default/weapons/(gun|m16|shotgun)\.ogg$", "gunshot"),
    ("warmux-data", r"sound/default/weapons/(flame|embers\d)\.ogg$", "fire"),
    ("warmux-data", r"sound/default/weapons/(slap|anvil_collision|grenade_bounce|gnu_bounce|footbomb_bounce)\.ogg$",
     "impact"),
    ("warmux-data", r"sound/default/misc/box_hitting_ground\.ogg$", "impact"),
    # ------------------------------------------------------------------ Scorched 3D (GPL-2+ / CC-BY-SA-3)
    ("scorched3d-data", r"none/data/wav/explosions/(small|medium|large|xlarge|tank)\.wav$", "explosion"),
    ("scorched3d-data", r"apoc/data/wav/explosions/(exp|tank|meteor)\.wav$", "explosion"),
    ("scorched3d-data", r"none/data/wav/explosions/napalm\.wav$", "fire"),
    ("scorched3d-data", r"apoc/data/wav/explosions/thud\.wav$", "impact"),
    ("scorched3d-data", r"apoc/data/wav/shoot/(machinegun|shotgun)\.wav$", "gunshot"),
    ("scorched3d-data", r"none/data/wav/misc/(birdchirp\d|birds\d|gull\d)\.wav$", "bird"),
    ("scorched3d-data", r"apoc/data/wav/misc/rooster\.wav$", "bird"),
    ("scorched3d-data", r"apoc/data/wav/misc/(cows|moo|sheep)\.wav$", "livestock"),
    ("scorched3d-data", r"none/data/wav/misc/(splash|oceanwaves)\.wav$", "water"),
]

_COMPILED = [(pkg, re.compile(rx), cls) for pkg, rx, cls in RULES]


def label(package: str, path: str) -> str | None:
    """The class of ``path`` (inside ``package``'s unpacked tree), or None (dropped/unlabelled)."""
    if package in LIBRARY_PACKAGES:
        return None
    p = path.lower().replace("\\", "/")
    if not p.endswith(AUDIO_EXT):
        return None
    for pkg, rx, cls in _COMPILED:
        if pkg in ("*", package) and rx.search(p):
            return cls
    return None


def rule_table_markdown() -> str:
    """The rule table for docs/HELDOUT.md."""
    lines = ["| package | path rule (regex, lower-case) | class |", "|---|---|---|"]
    for pkg, rx, cls in RULES:
        lines.append(f"| {pkg} | `{rx.replace('|', '¦')}` | {cls or 'dropped'} |")
    return "\n".join(lines)
