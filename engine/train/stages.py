"""Training stages of the diffusion pack (TiVA §3.3), through Hugging Face accelerate.

- ``layout``: visual encoder + layout predictor T (L2 to the true layout) + a clip-level
  event-class head (BCE) that teaches the small ViT the sound classes.
- ``generator``: S + G with the true layout (augmented to look hand-drawn: blurred,
  quantised, shifted a little), 10 % of semantic conditions, 30 % of prompts and 10 % of
  layouts dropped (for CFG, no-prompt use and the layout-strength control). The visual
  encoder is frozen here, so its features are computed once per clip.
- ``joint``: G (and S) fine-tuned with T's predicted layout half of the time (T frozen).
- ``layout_head``: T alone on the frozen visual encoder's cached features (cheap: no ViT
  backward), so T can keep training on a CPU while the generator trains in another process.
- ``onset``: only T's per-frame onset head (added to T if it has none), BCE against the
  onsets of the true layout's events; the rest of T is frozen, so its layouts stay as they
  were and inference sharpens their attacks at the picked onsets (engine.diffusion.sharpen).

Latent G: when ``OUT/vae`` holds a trained mel VAE (``v2a train --stage vae``) and G has not
been trained yet, the generator stage switches the run to the VAE's latent (``Run.enable_vae``):
the VAE is frozen into ``OUT/nets/vae.safetensors``, the manifest gets a ``"vae"`` entry and
G's config the latent channels / frame rate; x0 = ``MelVAE.encode`` of each batch's mel crop.

Runs on one CPU, one GPU or ``accelerate launch`` on many. Fixed seeds (the batch of step
``k`` depends only on (seed, k), so a resumed run continues identically), checkpoints in
safetensors (weights and the optimizer state; no pickles), a loss log in jsonl, a progress
bar. Layout of a run folder::

    OUT/manifest.json              the pack manifest being trained (architecture, classes)
    OUT/prep/<split>.npz           decoded clips (frames, mel, motion, classes, prompts)
    OUT/prep/text_<split>.npy      prompt embeddings (MiniLM)
    OUT/prep/sem_<split>.npz       visual features after the layout stage
    OUT/nets/<net>.safetensors     the current weights of every network
    OUT/nets/vae.safetensors       the frozen VAE G is trained on (latent runs only)
    OUT/<stage>/ckpt/...           resumable checkpoint;  OUT/<stage>/log.jsonl  losses
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.audio.layout import LayoutConfig, resize_layout
from engine.diffusion.sampler import tokens_per_window, window_tokens
from engine.diffusion.schedulers import training_scheduler
from engine.models import NETWORKS, build_networks, consistent_configs, module_device
from engine.train.data import ClipSet, layout_target

STAGES = ("layout", "generator", "joint", "layout_head", "onset")
TRAINABLE = {"layout": ("visual", "layout"), "generator": ("cond", "unet"), "joint": ("cond", "unet"),
             "layout_head": ("layout",), "onset": ("layout",)}
ONSET_HEAD_WIDTH = 64
ONSET_POS_WEIGHT = 4.0  # onsets are ~1 column in 15: weigh the positives up


@dataclass
class TrainConfig:
    out: Path
    steps: int = 1000
    batch: int = 16
    lr: float = 3e-4
    seed: int = 0
    ckpt_every: int = 200
    log_every: int = 10
    resume: bool = True
    p_drop_semantic: float = 0.1
    p_drop_text: float = 0.3
    p_drop_layout: float = 0.1
    p_augment_layout: float = 0.5
    p_predicted_layout: float = 0.5  # joint stage
    edge_weight: float = 0.0  # layout stages: weight of an L2 on frame-to-frame layout changes (0 = off)
    onset_head: int = ONSET_HEAD_WIDTH  # onset stage: width of the head it adds to T
    onset_stream: bool = False  # onset stage: the head gets its own (trainable) frame stream
    augment_frames: bool = False  # layout stages: mirror / relight T's motion frames
    ema: float = 0.995
    threads: int = 0  # 0 = leave torch's default
    quiet: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------- run folder ----
class Run:
    def __init__(self, out: Path, manifest: dict[str, Any] | None = None) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        mpath = self.out / "manifest.json"
        if manifest is not None:
            mpath.write_text(json.dumps(manifest, indent=1))
        if not mpath.is_file():
            raise FileNotFoundError(f"{mpath}: no manifest; prepare the run first (v2a train --stage prep)")
        self.manifest = json.loads(mpath.read_text())
        self.nets = build_networks(self.manifest["networks"])
        self.load_nets()
        self._vae: Any = None

    # ---- latent G (the run's frozen mel VAE) ------------------------------------------------
    @property
    def latent(self) -> bool:
        """True when G is trained on the VAE's latents (the manifest has a "vae" entry)."""
        return "vae" in self.manifest

    @property
    def mel_rate(self) -> float:
        """Mel frames per second (G's frame rate times the VAE's downsampling on a latent run)."""
        f = int(self.manifest["vae"]["downsample"]) if self.latent else 1
        return float(self.nets["unet"].config["frame_rate"]) * f

    @property
    def vae(self) -> Any:
        """The frozen ``MelVAE`` of a latent run (loaded once), else None."""
        if not self.latent:
            return None
        if self._vae is None:
            from safetensors.torch import load_file

            from engine.models.mel_vae import MelVAE, build_vae

            path = self.out / "nets" / self.manifest["vae"]["file"]
            if not path.is_file():
                raise FileNotFoundError(f"{path}: the run's G is latent but its VAE is missing")
            model = build_vae(self.manifest["vae"]["config"])
            model.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
            model.requires_grad_(False)
            self._vae = MelVAE(model.eval(), self.manifest["mel_norm"])
        return self._vae

    def enable_vae(self, quiet: bool = True) -> bool:
        """Switch G to the latent of ``OUT/vae`` if there is a trained VAE and G is untrained.

        Returns whether G is latent. A G already trained on mels stays on mels (switching
        would throw its weights away); the VAE is copied into ``nets/`` so that continuing the
        vae stage later cannot change the latent space G learned."""
        import shutil

        from safetensors.torch import load_file

        from engine.models.mel_vae import clean_vae_config, latent_unet_config, pack_vae_entry

        if self.latent:
            return True
        src = self.out / "vae"
        if not (src / "model.safetensors").is_file() or not (src / "config.json").is_file():
            return False
        if (self.out / "nets" / NETWORKS["unet"][0]).is_file():
            if not quiet:
                print(f"note: {src} exists but G was already trained on mels; it keeps training on mels")
            return False
        cfg = clean_vae_config(json.loads((src / "config.json").read_text()), src / "config.json")
        n_mels = int(self.manifest["audio"]["n_mels"])
        mel_rate = float(self.nets["unet"].config["frame_rate"])
        win = int(round(float(self.manifest["window_seconds"]) * mel_rate))
        nets_cfg = dict(self.manifest["networks"])
        nets_cfg["unet"] = latent_unet_config(nets_cfg["unet"], cfg, n_mels, mel_rate, window_frames=win)
        (self.out / "nets").mkdir(exist_ok=True)
        tmp = self.out / "nets" / f"vae.safetensors.{os.getpid()}.tmp"
        shutil.copyfile(src / "model.safetensors", tmp)
        load_file(str(tmp))  # readable before the run depends on it
        tmp.replace(self.out / "nets" / "vae.safetensors")
        man = {**self.manifest, "networks": consistent_configs(nets_cfg), "vae": pack_vae_entry(cfg, n_mels)}
        self.manifest = man
        self._vae = None
        self.nets["unet"] = build_networks(man["networks"])["unet"]
        man["vae"]["x0_clip"] = self._latent_range()
        self.save_manifest()
        if not quiet:
            u = man["networks"]["unet"]
            print(f"G runs on the VAE latent of {src}: {u['in_channels']} channels at {u['frame_rate']:g} frames/s")
        return True

    def _latent_range(self, n_clips: int = 8) -> list[float]:
        """Range the sampler clips guided x0 to on latents: the training latents' min..max,
        widened by a quarter of the span (the mel path's [-1, 1.3] plays the same role)."""
        cs = self.clipset("train")
        lo, hi = np.inf, -np.inf
        with torch.no_grad():
            for i in range(min(n_clips, len(cs))):
                mel = torch.from_numpy(np.ascontiguousarray(cs.clip(i)[1]))[None]
                z = self.vae.encode(mel.to(module_device(self.vae.model)))
                lo, hi = min(lo, float(z.min())), max(hi, float(z.max()))
        if not np.isfinite(lo):
            return [-6.0, 6.0]
        pad = 0.25 * (hi - lo)
        return [round(lo - pad, 4), round(hi + pad, 4)]

    @property
    def layout_cfg(self) -> LayoutConfig:
        lay = self.manifest["layout"]
        return LayoutConfig(**{k: lay[k] for k in LayoutConfig.__dataclass_fields__ if k in lay})

    def load_nets(self) -> None:
        from safetensors.torch import load_file

        for name, (fname, _) in NETWORKS.items():
            p = self.out / "nets" / fname
            if p.is_file():
                self.nets[name].load_state_dict({k: v.float() for k, v in load_file(str(p)).items()})

    def save_nets(self, names: tuple[str, ...] | None = None, overrides: dict[str, dict] | None = None) -> None:
        from safetensors.torch import save_file

        (self.out / "nets").mkdir(exist_ok=True)
        for name, (fname, _) in NETWORKS.items():
            if names is None or name in names:
                state = (overrides or {}).get(name) or self.nets[name].state_dict()
                tmp = self.out / "nets" / (fname + f".{os.getpid()}.tmp")
                save_file({k: v.detach().cpu().contiguous().clone() for k, v in state.items()}, str(tmp))
                tmp.replace(self.out / "nets" / fname)

    def save_manifest(self) -> None:
        """Write the manifest atomically (two stages may run on one run folder at once)."""
        tmp = self.out / f"manifest.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(self.manifest, indent=1))
        tmp.replace(self.out / "manifest.json")

    def ensure_onset_head(self, width: int, own_stream: bool = False) -> None:
        """Give T an onset head (fresh, the rest of T's weights kept) and record it in the
        manifest; nothing changes when T already has one. ``own_stream``: the head gets its
        own frame stream, a trainable copy of T's (T's layout stays exactly as it was)."""
        if self.nets["layout"].has_onset_head:
            return
        from engine.models.layout_predictor import LayoutPredictor

        old = self.nets["layout"]
        own = bool(own_stream and old.frame_stream is not None)
        self.manifest["networks"]["layout"].update(onset_head=int(width), onset_stream=int(own))
        new = LayoutPredictor({**old.config, "onset_head": int(width), "onset_stream": int(own)})
        missing, unexpected = new.load_state_dict(old.state_dict(), strict=False)
        if unexpected or any(not k.startswith(("onset_head.", "onset_stream.")) for k in missing):
            raise RuntimeError(f"onset head: unexpected weights {unexpected} / missing {missing}")
        if own:
            new.onset_stream.load_state_dict(old.frame_stream.state_dict())
        self.nets["layout"] = new
        self.save_manifest()

    def clipset(self, split: str) -> ClipSet:
        return ClipSet.load(self.out / "prep" / f"{split}.npz")

    def text_embeddings(self, split: str) -> np.ndarray:
        return np.load(self.out / "prep" / f"text_{split}.npy", allow_pickle=False)

    # ---- visual features after the layout stage (generator / joint never run the ViT) ----
    def semantic_features(self, split: str, cs: ClipSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cls [sum Ns, c], patch [sum Ns, p], offsets) of every clip at the semantic rate."""
        path = self.out / "prep" / f"sem_{split}.npz"
        vis_file = self.out / "nets" / "visual.safetensors"
        stamp = str(vis_file.stat().st_mtime_ns) if vis_file.is_file() else "random"
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                if str(z["stamp"]) == stamp:
                    return z["cls"], z["patch"], z["off"]
        stride = int(self.manifest["features"]["semantic_stride"])
        vis = self.nets["visual"].eval()
        cls_l, patch_l, off = [], [], [0]
        with torch.no_grad():
            for i in range(len(cs)):
                f, _, _ = cs.clip(i)
                c, p = vis(torch.from_numpy(np.ascontiguousarray(f[::stride])).to(module_device(vis)))
                cls_l.append(c.cpu().numpy())
                patch_l.append(p.cpu().numpy())
                off.append(off[-1] + c.shape[0])
        cls, patch, offs = np.concatenate(cls_l), np.concatenate(patch_l), np.asarray(off)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, cls=cls, patch=patch, off=offs, stamp=np.array(stamp))
        tmp.replace(path)  # atomic: two stages may start at once
        return cls, patch, offs

    def motion_colors(self, split: str, cs: ClipSet, levels: int) -> np.ndarray:
        """Motion-colour histograms [sum Ns, levels**3] of every clip at the semantic rate, in
        the row order of ``semantic_features`` (cached; they depend on the frames only)."""
        from engine.models.visual import motion_color_histogram

        path = self.out / "prep" / f"mcolor{levels}_{split}.npz"
        stride = int(self.manifest["features"]["semantic_stride"])
        if path.is_file():
            with np.load(path, allow_pickle=False) as z:
                if int(z["n_clips"]) == len(cs) and int(z["stride"]) == stride:
                    return z["color"]
        color = np.concatenate([motion_color_histogram(cs.clip(i)[0], levels, stride) for i in range(len(cs))])
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, color=color, n_clips=np.int64(len(cs)), stride=np.int64(stride))
        tmp.replace(path)
        return color


def prepare_run(
    data_root: Path, out: Path, networks: dict[str, dict[str, Any]], max_clips: int | None = None,
    splits: tuple[str, ...] = ("train", "val"), quiet: bool = False, **manifest_kw: Any,
) -> Run:
    """Decode the clips once and write the run's manifest (skips splits already prepared)."""
    from engine.text import encode_text
    from engine.train.data import list_classes, prepare_split
    from engine.train.packio import base_manifest

    out = Path(out)
    (out / "prep").mkdir(parents=True, exist_ok=True)
    mpath = out / "manifest.json"
    if mpath.is_file():
        manifest = json.loads(mpath.read_text())
    else:
        classes = list_classes(Path(data_root))
        nets = json.loads(json.dumps(networks))
        nets.setdefault("layout", {})["n_classes"] = len(classes)
        manifest = base_manifest(nets, classes=classes, **manifest_kw)
    feat = manifest["features"]
    for split in splits:
        target = out / "prep" / f"{split}.npz"
        if target.is_file() or not (Path(data_root) / "clips" / split).is_dir():
            continue
        t0 = time.time()
        cs = prepare_split(
            Path(data_root), split, float(feat["frame_rate"]), int(feat["image_size"]),
            int(manifest["networks"]["visual"]["motion_grid"]), manifest["classes"], max_clips,
            per_clip_cache=out / "prep" / "clips" / split,
        )
        cs.save(target)
        np.save(out / "prep" / f"text_{split}.npy", encode_text(cs.texts) if cs.texts else np.zeros((0, 384), np.float32))
        if not quiet:
            print(f"prepared {len(cs)} {split} clips in {time.time() - t0:.0f} s")
    return Run(out, manifest)


PACK_ONLY_KEYS = ("files", "format_version", "param_counts")


def seed_run_from_pack(pack_dir: Path, out: Path) -> Run:
    """A run folder that continues a pack: its manifest and fp32 copies of its networks
    (each checked against pack.json's sha256 and shapes, as loading the pack does).
    ``prep`` then decodes the clips with the pack's own feature settings."""
    from safetensors.torch import save_file

    from engine.packs.format import load_weights, read_manifest

    out = Path(out)
    man = read_manifest(pack_dir)
    for k in PACK_ONLY_KEYS:
        man.pop(k, None)
    # Every file checked before anything is written: a broken pack leaves no half run behind.
    weights = {fname: load_weights(pack_dir, fname) for fname, _ in NETWORKS.values()}
    (out / "nets").mkdir(parents=True, exist_ok=True)
    for fname, tensors in weights.items():
        save_file({k: v.float().contiguous() for k, v in tensors.items()}, str(out / "nets" / fname))
    return Run(out, man)


def prepare_from_clipsets(out: Path, manifest: dict[str, Any], sets: dict[str, ClipSet]) -> Run:
    """A run from in-memory clip sets (tests, notebooks)."""
    from engine.text import encode_text

    out = Path(out)
    (out / "prep").mkdir(parents=True, exist_ok=True)
    for split, cs in sets.items():
        cs.save(out / "prep" / f"{split}.npz")
        np.save(out / "prep" / f"text_{split}.npy", encode_text(cs.texts))
    return Run(out, manifest)


# --------------------------------------------------------------------- checkpoints ----
def _save_ckpt(d: Path, step: int, modules: dict[str, torch.nn.Module], opt: torch.optim.Optimizer, ema: dict[str, torch.Tensor] | None) -> None:
    from safetensors.torch import save_file

    d.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, m in modules.items():
        for k, v in m.state_dict().items():
            tensors[f"model/{name}/{k}"] = v.detach().cpu().contiguous().clone()
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        st = opt.state.get(p, {})
        for k, v in st.items():
            tensors[f"optim/{i}/{k}"] = torch.as_tensor(v).detach().cpu().contiguous().clone()
    for k, v in (ema or {}).items():
        tensors[f"ema/{k}"] = v.detach().cpu().contiguous().clone()
    tmp = d / "ckpt.safetensors.tmp"
    save_file(tensors, str(tmp))
    tmp.replace(d / "ckpt.safetensors")
    (d / "state.json").write_text(json.dumps({"step": step}))


def _load_ckpt(d: Path, modules: dict[str, torch.nn.Module], opt: torch.optim.Optimizer, ema: dict[str, torch.Tensor] | None) -> int:
    from safetensors.torch import load_file

    if not (d / "state.json").is_file() or not (d / "ckpt.safetensors").is_file():
        return 0
    t = load_file(str(d / "ckpt.safetensors"))
    for name, m in modules.items():
        pre = f"model/{name}/"
        m.load_state_dict({k[len(pre):]: v for k, v in t.items() if k.startswith(pre)})
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        # moments go to the parameter's device; AdamW keeps its step count on the CPU
        st = {(kk := k.split("/", 2)[2]): (v if kk == "step" else v.to(p.device))
              for k, v in t.items() if k.startswith(f"optim/{i}/")}
        if st:
            opt.state[p] = st
    if ema is not None:
        for k in ema:
            if f"ema/{k}" in t:
                ema[k].copy_(t[f"ema/{k}"])
    return int(json.loads((d / "state.json").read_text())["step"])


# ------------------------------------------------------------------- augmentations ----
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


# ---------------------------------------------------------------------------- stages ----
class _Batcher:
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
        self.color = run.motion_colors(split, self.cs, levels) if with_sem and levels else None
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


def _device(run: Run) -> torch.device:
    """Where the run's networks are: accelerate's device while a stage trains, else the CPU."""
    return module_device(run.nets["unet"])


def _t(run: Run, a: np.ndarray) -> torch.Tensor:
    """A batch array as a tensor on the networks' device."""
    return torch.from_numpy(np.ascontiguousarray(a)).to(_device(run))


def _frames_arg(run: Run, b: dict[str, np.ndarray]) -> torch.Tensor | None:
    return _t(run, b["mframes"]) if "mframes" in b else None


def _layout_forward(run: Run, b: dict[str, np.ndarray], stride: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    if "cls_f" in b:  # cached features of the frozen visual encoder
        return run.nets["layout"](_t(run, b["cls_f"]), _t(run, b["patch_f"]), _t(run, b["motion"]), _frames_arg(run, b))
    frames = _t(run, b["frames"])  # [B, F, S, S, 3]
    bsz, nf = frames.shape[:2]
    sem = frames[:, ::stride]
    ns = sem.shape[1]
    cls, patch = run.nets["visual"](sem.reshape(bsz * ns, *sem.shape[2:]))
    cls = cls.view(bsz, ns, -1).repeat_interleave(stride, 1)[:, :nf]
    patch = patch.view(bsz, ns, -1).repeat_interleave(stride, 1)[:, :nf]
    return run.nets["layout"](cls, patch, _t(run, b["motion"]), _frames_arg(run, b))


def train_stage(run: Run, stage: str, cfg: TrainConfig) -> dict[str, Any]:
    """Train one stage for ``cfg.steps`` steps (continuing a checkpoint when there is one)."""
    from accelerate import Accelerator

    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; one of {STAGES}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if stage in ("generator", "joint"):
        run.enable_vae(quiet=cfg.quiet)  # before the optimizer: it may rebuild G for the latent
    if stage == "onset":
        run.ensure_onset_head(cfg.onset_head, cfg.onset_stream)
    acc = Accelerator(cpu=not torch.cuda.is_available())
    # Every network of the run (and a latent run's VAE) goes to accelerate's device for the
    # stage: the frozen ones feed the trained ones. Batches follow them (_t); the run is back
    # on the CPU when the stage returns, as it was before.
    _move_run(run, acc.device)
    try:
        return _train_stage(run, stage, cfg, acc)
    finally:
        _move_run(run, torch.device("cpu"))


def _move_run(run: Run, device: torch.device) -> None:
    for m in run.nets.values():
        m.to(device)
    if run.latent:  # loads the frozen VAE now, so it is never left behind on the CPU
        run.vae.to(device)


def _train_stage(run: Run, stage: str, cfg: TrainConfig, acc: Any) -> dict[str, Any]:
    from tqdm import tqdm

    names = TRAINABLE[stage]
    for n, m in run.nets.items():
        m.requires_grad_(n in names)
        m.train(n in names)
    modules = {n: run.nets[n] for n in names}
    params = [p for n in names for p in run.nets[n].parameters()]
    if stage == "onset":  # T stays as it is (and in eval mode); only its onset head learns
        T = run.nets["layout"]
        T.requires_grad_(False)
        T.eval()
        heads = [m for m in (T.onset_head, T.onset_stream) if m is not None]
        for m in heads:
            m.requires_grad_(True)
            m.train()
        params = [p for m in heads for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01, betas=(0.9, 0.99))
    wrapped = torch.nn.ModuleDict(modules)
    wrapped, opt = acc.prepare(wrapped, opt)
    ema = None
    if stage in ("generator", "joint") and cfg.ema > 0:
        ema = {k: v.detach().clone() for k, v in run.nets["unet"].state_dict().items()}
    ck = run.out / stage / "ckpt"
    start = _load_ckpt(ck, modules, opt, ema) if cfg.resume else 0
    batcher = _Batcher(run, "train", with_sem=stage != "layout", augment=cfg.augment_frames)
    stride = batcher.stride
    sched = training_scheduler(run.manifest.get("schedule"))
    n_train_t = int(sched.config.num_train_timesteps)
    log_path = run.out / stage / "log.jsonl"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    logf = open(log_path, "a", encoding="utf-8")
    bar = tqdm(total=cfg.steps, initial=start, desc=stage, disable=cfg.quiet or not acc.is_local_main_process)
    losses: list[float] = []
    t0 = time.time()
    warm = 100
    step = start
    for step in range(start, cfg.steps):
        rng = np.random.default_rng([cfg.seed, STAGES.index(stage), step, acc.process_index])
        g = torch.Generator().manual_seed(int(rng.integers(1 << 62)))
        b = batcher.crop(rng, cfg.batch)
        lr = cfg.lr * min(1.0, (step + 1) / warm)
        for pg in opt.param_groups:
            pg["lr"] = lr
        if stage in ("layout", "layout_head"):
            pred, logits = _layout_forward(run, b, stride)
            target = _t(run, b["layout"])
            pred = pred[:, : target.shape[1]]
            loss_l2 = F.mse_loss(pred, target)
            loss = loss_l2
            extra = {"l2": float(loss_l2.detach())}
            if cfg.edge_weight > 0:
                # Plain L2 rewards smearing an event over its neighbours when its timing is
                # uncertain; matching the frame-to-frame changes asks for its edges.
                le = F.mse_loss(pred.diff(dim=1), target.diff(dim=1))
                loss = loss + cfg.edge_weight * le
                extra["edge"] = float(le.detach())
            if logits is not None and logits.shape[1] > 0:
                lc = F.binary_cross_entropy_with_logits(logits, _t(run, b["classes"]))
                loss = loss + 0.1 * lc
                extra["cls"] = float(lc.detach())
        elif stage == "onset":
            loss = _onset_bce(run, _onset_forward(run, b)[1], b["layout"])
            extra = {"bce": float(loss.detach())}
        else:
            loss, extra = _generator_loss(run, b, cfg, rng, g, sched, n_train_t, stage, stride)
        opt.zero_grad(set_to_none=True)
        acc.backward(loss)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if ema is not None:
            with torch.no_grad():
                for k, v in run.nets["unet"].state_dict().items():
                    if v.is_floating_point():
                        ema[k].mul_(cfg.ema).add_(v.detach(), alpha=1 - cfg.ema)
                    else:
                        ema[k].copy_(v)
        losses.append(float(loss.detach()))
        bar.update(1)
        if (step + 1) % cfg.log_every == 0:
            rec = {"step": step + 1, "loss": float(np.mean(losses[-cfg.log_every:])), "lr": lr,
                   "elapsed_s": round(time.time() - t0, 1), **extra}
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            bar.set_postfix(loss=f"{rec['loss']:.4f}")
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:
            _save_ckpt(ck, step + 1, modules, opt, ema)
            # the nets/ folder always holds exportable weights (EMA for the generator)
            run.save_nets(names, overrides={"unet": ema} if ema is not None else None)
    bar.close()
    logf.close()
    if ema is not None and cfg.steps > start:
        # export the EMA generator (smoother samples); the raw one stays in the checkpoint
        run.nets["unet"].load_state_dict(ema)
    for m in run.nets.values():
        m.eval()
        m.requires_grad_(False)
    run.save_nets(names)
    # the onset threshold is chosen on these crops: more of them than a loss needs
    val = validate(run, stage, cfg, batches=16 if stage == "onset" else 4)
    summary = {"stage": stage, "steps": cfg.steps, "start": start, "train_loss_last": float(np.mean(losses[-50:])) if losses else None,
               "seconds": round(time.time() - t0, 1), **val}
    (run.out / stage / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _event_columns(layout: np.ndarray, columns_per_second: float) -> np.ndarray:
    """Column index of each event onset of a [N, bands] layout (``events_from_layout``, the
    same events layout adherence scores)."""
    from engine.metrics.adherence import events_from_layout
    from engine.types import AudioLayout

    n = layout.shape[0]
    return np.array([min(int(t * columns_per_second), n - 1)
                     for t in events_from_layout(AudioLayout(layout, columns_per_second))], int)


def onset_targets(layouts: np.ndarray, columns_per_second: float) -> np.ndarray:
    """[B, N, bands] true layouts -> [B, N] 0/1: the column of each event's onset."""
    out = np.zeros(layouts.shape[:2], np.float32)
    for i, lay in enumerate(layouts):
        out[i, _event_columns(lay, columns_per_second)] = 1.0
    return out


def _onset_forward(run: Run, b: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    T = run.nets["layout"]
    pred, _, logits = T.forward_all(_t(run, b["cls_f"]), _t(run, b["patch_f"]), _t(run, b["motion"]), _frames_arg(run, b))
    return pred, logits


def _onset_bce(run: Run, logits: torch.Tensor, layouts: np.ndarray) -> torch.Tensor:
    target = _t(run, onset_targets(layouts, float(run.manifest["layout"]["columns_per_second"])))
    logits = logits[:, : target.shape[1]]
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor(ONSET_POS_WEIGHT, device=target.device))


def _event_f1(pred: list[np.ndarray], true: list[np.ndarray], tol: int = 1) -> dict[str, float]:
    """Precision / recall / F1 of event columns within ±tol columns (one-to-one matches)."""
    from engine.metrics.align import match_count

    tp = sum(match_count(p, t, tol, strict=False) for p, t in zip(pred, true, strict=True))
    n_pred, n_true = sum(len(p) for p in pred), sum(len(t) for t in true)
    prec = tp / n_pred if n_pred else 0.0
    rec = tp / n_true if n_true else 0.0
    return {"precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}


def _generator_loss(run, b, cfg, rng, g, sched, n_train_t, stage, stride):
    bsz = b["mel"].shape[0]
    norm = run.manifest["mel_norm"]
    if run.latent:  # x0 = the frozen VAE's latent of the mel crop, [B, C*M, T/f]
        with torch.no_grad():
            x0 = run.vae.encode(_t(run, b["mel"])).float()
    else:
        x0 = (_t(run, b["mel"]).transpose(1, 2) - float(norm["center"])) / float(norm["scale"])
    mult = int(getattr(run.nets["unet"], "length_multiple", 1))
    if x0.shape[-1] % mult:  # the U-Net needs a multiple of its length multiple (odd latent crops)
        x0 = x0[..., : x0.shape[-1] // mult * mult]
    t_len = x0.shape[-1]
    bands = run.layout_cfg.bands
    lays = []
    use_pred = stage == "joint" and rng.random() < cfg.p_predicted_layout
    if use_pred:
        with torch.no_grad():
            pred, _ = run.nets["layout"](_t(run, b["cls_f"]), _t(run, b["patch_f"]), _t(run, b["motion"]), _frames_arg(run, b))
        src = np.clip(pred.cpu().numpy(), 0, 1)
        src = np.stack([resize_layout(s, b["layout"].shape[1], bands) for s in src])
    else:
        src = b["layout"]
    for i in range(bsz):
        lv = src[i]
        if not use_pred and rng.random() < cfg.p_augment_layout:
            lv = handdrawn(lv, rng)
        up = np.clip(resize_layout(lv, t_len, bands), 0, 1).T
        flag = np.ones((1, t_len), np.float32)
        if rng.random() < cfg.p_drop_layout:
            up, flag = np.zeros_like(up), np.zeros_like(flag)
        lays.append(np.concatenate([up, flag], 0))
    layout = _t(run, np.stack(lays).astype(np.float32))
    drop_sem = _t(run, rng.random(bsz) < cfg.p_drop_semantic)
    drop_text = _t(run, (rng.random(bsz) < cfg.p_drop_text) | ~b["has_text"])
    tok, pos = run.nets["cond"].tokens(
        _t(run, b["tok"]), _t(run, b["tpos"]), _t(run, b["text"]), drop_semantic=drop_sem, drop_text=drop_text,
    )
    mask = torch.cat([_t(run, b["tmask"]), torch.ones(bsz, 1, dtype=torch.bool, device=x0.device)], 1)
    t = _t(run, rng.integers(0, n_train_t, bsz)).long()
    noise = torch.randn(x0.shape, generator=g).to(x0.device)  # drawn on the CPU: same noise on any device
    xt = sched.add_noise(x0, noise, t)
    pred = run.nets["unet"](xt, t, layout, tok, pos, mask)
    loss = F.mse_loss(pred, x0)
    return loss, {"x0_mse": float(loss.detach()), "pred_layout": bool(use_pred)}


@torch.no_grad()
def validate(run: Run, stage: str, cfg: TrainConfig, batches: int = 4) -> dict[str, float]:
    """Held-out loss on fixed crops of the val split (the train split when there is none)."""
    split = "val" if (run.out / "prep" / "val.npz").is_file() else "train"
    try:
        batcher = _Batcher(run, split, with_sem=stage != "layout")
    except FileNotFoundError:
        return {}
    for m in run.nets.values():
        m.eval()
    vals = []
    onset_eval: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (T's layouts, onset probs, true layouts)
    sched = training_scheduler(run.manifest.get("schedule"))
    n_t = int(sched.config.num_train_timesteps)
    for k in range(batches):
        rng = np.random.default_rng([12345, k])
        g = torch.Generator().manual_seed(k)
        b = batcher.crop(rng, min(cfg.batch, 16))
        if stage in ("layout", "layout_head"):
            pred, _ = _layout_forward(run, b, batcher.stride)
            vals.append(float(F.mse_loss(pred, _t(run, b["layout"]))))
        elif stage == "onset":
            pred, logits = _onset_forward(run, b)
            vals.append(float(_onset_bce(run, logits, b["layout"])))
            onset_eval.append((np.clip(pred.cpu().numpy(), 0, 1), torch.sigmoid(logits).cpu().numpy(), b["layout"]))
        else:
            vcfg = TrainConfig(out=cfg.out, p_drop_semantic=0, p_drop_text=0, p_drop_layout=0, p_augment_layout=0,
                               p_predicted_layout=1.0 if stage == "joint" else 0.0)
            loss, _ = _generator_loss(run, b, vcfg, rng, g, sched, n_t, stage, batcher.stride)
            vals.append(float(loss))
    if stage == "onset":
        return {"val_bce": float(np.mean(vals)), "val_split": split, **_onset_event_scores(run, onset_eval)}
    kind = "l2" if stage in ("layout", "layout_head") else "x0_mse"
    return {f"val_{kind}": float(np.mean(vals)), "val_split": split}


ONSET_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def _onset_event_scores(run: Run, batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Events of T's layout before / after shaping at the picked onsets (the run's
    ``layout.onset_mode``, as inference does), and the picked onsets themselves, against the
    true layout's events (±1 column). The threshold with the best shaped F1 on these
    held-out crops becomes the run's ``layout.onset_threshold``."""
    from engine.diffusion.sharpen import DEFAULT_ONSET_MODE, apply_onsets, pick_onsets

    cps = float(run.manifest["layout"]["columns_per_second"])
    mode = str(run.manifest["layout"].get("onset_mode", DEFAULT_ONSET_MODE))

    preds = [p for pr, _, _ in batches for p in pr]
    probs = [p for _, pb, _ in batches for p in pb]
    true = [_event_columns(lay, cps) for _, _, lays in batches for lay in lays]
    out: dict[str, float] = {f"val_layout_{k}": round(v, 4) for k, v in _event_f1([_event_columns(p, cps) for p in preds], true).items()}
    shaped, picked = {}, {}
    for t in ONSET_THRESHOLDS:
        picked[t] = [pick_onsets(pr, t) for pr in probs]
        shaped[t] = _event_f1([_event_columns(apply_onsets(p, pk, mode), cps) for p, pk in zip(preds, picked[t], strict=True)], true)
        out[f"val_shaped_f1@{t}"] = round(shaped[t]["f1"], 4)
    thr = max(ONSET_THRESHOLDS, key=lambda t: shaped[t]["f1"])  # the lowest one on a tie
    out["onset_threshold"] = thr
    out.update({f"val_shaped_{k}": round(v, 4) for k, v in shaped[thr].items()})
    out.update({f"val_onsets_{k}": round(v, 4) for k, v in _event_f1(picked[thr], true).items()})
    run.manifest["layout"]["onset_threshold"] = thr
    run.manifest["layout"]["onset_mode"] = mode
    run.save_manifest()
    return out


def export_run(run: Run, pack_dir: Path, half: bool = True, name: str | None = None, training: dict | None = None) -> Path:
    from engine.train.packio import export_pack

    man = dict(run.manifest)
    if name:
        man["name"] = name
    if training:
        man["training"] = training
    extra_weights = {}
    voc_dir = run.out / "vocoder"
    if (voc_dir / "model.safetensors").is_file() and (voc_dir / "config.json").is_file():
        # the run trained a vocoder (v2a train --stage vocoder): the pack uses it (fp32 on disk)
        from engine.models.hifigan import load_tensors, model_from_tensors, read_vocoder_folder

        cfg, wpath = read_vocoder_folder(voc_dir)
        voc = model_from_tensors(cfg, load_tensors(wpath), wpath)
        man["vocoder"] = {"kind": "hifigan", "file": "vocoder.safetensors", "config": cfg}
        extra_weights["vocoder.safetensors"] = voc.state_dict()
    if run.latent:  # G runs on the run's frozen VAE: the pack carries it (fp32, "vae" entry)
        from safetensors.torch import load_file

        entry = dict(man["vae"])
        extra_weights[entry["file"]] = load_file(str(run.out / "nets" / entry["file"]))
        man["vae"] = entry
    return export_pack(pack_dir, man, run.nets, half=half, extra_weights=extra_weights)
