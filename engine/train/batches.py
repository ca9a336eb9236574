"""Training batches: the crops of one step, built from (seed, step) only, so a resumed run
continues identically; the hand-drawn look of a true layout; batch arrays as tensors on the
networks' device."""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.diffusion.sampler import tokens_per_window, window_tokens
from engine.models import module_device
from engine.train.data import layout_target
from engine.train.run import Run


def handdrawn(lay: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Make a true layout [cols, bands] look painted: blur, quantise, small shift, gain."""
    out = lay.copy()
    if rng.random() < 0.5:  # blur along time (soft brush)
        k = np.array([0.25, 0.5, 0.25])
        out = np.apply_along_axis(lambda c: np.convolve(np.pad(c, 1, mode="edge"), k, "valid"), 0, out)
    if rng.random() < 0.5:  # quantise (few brush levels)
        q = int(rng.integers(3, 9))
        out = np.round(out * q) / q
    if rng.random() < 0.25:  # shift by one column (a painted edge is never exact)
        s = int(rng.choice([-1, 1]))
        out = np.roll(out, s, axis=0)
        if s > 0:
            out[:s] = out[s]
        else:
            out[s:] = out[s - 1]
    if rng.random() < 0.3:  # overall level
        out = out * rng.uniform(0.85, 1.15)
    return np.clip(out, 0, 1).astype(np.float32)



class Batcher:
    """Builds the batch of one step from (seed, step) only, so resumed runs are identical."""

    def __init__(self, run: Run, split: str, with_sem: bool, augment: bool = False) -> None:
        m = run.manifest
        self.run = run
        self.cs = run.clipset(split)
        self.text = run.text_embeddings(split)
        self.fr = float(m["features"]["frame_rate"])
        self.stride = int(m["features"]["semantic_stride"])
        self.win_f = int(round(float(m["window_seconds"]) * self.fr))
        self.mel_per_frame = int(round(run.mel_rate / self.fr))
        self.layout_cfg = run.layout_cfg
        self.cols = int(round(float(m["window_seconds"]) * float(m["layout"]["columns_per_second"])))
        self.norm = m["mel_norm"]
        self.sem = run.semantic_features(split, self.cs) if with_sem else None
        levels = run.nets["cond"].color_levels
        self.color = None
        if with_sem and levels:  # not shipped: engine.experimental.motion_colour
            from engine.experimental.motion_colour import run_motion_colors

            self.color = run_motion_colors(run, split, self.cs, levels)
        T = run.nets["layout"]
        self.frame_size = int(T.config["frame_size"]) if T.uses_frames else 0
        self._T = T
        self.augment = augment and split == "train"
        self._mframes: dict[int, np.ndarray] = {}  # per clip, made on first use

    def motion_frames(self, i: int) -> np.ndarray:
        """The clip's motion frames, over the whole clip (a repeat at a window's start still
        knows the frame before it)."""
        if i not in self._mframes:
            self._mframes[i] = self._T.frame_inputs(self.cs.clip(i)[0])
        return self._mframes[i]

    def crop(self, rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
        idx = rng.integers(0, len(self.cs), batch)
        fr_l, mel_l, mo_l, start_l, mf_l = [], [], [], [], []
        for i in idx:
            f, m, mo = self.cs.clip(int(i))
            n = f.shape[0]
            start = int(rng.integers(0, n - self.win_f + 1)) if n > self.win_f else 0
            fc, mc, moc = _cut(f, m, mo, start, self.win_f, self.mel_per_frame)
            fr_l.append(fc)
            mel_l.append(mc)
            mo_l.append(moc)
            start_l.append(start)
            if self.frame_size:
                mf = self.motion_frames(int(i))[start : start + self.win_f]
                if self.augment:  # mirror and relight: the timing of a contact survives both
                    if rng.random() < 0.5:
                        mf = mf[..., ::-1]
                    gain = rng.uniform(0.8, 1.2)
                    mf = np.clip(mf.astype(np.float32) * gain, 0, 255).astype(np.uint8)
                mf_l.append(np.concatenate([mf, np.repeat(mf[-1:], self.win_f - mf.shape[0], 0)]) if mf.shape[0] < self.win_f else mf)
        lay = np.stack([layout_target(mc, self.layout_cfg, self.cols) for mc in mel_l])
        out = {
            "idx": idx,
            "start": np.asarray(start_l),
            "frames": np.stack(fr_l),
            "mel": np.stack(mel_l),
            "motion": np.stack(mo_l),
            "layout": lay,
            "classes": self.cs.classes[idx],
            "text": self.text[idx] if len(self.text) else np.zeros((batch, 384), np.float32),
            "has_text": np.array([bool(self.cs.texts[i]) for i in idx]),
        }
        if mf_l:
            out["mframes"] = np.stack(mf_l)
        if self.sem is not None:
            cls, patch, off = self.sem
            n_tok = tokens_per_window(self.win_f / self.fr, self.fr / self.stride)
            toks, tpos, tmask, cls_f, patch_f = [], [], [], [], []
            for i, s in zip(idx, start_l, strict=True):
                c = cls[off[i] : off[i + 1]]
                if self.color is not None:  # S's input: CLS + the frame's motion-colour histogram
                    c = np.concatenate([c, self.color[off[i] : off[i + 1]]], 1)
                c = torch.from_numpy(c)
                a, b, mk = window_tokens(c, self.fr / self.stride, s / self.fr, self.win_f / self.fr, n_tok)
                toks.append(a.numpy())
                tpos.append(b.numpy())
                tmask.append(mk.numpy())
                # frame-rate copies for T (nearest earlier ViT frame), as at inference
                fi = np.minimum((np.arange(s, s + self.win_f)) // self.stride, off[i + 1] - off[i] - 1)
                cls_f.append(cls[off[i] + fi])
                patch_f.append(patch[off[i] + fi])
            out.update(tok=np.stack(toks), tpos=np.stack(tpos), tmask=np.stack(tmask),
                       cls_f=np.stack(cls_f), patch_f=np.stack(patch_f))
        return out


def _cut(f: np.ndarray, m: np.ndarray, mo: np.ndarray, start: int, win: int, mpf: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fc, moc = f[start : start + win], mo[start : start + win]
    mc = m[start * mpf : (start + win) * mpf]
    if fc.shape[0] < win:
        k = win - fc.shape[0]
        fc = np.concatenate([fc, np.repeat(fc[-1:], k, 0)])
        moc = np.concatenate([moc, np.zeros((k, moc.shape[1]), moc.dtype)])
    need = win * mpf
    if mc.shape[0] < need:
        mc = np.concatenate([mc, np.full((need - mc.shape[0], mc.shape[1]), math.log(1e-5), np.float32)])
    return fc, mc, moc


def run_device(run: Run) -> torch.device:
    """Where the run's networks are: accelerate's device while a stage trains, else the CPU."""
    return module_device(run.nets["unet"])


def tensor(run: Run, a: np.ndarray) -> torch.Tensor:
    """A batch array as a tensor on the networks' device."""
    return torch.from_numpy(np.ascontiguousarray(a)).to(run_device(run))


def frames_arg(run: Run, b: dict[str, np.ndarray]) -> torch.Tensor | None:
    return tensor(run, b["mframes"]) if "mframes" in b else None

