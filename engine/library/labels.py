"""Words for the library's sound classes, and labels for a user's own files from their names.

The class names are the Foley taxonomy's (engine.data.taxonomy). Each class has a few plain
words an editor would type ("footsteps", "steps", "walking"); search matches a prompt against
them word by word before it falls back to sentence embeddings, so typing a class name always
finds that class. A user's folder is labelled from its folder and file names the same way:
``SFX/Footsteps/gravel_walk_03.wav`` -> footstep / gravel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.data.taxonomy import SUSTAINED, VISUAL_KIND

# class -> words that name it (singular stems; the first is what the UI shows).
CLASS_WORDS: dict[str, tuple[str, ...]] = {
    "footstep": ("footstep", "step", "walk", "walking", "run", "running", "foot", "feet", "stomp"),
    "hooves": ("hooves", "hoof", "gallop", "canter", "trot"),
    "impact": ("impact", "hit", "thud", "punch", "knock", "bump", "arrow hit", "slam"),
    "hammer": ("hammer", "hammering", "anvil", "forge", "nail"),
    "chop": ("chop", "axe", "woodcutting", "chopping", "cleave"),
    "dig": ("dig", "digging", "shovel", "spade", "mining", "pickaxe"),
    "place": ("place", "put down", "set down", "drop", "block"),
    "blade": ("blade", "sword", "knife", "clang", "metal clash", "slash", "stab"),
    "break": ("break", "smash", "shatter", "crack", "snap", "breaking"),
    "door": ("door", "gate", "hatch", "creak", "latch"),
    "glass": ("glass", "bottle", "window", "clink"),
    "explosion": ("explosion", "explode", "blast", "boom", "bomb", "tnt", "detonation"),
    "crash": ("crash", "collapse", "rubble", "debris", "wreck", "demolish"),
    "gunshot": ("gunshot", "gun", "shot", "rifle", "pistol", "cannon", "musket", "fire arm"),
    "thunder": ("thunder", "lightning", "storm", "rumble"),
    "water": ("water", "splash", "river", "stream", "wave", "drip", "boat", "sea", "ocean"),
    "squelch": ("squelch", "mud", "slime", "goo", "squish"),
    "bubbling": ("bubbling", "bubble", "boil", "lava", "gurgle", "brew"),
    "fire": ("fire", "flame", "burning", "crackle", "campfire", "torch", "blaze"),
    "whoosh": ("whoosh", "swoosh", "swish", "swing", "swipe", "woosh", "air"),
    "bow": ("bow", "arrow", "archery", "twang", "crossbow"),
    "dog": ("dog", "bark", "barking", "growl", "puppy", "wolf", "howl"),
    "bird": ("bird", "chirp", "tweet", "chicken", "crow", "owl", "seagull", "song bird", "rooster"),
    "livestock": ("livestock", "cow", "sheep", "pig", "goat", "cattle", "moo", "bleat", "camel"),
    "horse": ("horse", "neigh", "whinny", "pony"),
    "insect": ("insect", "bee", "fly", "cricket", "buzz", "mosquito", "cicada"),
    "big_cat": ("big cat", "lion", "tiger", "roar", "panther"),
    "animal": ("animal", "creature", "elephant", "beast", "monkey", "bear"),
    "rain": ("rain", "drizzle", "downpour", "raindrop", "shower"),
    "wind": ("wind", "breeze", "gust", "howling wind", "blizzard"),
    "ambience": ("ambience", "ambient", "atmosphere", "room tone", "forest", "night", "city", "farm"),
    "machinery": ("machinery", "machine", "engine", "motor", "mill", "factory", "gear", "mechanism"),
    "rolling": ("rolling", "roll", "cart", "wheel", "wagon", "rumble of wheels"),
    "saw": ("saw", "sawing", "sawmill", "chainsaw"),
    "foliage": ("foliage", "bush", "leaves", "rustle", "grass", "branches", "tree"),
    "scrape": ("scrape", "scraping", "drag", "grind", "scratch", "slide"),
}
CLASSES = tuple(sorted(CLASS_WORDS))
assert set(CLASSES) == set(VISUAL_KIND), "class words must cover exactly the taxonomy's classes"

# Materials an editor names in a prompt ("footsteps on gravel"): matched against subclasses.
MATERIALS = (
    "gravel", "grass", "sand", "snow", "stone", "rock", "wood", "metal", "dirt", "water", "glass",
    "mud", "leaves", "tile", "carpet", "concrete", "ice", "steel", "iron", "leather", "cloth",
)

_WORD = re.compile(r"[a-z]+")


def words(text: str) -> list[str]:
    """Lower-case alphabetic words, with a plain English plural/verb ending removed."""
    out = []
    for w in _WORD.findall(text.lower().replace("_", " ")):
        out.append(stem(w))
    return out


def stem(w: str) -> str:
    for suffix in ("ing", "es", "s"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            base = w[: -len(suffix)]
            # "boxes" -> "box", "steps" -> "step"; keep "glass", "grass", "gas"
            if suffix == "s" and w.endswith("ss"):
                return w
            return base
    return w


_CLASS_STEMS: dict[str, set[str]] = {
    cls: {" ".join(words(p)) for p in phrases} | {" ".join(words(cls.replace("_", " ")))}
    for cls, phrases in CLASS_WORDS.items()
}


def keyword_classes(text: str) -> dict[str, int]:
    """Classes whose words occur in ``text`` -> how many of its words matched (phrases count as
    one; the class's own name counts double so "door" beats a door mentioned as a material)."""
    ws = words(text)
    joined = " " + " ".join(ws) + " "
    hits: dict[str, int] = {}
    for cls, stems in _CLASS_STEMS.items():
        n = 0
        for s in stems:
            if s and f" {s} " in joined:
                n += 2 if s == " ".join(words(cls.replace("_", " "))) else 1
        if n:
            hits[cls] = n
    return hits


def material_of(text: str) -> str:
    ws = set(words(text))
    for m in MATERIALS:
        if stem(m) in ws:
            return m
    return ""


def class_text(cls: str) -> str:
    """The sentence that stands for a class in embedding search."""
    w = CLASS_WORDS[cls]
    return f"the sound of {w[0]}: " + ", ".join(w[1:])


def is_sustained(cls: str) -> bool:
    """Textures (rain, wind, fire, engines...) are synthesised over time, not placed per event."""
    return cls in SUSTAINED


@dataclass(frozen=True)
class FileLabel:
    cls: str | None
    subclass: str
    material: str
    description: str


def label_from_path(rel: str) -> FileLabel:
    """Label a user's file from its folder and file names (deepest, most specific first)."""
    parts = [p for p in re.split(r"[/\\]", rel) if p]
    stem_name = parts[-1].rsplit(".", 1)[0] if parts else ""
    text = " ".join(parts[:-1] + [stem_name])
    best: tuple[int, int, str] | None = None
    # The file name outranks its folders; within a name, more matched words rank higher.
    for depth, part in enumerate(reversed(parts[:-1] + [stem_name])):
        for cls, n in keyword_classes(part).items():
            key = (-depth, n, cls)
            if best is None or key[:2] > best[:2]:
                best = key
    cls = best[2] if best else None
    material = material_of(text)
    sub = material or (words(stem_name)[0] if words(stem_name) else "file")
    desc = " ".join(_WORD.findall(text.lower().replace("_", " "))) or stem_name
    return FileLabel(cls, sub, material, desc)
