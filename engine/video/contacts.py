"""Contact detection on real video: when does something land, plant, shut or bounce?

Torch-free (numpy + OpenCV). Frames are streamed (one pair in memory at a time) from
``engine.media.read_frames`` at an analysis rate, scaled down to ``width`` pixels and turned
grey. For each consecutive pair:

1. **Dense flow** — OpenCV DIS (``PRESET_MEDIUM``) on the small grey frames.
2. **Camera motion removed** — a least-squares affine flow field ``u = A·[x, y, 1]`` is fitted
   to a sub-sampled grid of flow vectors, refitted on the 70 % best-explained points (so a
   moving object does not drag the fit), and subtracted. Vectors shorter than ``deadzone``
   pixels are then zeroed (sensor noise, compression shimmer).
3. **Regional momentum** — the picture is cut into ``grid`` cells; each cell's momentum is
   the sum of its residual flow vectors divided by the frame's pixel count (px/s at the
   analysis width, weighted by the moving area).

A **contact** at frame ``t`` is momentum that a region had coming in (flow ``t-1 -> t``)
and that is gone, or reversed, going out (flow ``t -> t+1``): for each cell ``c`` with
incoming momentum ``m`` (direction ``û``) the loss is ``|m| - max(0, û·P)``, where ``P`` is
the outgoing momentum summed over the 3×3 block of cells around ``c`` (so an object that
merely moves into a neighbouring cell keeps its momentum). Losses are counted only where
the cell's incoming speed was not already fading (an impact stops motion in one frame; a
hand that slows down over several frames is not a contact). The per-frame contact curve
is the sum of those losses; contacts are its local maxima (±``min_gap_s``) above
``threshold`` (absolute, px/s·area) and above ``rel_threshold`` × the clip's 95th-percentile
motion. Scene cuts (mean grey difference above ``cut_diff``) never give a contact.

``motion_curve`` (mean residual speed per frame, px/s at the analysis width) is returned
too: near zero means a still picture, which should be silent.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.progress import CancelToken, Progress, run_to_completion


@dataclass(frozen=True)
class ContactConfig:
    width: int = 256  # analysis width in pixels (height follows the aspect)
    max_fps: float = 30.0  # analysis rate: the native rate, capped here
    grid: tuple[int, int] = (6, 8)  # rows, columns of regions
    deadzone: float = 0.35  # px per frame at the analysis width: residual flow below is noise
    threshold: float = 0.9  # minimum momentum loss (px/s · area fraction) for a contact
    rel_threshold: float = 0.5  # ... and at least this × the clip's 95th-pct curve value
    sharpness: float = 0.8  # loss / incoming momentum: below this the motion only slowed
    fading: float = 0.6  # incoming speed < fading × the speed before it: already slowing down
    history_s: float = 0.2  # how far back the motion's recent peak is looked for
    min_gap_s: float = 0.1  # contacts closer than this keep the stronger one
    duplicate_diff: float = 0.05  # mean abs grey difference at or below which a frame repeats
    cut_diff: float = 40.0  # mean abs grey difference (0..255) that marks a scene cut


@dataclass(frozen=True)
class ContactResult:
    """Detected contacts in seconds from the video start, and the curves behind them."""

    times: np.ndarray  # float64 [K] seconds
    strengths: np.ndarray  # float32 [K] in (0, 1]: loss relative to the clip's strongest
    motion_curve: np.ndarray  # float32 [N] residual (camera-free) motion per analysed frame
    contact_curve: np.ndarray  # float32 [N] momentum lost at each frame
    frame_rate: float  # analysis frames per second (curve index i = time i / frame_rate)
    cuts: np.ndarray = field(default_factory=lambda: np.zeros(0))  # seconds of scene cuts

    def still_mask(self, min_motion: float = 0.5) -> np.ndarray:
        """bool [N]: True where the picture (camera motion removed) does not move."""
        return np.asarray(self.motion_curve) < min_motion


# ------------------------------------------------------------------ per-pair analysis ----
class _Flow:
    """Dense flow between small grey frames, camera motion removed."""

    def __init__(self, h: int, w: int, cfg: ContactConfig) -> None:
        import cv2

        self.cv2 = cv2
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.h, self.w, self.cfg = h, w, cfg
        self.margin = max(2.0, 0.02 * w)
        step = max(2, w // 48)
        ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
        self.sy, self.sx = ys.ravel(), xs.ravel()
        self.design = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], 1).astype(np.float64)
        yy, xx = np.mgrid[0:h, 0:w]
        self.full = np.stack([xx.ravel(), yy.ravel(), np.ones(h * w)], 1).astype(np.float32)
        gr, gc = cfg.grid
        self.rows = np.minimum((np.arange(h) * gr) // h, gr - 1)
        self.cols = np.minimum((np.arange(w) * gc) // w, gc - 1)
        self.cell_index = (self.rows[:, None] * gc + self.cols[None, :]).ravel()

    def residual(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        flow = self.dis.calc(prev, cur, None)  # [h, w, 2] px per frame
        fx = flow[..., 0].ravel()
        fy = flow[..., 1].ravel()
        idx = self.sy * self.w + self.sx
        X, u, v = self.design, fx[idx].astype(np.float64), fy[idx].astype(np.float64)
        keep = np.ones(len(idx), bool)
        for _ in range(2):  # fit, then refit on the best-explained 70 %
            cu, *_ = np.linalg.lstsq(X[keep], u[keep], rcond=None)
            cv, *_ = np.linalg.lstsq(X[keep], v[keep], rcond=None)
            err = np.hypot(X @ cu - u, X @ cv - v)
            keep = err <= np.quantile(err, 0.7) + 1e-6
        cam_x = self.full @ cu.astype(np.float32)
        cam_y = self.full @ cv.astype(np.float32)
        rx, ry = fx - cam_x, fy - cam_y
        mag = np.hypot(rx, ry)
        # pixels whose content leaves the picture (or enters it) under the camera motion,
        # and a thin border where flow is extrapolated, carry no object motion
        m = self.margin
        x, y = self.full[:, 0], self.full[:, 1]
        inside = (
            (x + cam_x >= m)
            & (x + cam_x < self.w - m)
            & (y + cam_y >= m)
            & (y + cam_y < self.h - m)
        )
        inside &= (x >= m) & (x < self.w - m) & (y >= m) & (y < self.h - m)
        dead = (mag < self.cfg.deadzone) | ~inside
        rx[dead] = 0.0
        ry[dead] = 0.0
        return np.stack([rx, ry], 1)  # [h*w, 2]

    def cell_momentum(self, res: np.ndarray, fps: float) -> np.ndarray:
        """[cells, 2]: summed residual flow per cell / all pixels, in px/s."""
        gr, gc = self.cfg.grid
        n = gr * gc
        mx = np.bincount(self.cell_index, weights=res[:, 0], minlength=n)
        my = np.bincount(self.cell_index, weights=res[:, 1], minlength=n)
        scale = fps / float(self.h * self.w) * 100.0  # ×100: percent of the picture
        return np.stack([mx, my], 1) * scale


def _block_sum(m: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """[cells, 2] -> sum over each cell's 3×3 neighbourhood (clipped at the edges)."""
    gr, gc = grid
    g = m.reshape(gr, gc, 2)
    p = np.pad(g, ((1, 1), (1, 1), (0, 0)))
    out = np.zeros_like(g)
    for dy in range(3):
        for dx in range(3):
            out += p[dy : dy + gr, dx : dx + gc]
    return out.reshape(gr * gc, 2)


def _frame_loss(
    history: list[np.ndarray], m_in: np.ndarray, m_out: np.ndarray, cfg: ContactConfig
) -> float:
    """Momentum lost at the frame between flow ``m_in`` (t-1 -> t) and ``m_out`` (t -> t+1).

    ``history``: the cell momenta of the flows before ``m_in`` (oldest first, ~0.2 s).
    """
    speed = np.hypot(m_in[:, 0], m_in[:, 1])
    moving = speed > 1e-9
    if not moving.any():
        return 0.0
    unit = np.zeros_like(m_in)
    unit[moving] = m_in[moving] / speed[moving, None]
    along_out = (unit * _block_sum(m_out, cfg.grid)).sum(1)  # outgoing momentum along û
    # lost = what no longer moves that way; a reversal (bounce) counts its rebound too
    loss = np.clip(speed - along_out, 0.0, 2.0 * speed)
    # an impact stops motion that is still near its recent peak, in one frame; a hand that
    # turns round (or slows down) has lost most of its speed before the turn. The 3×3 block
    # sums follow an object from cell to cell.
    b_in = np.maximum(0.0, (unit * _block_sum(m_in, cfg.grid)).sum(1))
    peak = b_in.copy()
    for m in history:
        peak = np.maximum(peak, (unit * _block_sum(m, cfg.grid)).sum(1))
    block_loss = np.clip(b_in - along_out, 0.0, 2.0 * b_in)
    ok = moving & (b_in >= cfg.fading * peak) & (block_loss >= cfg.sharpness * peak)
    return float(loss[ok].sum())


def _pick_peaks(
    curve: np.ndarray, fps: float, cfg: ContactConfig, blocked: np.ndarray
) -> np.ndarray:
    c = np.asarray(curve, np.float64).copy()
    c[blocked] = 0.0
    if c.size == 0:
        return np.zeros(0, np.int64)
    positive = c[c > 0]
    ref = float(np.quantile(positive, 0.95)) if positive.size else 0.0
    thr = max(cfg.threshold, cfg.rel_threshold * ref)
    r = max(1, int(round(cfg.min_gap_s * fps)))
    cand = [i for i in range(len(c)) if c[i] >= thr and c[i] == c[max(0, i - r) : i + r + 1].max()]
    picked: list[int] = []
    for i in sorted(cand, key=lambda k: -c[k]):  # strongest first, enforce the gap
        if all(abs(i - j) > r for j in picked):
            picked.append(i)
    return np.asarray(sorted(picked), np.int64)


# ------------------------------------------------------------------------ public API ----
def contact_times_job(
    video_path: str | Path,
    config: ContactConfig | None = None,
    cancel: CancelToken | None = None,
    start: float = 0.0,
    end: float | None = None,
) -> Generator[Progress, None, ContactResult]:
    """Stream the clip's frames and return its contacts (``ContactResult``).

    Memory is bounded by two small frames and a few floats per frame, whatever the length.
    """
    import cv2

    from engine.errors import MediaError
    from engine.media import probe, read_frames

    cfg = config or ContactConfig()
    p = Path(video_path)
    info = probe(p)
    if info.video is None:
        raise MediaError("no video stream", p)
    v = info.video
    native = Fraction(v.fps) if v.fps else Fraction(25)
    fps_frac = native if native <= cfg.max_fps else Fraction(cfg.max_fps).limit_denominator(1001)
    fps = float(fps_frac)
    dw, dh = v.display_size
    w = max(16, int(cfg.width))
    h = max(16, int(round(w * dh / max(1, dw) / 2)) * 2)
    stop = v.duration if end is None else min(float(end), v.duration)
    total = max(1, math.ceil((stop - start) * fps - 1e-6))

    flow: _Flow | None = None
    prev = None
    motion: list[float] = [0.0]
    moms: list[np.ndarray] = []  # the last few cell momenta only
    hist = max(1, int(round(cfg.history_s * fps)))
    losses: list[float] = [0.0]
    cut_at: list[int] = []
    for i, (_, rgb) in enumerate(
        read_frames(p, fps=fps_frac, size=(w, h), crop=False, start=start, end=end, info=info)
    ):
        if cancel is not None:
            cancel.check()
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if flow is None:
            flow = _Flow(grey.shape[0], grey.shape[1], cfg)
        if prev is not None:
            diff = float(np.mean(cv2.absdiff(prev, grey)))
            if diff <= cfg.duplicate_diff and moms:
                # a repeated frame (12 or 24 fps content in a 25/30 fps stream, animation
                # "on twos"): the motion goes on, it did not stop; keep the last estimate
                motion.append(motion[-1])
                moms.append(moms[-1])
            else:
                if diff >= cfg.cut_diff:
                    cut_at.append(i)
                    res = np.zeros((grey.size, 2), np.float32)
                else:
                    res = flow.residual(prev, grey)
                motion.append(float(np.mean(np.hypot(res[:, 0], res[:, 1]))) * fps)
                moms.append(flow.cell_momentum(res, fps))
            if len(moms) >= 2:  # contact at frame i-1: flows (i-2 -> i-1) and (i-1 -> i)
                losses.append(_frame_loss(moms[:-2], moms[-2], moms[-1], cfg))
            moms = moms[-(hist + 2) :]
        prev = grey
        if i % 10 == 0:
            yield Progress("contacts", i + 1, total)
    n = len(motion) if prev is not None else 0
    while len(losses) < n:
        losses.append(0.0)  # the last frame has no outgoing flow
    curve = np.asarray(losses[:n], np.float64)
    blocked = np.zeros(n, bool)
    for k in cut_at:  # a cut is not a contact: nor are the frames touching it
        blocked[max(0, k - 1) : min(n, k + 2)] = True
    idx = _pick_peaks(curve, fps, cfg, blocked)
    strengths = curve[idx] / curve[idx].max() if idx.size else np.zeros(0)
    yield Progress("contacts", total, total)
    return ContactResult(
        times=start + idx / fps,
        strengths=np.asarray(strengths, np.float32),
        motion_curve=np.asarray(motion[:n], np.float32),
        contact_curve=curve.astype(np.float32),
        frame_rate=fps,
        cuts=start + np.asarray(cut_at, np.float64) / fps,
    )


def contact_times(
    video_path: str | Path, config: ContactConfig | None = None, **kwargs
) -> ContactResult:
    """Plain wrapper around ``contact_times_job``."""
    return run_to_completion(contact_times_job(video_path, config, **kwargs))


# ------------------------------------------------------------------------------ fusion ----
def fuse_contacts(
    values: np.ndarray,
    columns_per_second: float,
    contacts,
    strengths: np.ndarray | None = None,
    *,
    bed_window_s: float = 0.4,
    search_s: float = 0.25,
    decay_s: float = 0.12,
    default_level: float = 0.3,
    still: np.ndarray | None = None,
) -> np.ndarray:
    """Keep the layout's bands and sustain, put its attacks at the contacts.

    ``values`` [T, bands] in [0, 1] (the learned predictor's layout), ``contacts`` seconds (or
    a ``ContactResult``; then its strengths are used). Returns a new float32 [T, bands] array:

    - **bed** (sustain, ambience): a running minimum over ``bed_window_s`` followed by a
      running maximum of the same width (a morphological opening) — it keeps everything
      that lasts, and removes the layout's short peaks, i.e. its own onsets. Onsets with no
      contact support are thereby suppressed.
    - **attacks** at each contact ``tc``: the band shape and height are taken from the
      layout's strongest peak above the bed within ``±search_s`` (so the predictor still
      decides *what* the hit sounds like); where it predicted nothing there, the clip's mean
      band profile at ``default_level`` × strength. Each attack is an exponential decay
      ``exp(-(t - tc)/decay_s)`` starting exactly at ``tc``, area-averaged into columns, so
      a hit inside a column raises that column in proportion, as a recording's layout would.
    - ``still`` (optional bool per column): columns forced to 0 (a still picture is silent).
    """
    v = np.clip(np.asarray(values, np.float64), 0.0, 1.0)
    if v.ndim != 2:
        raise ValueError(f"values must be [T, bands], got shape {v.shape}")
    if hasattr(contacts, "times"):
        if strengths is None:
            strengths = contacts.strengths
        contacts = contacts.times
    times = np.asarray(contacts, np.float64).ravel()
    s = np.ones(len(times)) if strengths is None else np.asarray(strengths, np.float64).ravel()
    if len(s) != len(times):
        raise ValueError("strengths must have one value per contact")
    n, nb = v.shape
    cps = float(columns_per_second)
    if n == 0:
        return v.astype(np.float32)
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    win = max(1, int(round(bed_window_s * cps)))
    bed = maximum_filter1d(
        minimum_filter1d(v, win, axis=0, mode="nearest"), win, axis=0, mode="nearest"
    )
    bed = np.minimum(bed, v)
    peaks = v - bed
    profile = v.mean(0)
    profile = profile / profile.max() if profile.max() > 1e-6 else np.ones(nb)
    out = bed.copy()
    edges = np.arange(n + 1) / cps  # column k spans [edges[k], edges[k+1])
    r = max(1, int(round(search_s * cps)))
    for tc, st in zip(times, s, strict=True):
        if not (0.0 <= tc < n / cps):
            continue
        k = min(n - 1, int(tc * cps))
        lo, hi = max(0, k - r), min(n, k + r + 1)
        j = lo + int(np.argmax(peaks[lo:hi].sum(1)))
        shape = peaks[j]
        if shape.sum() < 0.05 * nb:  # the predictor heard nothing here: default hit
            shape = default_level * float(np.clip(st, 0.2, 1.0)) * profile
        # column mean of exp(-(t - tc)/tau) over [a, b] ∩ [tc, inf)
        a = np.maximum(edges[:-1], tc)
        b = edges[1:]
        tau = max(1e-3, decay_s)
        env = np.where(b > a, tau * (np.exp(-(a - tc) / tau) - np.exp(-(b - tc) / tau)) * cps, 0.0)
        out = np.maximum(out, bed + env[:, None] * shape[None, :])
    if still is not None:
        m = np.asarray(still, bool)
        out[: len(m)][m[:n]] = 0.0
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def contacts_to_columns(
    mask_or_curve: np.ndarray, frame_rate: float, n_columns: int, columns_per_second: float
) -> np.ndarray:
    """Resample a per-frame bool mask (e.g. ``ContactResult.still_mask()``) to layout columns:
    a column is True only when every frame inside it is True."""
    m = np.asarray(mask_or_curve, bool)
    if m.size == 0:
        return np.zeros(n_columns, bool)
    out = np.zeros(n_columns, bool)
    for k in range(n_columns):
        a = int(math.floor(k / columns_per_second * frame_rate))
        b = int(math.ceil((k + 1) / columns_per_second * frame_rate))
        seg = m[min(a, m.size - 1) : max(min(b, m.size), min(a, m.size - 1) + 1)]
        out[k] = bool(seg.all())
    return out
