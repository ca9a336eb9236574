"""A training run folder (TiVA §3.3): its manifest, networks and prepared clips.

Layout of a run folder::

    OUT/manifest.json              the pack manifest being trained (architecture, classes)
    OUT/prep/<split>.npz           decoded clips (frames, mel, motion, classes, prompts)
    OUT/prep/text_<split>.npy      prompt embeddings (MiniLM)
    OUT/prep/sem_<split>.npz       visual features after the layout stage
    OUT/nets/<net>.safetensors     the current weights of every network
    OUT/nets/vae.safetensors       the frozen VAE G is trained on (latent runs only)
    OUT/<stage>/ckpt/...           resumable checkpoint;  OUT/<stage>/log.jsonl  losses

Latent G: when ``OUT/vae`` holds a trained mel VAE (``v2a train --stage vae``) and G has not
been trained yet, the generator stage switches the run to the VAE's latent (``Run.enable_vae``):
the VAE is frozen into ``OUT/nets/vae.safetensors``, the manifest gets a ``"vae"`` entry and
G's config the latent channels / frame rate; x0 = ``MelVAE.encode`` of each batch's mel crop.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.audio.layout import LayoutConfig
from engine.models import NETWORKS, build_networks, consistent_configs, module_device
from engine.train.data import ClipSet


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



def move_run(run: Run, device: torch.device) -> None:
    """Every network of the run (and a latent run's VAE) to ``device``."""
    for m in run.nets.values():
        m.to(device)
    if run.latent:  # loads the frozen VAE now, so it is never left behind on the CPU
        run.vae.to(device)
