"""Procedural renderer: frames in which visible events happen exactly at sound onsets.

Every event has a time ``t`` on the video frame grid (``t = frame / fps``). The drawing is a
function of ``u = time - t``: the approach (``u < 0``: an object falling, a foot coming down,
a door swinging shut) ends exactly at ``u = 0``, where the contact happens (object on the
floor, door shut, burst, splash, flame flare, creature's mouth opening), and the reaction
after it follows the placed sound's loudness envelope. The visual kind follows the sound
class (``taxonomy.VISUAL_KIND``); colours follow class and material.

Nuisance variation that makes no sound: textured backgrounds, camera pan and shake, sensor
noise, lighting drifts and light switches, distractor objects that move but never touch
anything. Everything is drawn with OpenCV on uint8 RGB frames; any size and frame rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

# Base colours (RGB) per class; materials override for hits.
CLASS_COLOR: dict[str, tuple[int, int, int]] = {
    "footstep": (60, 45, 35), "hooves": (90, 60, 30), "impact": (150, 150, 150), "hammer": (120, 120, 130),
    "chop": (150, 100, 50), "dig": (110, 80, 50), "place": (170, 140, 90), "blade": (200, 200, 215),
    "break": (160, 110, 60), "door": (140, 90, 45), "glass": (170, 230, 240), "explosion": (255, 160, 40),
    "crash": (120, 100, 80), "gunshot": (255, 230, 140), "thunder": (240, 240, 255), "water": (40, 110, 220),
    "squelch": (120, 60, 40), "bubbling": (230, 120, 40), "fire": (255, 130, 20), "whoosh": (230, 230, 230),
    "bow": (150, 110, 60), "dog": (140, 100, 60), "bird": (60, 90, 200), "livestock": (230, 220, 200),
    "horse": (110, 70, 40), "insect": (40, 40, 30), "big_cat": (220, 160, 60), "animal": (120, 130, 90),
    "rain": (150, 170, 210), "wind": (200, 210, 220), "ambience": (80, 150, 70), "machinery": (100, 110, 120),
    "rolling": (110, 90, 70), "saw": (190, 190, 200), "foliage": (50, 140, 50), "scrape": (170, 170, 160),
}
MATERIAL_COLOR: dict[str, tuple[int, int, int]] = {
    "wood": (150, 100, 50), "metal": (175, 180, 190), "stone": (110, 110, 105), "rock": (110, 110, 105),
    "dirt": (120, 85, 55), "flesh": (200, 120, 110), "glass": (170, 230, 240), "snow": (240, 245, 250),
    "grass": (70, 150, 60), "gravel": (140, 135, 120), "sand": (220, 200, 140), "ice": (200, 230, 250),
}

# Extra visual kinds: tools swing down instead of falling.
STRIKE_CLASSES = {"hammer", "chop", "dig", "blade"}


@dataclass
class VisualEvent:
    """One sound event as the renderer sees it (times in seconds)."""

    time: float  # contact instant, on the frame grid
    cls: str
    subclass: str
    kind: str
    env: np.ndarray  # loudness envelope of the placed sound from its onset, ENV_RATE per second
    x: float  # position as a fraction of the width / height
    y: float
    scale: float  # object size as a fraction of min(width, height)
    color: tuple[int, int, int]
    approach: float = 0.4  # seconds of visible motion before contact
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def env_at(self, u: float) -> float:
        if u < 0:
            return 0.0
        i = int(u * ENV_RATE)
        return float(self.env[i]) if i < len(self.env) else 0.0

    @property
    def sustain(self) -> float:
        """Seconds after contact while the sound is still audible (envelope above 5 %)."""
        above = np.flatnonzero(self.env > 0.05)
        return (int(above[-1]) + 1) / ENV_RATE if len(above) else 0.1


ENV_RATE = 100.0


@dataclass
class SceneStyle:
    """Per-clip nuisance parameters (all soundless)."""

    seed: int
    bg_kind: str = "blobs"
    bg_colors: tuple = ((40, 60, 90), (120, 140, 160))
    floor_y: float = 0.75
    floor_color: tuple = (90, 80, 70)
    pan: tuple = (0.0, 0.0)  # camera drift, fraction of size per second
    sway: float = 0.0  # slow sinusoidal camera motion amplitude (fraction)
    shake: float = 0.0  # per-frame jitter amplitude (fraction)
    noise: float = 0.0  # sensor noise sigma (0-255 units)
    light_drift: float = 0.0  # slow brightness modulation amplitude
    light_switches: tuple = ()  # (time, gain) pairs: sudden lighting changes
    distractors: tuple = ()  # dicts describing soundless moving objects
    margin: float = 0.08

    @staticmethod
    def random(rng: np.random.Generator, duration: float, nuisance: bool = True) -> SceneStyle:
        """A random scene; ``nuisance=False`` keeps background and floor but no camera motion,
        noise, lighting change or distractors (clean clips for evaluating event timing)."""
        style = SceneStyle._random(rng, duration)
        if nuisance:
            return style
        return SceneStyle(seed=style.seed, bg_kind=style.bg_kind, bg_colors=style.bg_colors,
                          floor_y=style.floor_y, floor_color=style.floor_color)

    @staticmethod
    def _random(rng: np.random.Generator, duration: float) -> SceneStyle:
        def col(lo: int = 10, hi: int = 230) -> tuple[int, int, int]:
            return tuple(int(c) for c in rng.integers(lo, hi, 3))

        switches = []
        if rng.random() < 0.3:
            for _ in range(int(rng.integers(1, 3))):
                switches.append((float(rng.uniform(0, duration)), float(rng.uniform(0.6, 1.4))))
        distractors = []
        for _ in range(int(rng.choice([0, 1, 1, 2, 3]))):
            distractors.append(
                {
                    "shape": str(rng.choice(["circle", "rect", "tri"])),
                    "color": col(),
                    "r": float(rng.uniform(0.03, 0.09)),
                    "cx": float(rng.uniform(0.15, 0.85)),
                    "cy": float(rng.uniform(0.15, 0.6)),
                    "ax": float(rng.uniform(0.05, 0.3)),
                    "ay": float(rng.uniform(0.0, 0.15)),
                    "fx": float(rng.uniform(0.05, 0.5)),
                    "fy": float(rng.uniform(0.05, 0.5)),
                    "ph": float(rng.uniform(0, 2 * math.pi)),
                }
            )
        return SceneStyle(
            seed=int(rng.integers(0, 2**31)),
            bg_kind=str(rng.choice(["blobs", "stripes", "checker", "bricks", "gradient", "grain"])),
            bg_colors=(col(), col()),
            floor_y=float(rng.uniform(0.62, 0.85)),
            floor_color=col(30, 200),
            pan=(float(rng.normal(0, 0.01)), float(rng.normal(0, 0.004))) if rng.random() < 0.5 else (0.0, 0.0),
            sway=float(rng.uniform(0, 0.02)) if rng.random() < 0.4 else 0.0,
            shake=float(rng.uniform(0, 0.006)) if rng.random() < 0.2 else 0.0,
            noise=float(rng.uniform(0, 6)) if rng.random() < 0.35 else 0.0,
            light_drift=float(rng.uniform(0, 0.25)) if rng.random() < 0.5 else 0.0,
            light_switches=tuple(switches),
            distractors=tuple(distractors),
        )


def _background(style: SceneStyle, w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(style.seed)
    c0 = np.array(style.bg_colors[0], np.float32)
    c1 = np.array(style.bg_colors[1], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if style.bg_kind == "gradient":
        t = (yy / max(h - 1, 1))[..., None]
    elif style.bg_kind == "stripes":
        period = rng.uniform(0.03, 0.15) * w
        ang = rng.uniform(0, math.pi)
        t = (0.5 + 0.5 * np.sin(2 * math.pi * (xx * math.cos(ang) + yy * math.sin(ang)) / period))[..., None]
    elif style.bg_kind == "checker":
        s = max(2, int(rng.uniform(0.04, 0.15) * w))
        t = (((xx // s + yy // s) % 2) * 0.8 + 0.1)[..., None]
    elif style.bg_kind == "bricks":
        bh = max(3, int(rng.uniform(0.03, 0.08) * h))
        bw = bh * 2
        row = (yy // bh).astype(int)
        mortar = ((yy % bh) < max(1, bh // 8)) | (((xx + (row % 2) * bw // 2) % bw) < max(1, bw // 16))
        t = np.where(mortar, 1.0, 0.25)[..., None].astype(np.float32)
    else:  # blobs / grain: smoothed noise
        small = rng.random((max(2, h // 16), max(2, w // 16))).astype(np.float32)
        if style.bg_kind == "grain":
            small = rng.random((max(2, h // 3), max(2, w // 3))).astype(np.float32)
        t = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)[..., None]
        t = np.clip(t, 0, 1)
    img = c0 * (1 - t) + c1 * t
    # Floor: a band with its own colour and some grain, so contacts happen on a visible surface.
    fy = int(style.floor_y * h)
    grain = rng.normal(0, 10, (h - fy, w, 1)).astype(np.float32)
    img[fy:] = np.array(style.floor_color, np.float32) + grain
    img[fy : fy + max(1, h // 200)] *= 0.6
    return np.clip(img, 0, 255).astype(np.uint8)


def approach_frac(u: float, approach: float) -> float:
    """1 at the start of the approach, 0 at contact, like a fall from rest: the motion is
    fastest at the contact instant and stops there (so the motion peak is on the onset frame)."""
    if u >= 0:
        return 0.0
    v = max(0.0, (u + approach) / approach)
    return 1.0 - v * v


def _pt(x: float, y: float, w: int, h: int) -> tuple[int, int]:
    return int(round(x * w)), int(round(y * h))


def _shade(c: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(v * f, 0, 255)) for v in c)


def _draw_shape(img: np.ndarray, shape: str, cx: int, cy: int, r: int, color, angle: float = 0.0) -> None:
    if r < 1:
        return
    if shape == "circle":
        cv2.circle(img, (cx, cy), r, color, -1, cv2.LINE_AA)
        cv2.circle(img, (cx, cy), r, _shade(color, 0.5), max(1, r // 8), cv2.LINE_AA)
        return
    n = 3 if shape == "tri" else 4
    pts = np.array(
        [(cx + r * math.cos(angle + 2 * math.pi * k / n + math.pi / 4), cy + r * math.sin(angle + 2 * math.pi * k / n + math.pi / 4)) for k in range(n)],
        np.int32,
    )
    cv2.fillPoly(img, [pts], color, cv2.LINE_AA)
    cv2.polylines(img, [pts], True, _shade(color, 0.5), max(1, r // 8), cv2.LINE_AA)


def _particles(img, rng_seed: int, cx: int, cy: int, u: float, n: int, speed: float, color, size: int, gravity: float = 0.0, up_only: bool = False) -> None:
    rng = np.random.default_rng(rng_seed)
    ang = rng.uniform(math.pi, 2 * math.pi, n) if up_only else rng.uniform(0, 2 * math.pi, n)
    sp = speed * rng.uniform(0.4, 1.0, n)
    xs = cx + np.cos(ang) * sp * u
    ys = cy + np.sin(ang) * sp * u + 0.5 * gravity * u * u
    for x, y in zip(xs, ys, strict=True):
        cv2.circle(img, (int(x), int(y)), size, color, -1, cv2.LINE_AA)


FADE_S = 0.3


def draw_event(img: np.ndarray, ev: VisualEvent, now: float, floor_px: int) -> None:
    """Draw one event at absolute time ``now`` onto ``img`` (the camera's world canvas).

    Objects fade in over the first ``FADE_S`` of the approach and fade out after the sound,
    so their appearing and disappearing make no sudden, soundless change of the picture.
    """
    u = now - ev.time
    end = max(ev.sustain, 0.25) + FADE_S
    if u < -ev.approach - FADE_S or u > end:
        return
    alpha = min(1.0, (u + ev.approach + FADE_S) / FADE_S, (end - u) / FADE_S)
    if alpha >= 1.0:
        _draw_event(img, ev, u, floor_px)
        return
    layer = img.copy()
    _draw_event(layer, ev, u, floor_px)
    cv2.addWeighted(layer, alpha, img, 1.0 - alpha, 0.0, dst=img)


def _draw_event(img: np.ndarray, ev: VisualEvent, u: float, floor_px: int) -> None:
    h, w = img.shape[:2]
    now = ev.time + u
    m = min(w, h)
    r = max(2, int(ev.scale * m))
    cx = int(ev.x * w)
    col = ev.color
    k = ev.kind
    if k == "hit" and ev.cls in STRIKE_CLASSES:
        k = "strike"
    if k in ("hit", "splash"):
        gy = floor_px
        drop_h = ev.extra.get("drop", 0.45) * h
        if u < 0:
            y = gy - r - drop_h * approach_frac(u, ev.approach)
            shape_y = int(y)
        else:
            bounce = 0.06 * drop_h * max(0.0, math.sin(math.pi * u / 0.25)) if u < 0.25 and k == "hit" else 0.0
            shape_y = int(gy - r - bounce)
        if k == "splash":
            cv2.ellipse(img, (cx, gy + r // 3), (3 * r + 6, max(2, r // 2)), 0, 0, 360, (40, 90, 200), -1, cv2.LINE_AA)
            if u < 0:
                cv2.circle(img, (cx, shape_y), max(2, r // 2), (120, 170, 255), -1, cv2.LINE_AA)
            else:
                e = max(ev.env_at(u), 0.3 if u < 0.3 else 0.0)
                rr = int(r * (1 + 6 * u))
                cv2.ellipse(img, (cx, gy), (rr, max(1, rr // 4)), 0, 0, 360, (200, 220, 255), max(1, r // 5), cv2.LINE_AA)
                _particles(img, ev.seed, cx, gy, u, 12, 1.6 * h * (0.4 + e), (150, 200, 255), max(1, r // 4), gravity=3.0 * h, up_only=True)
            return
        squash = 1.0 if u < 0 or u > 0.06 else 0.6
        shape = ev.extra.get("shape", "circle")
        if shape == "circle":
            cv2.ellipse(img, (cx, shape_y + int(r * (1 - squash))), (int(r / squash ** 0.5), int(r * squash)), 0, 0, 360, col, -1, cv2.LINE_AA)
        else:
            _draw_shape(img, shape, cx, shape_y, r, col)
        if 0 <= u < 0.35:
            _particles(img, ev.seed, cx, gy, u, 10, 1.2 * h * (0.5 + ev.env_at(u)), (200, 190, 170), max(1, r // 6), gravity=3.0 * h, up_only=True)
        return
    if k == "strike":
        # A tool on a handle pivots down; its head touches the floor exactly at u = 0.
        L = 3.0 * r
        pivot = (cx - int(L * 0.9), floor_px - int(L * 0.45))
        a_contact = math.asin(min(1.0, (floor_px - pivot[1]) / L))
        a = a_contact - (1.4 * approach_frac(u, ev.approach) if u < 0 else (0.15 * math.sin(math.pi * min(u, 0.2) / 0.2)))
        tip = (int(pivot[0] + L * math.cos(a)), int(pivot[1] + L * math.sin(a)))
        cv2.line(img, pivot, tip, (110, 80, 50), max(2, r // 3), cv2.LINE_AA)
        _draw_shape(img, "rect", tip[0], tip[1] - r // 2, max(2, int(r * 0.7)), col, angle=a)
        if 0 <= u < 0.3:
            _particles(img, ev.seed, tip[0], floor_px, u, 12, 1.5 * h * (0.5 + ev.env_at(u)), _shade(col, 1.2), max(1, r // 6), gravity=3.0 * h, up_only=True)
        return
    if k == "step":
        # A foot (sole) comes down and forward, flat on the floor at u = 0, lifts after.
        lift = 0.25 * h * (approach_frac(u, ev.approach) if u < 0 else max(0.0, (u - 0.3) / 0.3) ** 2)
        dx = int(-1.5 * r * approach_frac(u, ev.approach)) if u < 0 else 0
        fy = int(floor_px - lift - r * 0.5)
        cv2.ellipse(img, (cx + dx, fy), (int(r * 1.4), max(2, int(r * 0.55))), 0, 0, 360, col, -1, cv2.LINE_AA)
        cv2.line(img, (cx + dx - r // 2, fy - r * 3), (cx + dx - r // 3, fy - r // 3), _shade(col, 0.8), max(2, r // 2), cv2.LINE_AA)
        if 0 <= u < 0.3:
            _particles(img, ev.seed, cx, floor_px, u, 8, 0.8 * h, (190, 180, 160), max(1, r // 6), gravity=2.0 * h, up_only=True)
        return
    if k == "swing":
        # A door in its frame. "open" sounds: the latch clicks at u = 0 and the door starts
        # opening; everything else: the door swings shut and hits the frame at u = 0.
        dw, dh = int(2.2 * r), int(4.0 * r)
        x0, y1 = cx - dw // 2, floor_px
        y0 = y1 - dh
        cv2.rectangle(img, (x0 - 3, y0 - 3), (x0 + dw + 3, y1), (60, 50, 40), max(2, r // 5))
        opening = "open" in ev.subclass
        if opening:
            # the latch clicks at u = 0: the door pops ajar on the onset frame, then swings open
            ang = 0.0 if u < 0 else min(1.2, 0.25 + 2.5 * u)
        else:
            ang = 1.2 * approach_frac(u, ev.approach) if u < 0 else 0.0
        # Door edge moves linearly with the swing (not cos): the last frames before the slam
        # still show clear motion.
        width = int(dw * (1.0 - 0.75 * min(1.0, ang / 1.2)))
        shake = int(0.04 * r * math.sin(60 * u)) if 0 <= u < 0.1 and not opening else 0
        pts = np.array([(x0 + shake, y0), (x0 + width + shake, y0 + int(dh * 0.08 * math.sin(ang))),
                        (x0 + width + shake, y1 - int(dh * 0.08 * math.sin(ang))), (x0 + shake, y1)], np.int32)
        cv2.fillPoly(img, [pts], col, cv2.LINE_AA)
        for j in range(1, 4):  # planks: texture that makes the swing visible to motion estimators
            xj = x0 + shake + int(width * j / 4)
            cv2.line(img, (xj, y0 + 2), (xj, y1 - 2), _shade(col, 0.6), max(1, r // 8), cv2.LINE_AA)
        cv2.circle(img, (x0 + int(width * 0.85) + shake, (y0 + y1) // 2), max(1, r // 6), (220, 200, 80), -1, cv2.LINE_AA)
        return
    if k == "burst":
        cy = floor_px - r if ev.cls not in ("thunder", "gunshot") else int(ev.y * h)
        if u < 0:
            _draw_shape(img, "rect" if ev.cls != "glass" else "tri", cx, cy, r, _shade(col, 0.7))
            return
        e = max(ev.env_at(u), 0.2 if u < 0.2 else 0.0)
        if u < 0.12:
            cv2.circle(img, (cx, cy), int(r * (1.5 + 10 * u) * (0.5 + e)), (255, 250, 220), -1, cv2.LINE_AA)
        if ev.cls == "thunder":
            # A lightning bolt from the top: a jagged line.
            rng = np.random.default_rng(ev.seed)
            xs = cx + np.cumsum(rng.normal(0, r * 0.6, 8)).astype(int)
            ys = np.linspace(0, cy, 8).astype(int)
            if u < 0.25:
                cv2.polylines(img, [np.stack([xs, ys], 1).astype(np.int32)], False, (255, 255, 255), max(2, r // 3), cv2.LINE_AA)
        _particles(img, ev.seed, cx, cy, u, 40, 2.5 * h * (0.3 + e), col, max(1, r // 4), gravity=1.5 * h)
        return
    if k == "flicker":
        e = ev.env_at(u) if u >= 0 else 0.0
        base_y = floor_px
        cv2.rectangle(img, (cx - r, base_y - r // 3), (cx + r, base_y), (70, 45, 25), -1)
        if u < 0:
            return
        rng = np.random.default_rng(ev.seed + int(now * 1000))
        size = r * (0.4 + 2.5 * e + (1.5 if u < 0.08 else 0.0))
        for j in range(6):
            jx = int(rng.normal(0, 0.25 * r))
            hh = int(size * rng.uniform(0.6, 1.2))
            cv2.ellipse(img, (cx + jx, base_y - hh // 2), (max(2, int(size * 0.35)), max(2, hh // 2)), 0, 0, 360,
                        (255, int(120 + 100 * (j % 2)), 20 + 30 * (j % 3)), -1, cv2.LINE_AA)
        return
    if k == "swipe":
        # A streak crosses the frame; it is fastest exactly at the onset.
        tau = 0.12
        span = 0.35 * w
        cy = int(ev.y * h)
        xs = [cx + span * math.tanh((u - d) / tau) * (1 if ev.seed % 2 else -1) for d in np.linspace(0.0, 0.06, 6)]
        pts = np.array([(int(x), cy + int(0.1 * r * j)) for j, x in enumerate(xs)], np.int32)
        cv2.polylines(img, [pts], False, col, max(2, r // 2), cv2.LINE_AA)
        cv2.circle(img, (int(xs[0]), cy), max(2, r // 2), _shade(col, 0.8), -1, cv2.LINE_AA)
        return
    if k == "creature":
        e = max(ev.env_at(u), 0.7 if u < 0.1 else 0.0) if u >= 0 else 0.0
        hop = int(0.4 * r * (1.0 - u / 0.25)) if 0 <= u < 0.25 else 0  # jolts up on the onset frame
        by = floor_px - r - hop
        cv2.ellipse(img, (cx, by), (int(r * 1.3), r), 0, 0, 360, col, -1, cv2.LINE_AA)
        hx, hy = cx + int(r * 1.2), by - int(r * 0.6)
        cv2.circle(img, (hx, hy), int(r * 0.6), _shade(col, 0.9), -1, cv2.LINE_AA)
        cv2.circle(img, (hx + r // 5, hy - r // 5), max(1, r // 8), (10, 10, 10), -1, cv2.LINE_AA)
        mouth = int(r * 0.5 * e)
        if mouth > 0:
            cv2.ellipse(img, (hx + int(r * 0.45), hy + r // 6), (max(1, r // 4), mouth), 0, 0, 360, (30, 10, 10), -1, cv2.LINE_AA)
        return
    # continuous: something that moves as long as (and as hard as) the sound is loud.
    e = max(ev.env_at(u), 0.6 if u < 0.1 else 0.0) if u >= 0 else 0.0
    if ev.cls in ("rain", "wind"):
        rng = np.random.default_rng(ev.seed)
        n = int(40 * e)
        xs = rng.uniform(0, w, 40)[:n]
        ys0 = rng.uniform(0, h, 40)[:n]
        speed = (1.5 if ev.cls == "rain" else 0.4) * h
        slant = 0.1 * w if ev.cls == "rain" else 0.8 * w
        for x, y0 in zip(xs, ys0, strict=True):
            y = (y0 + speed * u) % h
            x2 = (x + slant * u) % w
            cv2.line(img, (int(x2), int(y)), (int(x2 - slant * 0.03), int(y - speed * 0.03)), col, max(1, r // 8), cv2.LINE_AA)
        return
    if ev.cls in ("machinery", "rolling"):
        cy = floor_px - r
        ang = (0.5 + 12.0 * u * (0.3 + e)) if u >= 0 else 0.0  # lurches into motion at onset
        cv2.circle(img, (cx, cy), r, col, max(2, r // 5), cv2.LINE_AA)
        for j in range(4):
            a = ang + j * math.pi / 2
            cv2.line(img, (cx, cy), (int(cx + r * math.cos(a)), int(cy + r * math.sin(a))), col, max(1, r // 6), cv2.LINE_AA)
        return
    # saw / scrape / foliage / ambience: a shape shaken back and forth with the loudness.
    off = int(0.6 * r * e * math.cos(2 * math.pi * 6.0 * u)) if u >= 0 else 0  # full swing at onset
    cy = floor_px - r
    if ev.cls in ("foliage", "ambience"):
        for j in range(5):
            a = -math.pi / 2 + (j - 2) * 0.35
            tip = (cx + int(2 * r * math.cos(a)) + off * (1 + j % 2), floor_px + int(2 * r * math.sin(a)))
            cv2.line(img, (cx + (j - 2) * r // 3, floor_px), tip, col, max(2, r // 4), cv2.LINE_AA)
            cv2.circle(img, tip, max(2, r // 2), _shade(col, 1.2), -1, cv2.LINE_AA)
    else:
        cv2.rectangle(img, (cx - r + off, cy - r // 4), (cx + r + off, cy + r // 4), col, -1)
        cv2.rectangle(img, (cx - 2 * r, floor_px - r // 3), (cx + 2 * r, floor_px), (140, 100, 60), -1)


def render_frame(
    t: float, events: list[VisualEvent], style: SceneStyle, bg: np.ndarray, w: int, h: int, frame_index: int
) -> np.ndarray:
    """Frame at time ``t``: world canvas (background + distractors + events), then camera crop,
    lighting and sensor noise."""
    H, W = bg.shape[:2]
    mx, my = (W - w) // 2, (H - h) // 2
    world = bg.copy()
    floor_px = int(style.floor_y * H)
    for d in style.distractors:
        x = d["cx"] + d["ax"] * math.sin(2 * math.pi * d["fx"] * t + d["ph"])
        y = d["cy"] + d["ay"] * math.sin(2 * math.pi * d["fy"] * t + 1.3 * d["ph"])
        _draw_shape(world, d["shape"], int(x * W), int(y * H), int(d["r"] * min(W, H)), d["color"], angle=t * d["fx"] * 3)
    for ev in events:
        draw_event(world, ev, t, floor_px)
    rng = np.random.default_rng(style.seed * 7919 + frame_index)
    dx = style.pan[0] * t * w + style.sway * w * math.sin(2 * math.pi * 0.2 * t)
    dy = style.pan[1] * t * h + style.sway * h * math.cos(2 * math.pi * 0.15 * t)
    if style.shake > 0:
        dx += rng.normal(0, style.shake * w)
        dy += rng.normal(0, style.shake * h)
    ox = int(np.clip(round(mx + dx), 0, W - w))
    oy = int(np.clip(round(my + dy), 0, H - h))
    frame = world[oy : oy + h, ox : ox + w].astype(np.float32)
    gain = 1.0 + style.light_drift * math.sin(2 * math.pi * 0.1 * t + style.seed % 7)
    for ts, g in style.light_switches:
        if t >= ts:
            gain *= g
    frame *= gain
    if style.noise > 0:
        frame += rng.normal(0, style.noise, frame.shape).astype(np.float32)
    return np.clip(frame, 0, 255).astype(np.uint8)


def world_canvas(style: SceneStyle, w: int, h: int) -> np.ndarray:
    """Background larger than the view by the camera margin on each side."""
    mw = int(round(style.margin * w)) * 2
    mh = int(round(style.margin * h)) * 2
    return _background(style, w + mw, h + mh)
