"""The diffusion engine (TiVA): the layout predictor T, the layout-conditioned generator G and
the vocoder, as one ``Engine`` (engine.engines.base). Imports torch.

``load`` builds a ``Pack`` from its verified files and parses its manifest once into a
``PackConfig``; ``generate`` resolves the request against the pack's sampling settings, then
runs features -> layout -> G -> (VAE) -> vocoder and returns takes of the requested region.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.audio.dsp import peak_limit
from engine.audio.layout import mel_norm as default_mel_norm
from engine.audio.layout import resize_layout
from engine.engines.base import LayoutPredictor, join_context
from engine.errors import DeviceError, LayoutError, PackError
from engine.models import module_device
from engine.packs.config import PackConfig, pack_config, resolve, thaw
from engine.progress import CancelToken, Job, Progress
from engine.timebase import (
    column_span,
    columns_for,
    index_at_or_after,
    region_bounds,
    seconds_to_samples,
)
from engine.types import AudioLayout, GenerationRequest, Take


class Pack:
    """A loaded diffusion pack: its ``PackConfig`` + networks (built from its configs, weights
    verified), the VAE of a latent pack, and the vocoder (built on first use)."""

    def __init__(self, config: PackConfig, nets: dict[str, torch.nn.Module], vae: Any = None,
                 vocoder: Any = None) -> None:
        self.config = config
        self.dir = config.dir
        #: ``engine.models.mel_vae.MelVAE`` when G runs on the VAE's latents (pack.json "vae"), else None
        self.vae = vae
        #: the built mel -> waveform vocoder; None until ``vocoder_for`` builds the manifest's
        self.vocoder = vocoder
        self._nets = nets
        self.name = config.name
        self.mel_cfg = config.audio
        self.layout_cfg = config.layout.grid
        files = config.manifest.get("files", {})
        self.visual_id = str(files.get("visual.safetensors", {}).get("sha256", "")) or hashlib.sha256(
            repr(sorted(nets["visual"].state_dict().items())[:1]).encode()
        ).hexdigest()
        self.engine = config.engine

    @property
    def manifest(self) -> dict[str, Any]:
        """A plain copy of the raw manifest, for writers and file lookups. Settings are read
        from ``config`` (changing this copy changes no setting)."""
        if getattr(self, "_manifest", None) is None:
            self._manifest = thaw(self.config.manifest)
        return self._manifest

    def net(self, name: str) -> torch.nn.Module:
        return self._nets[name]

    @property
    def sample_rate(self) -> int:
        return self.mel_cfg.sample_rate

    @property
    def sampling(self) -> dict[str, Any]:
        return self.config.sampling.to_dict()

    @property
    def device(self) -> str:
        """Where the networks run ("cpu", "cuda:0", ...)."""
        return str(module_device(self.net("unet")))

    def to(self, device: str) -> Pack:
        for m in self._nets.values():
            m.to(device)
        if self.vae is not None:
            self.vae.to(device)
        return self


def _resolve_device(device: str) -> str:
    """``auto`` -> CUDA when torch sees a GPU, else the CPU; an unusable explicit device is a
    DeviceError (one line in the CLI, a dialog in the studio), not a torch traceback."""
    device = (device or "auto").strip().lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device!r} was asked for, but torch finds no usable CUDA GPU here (use cpu or auto)")
        return device
    if device != "cpu":
        raise DeviceError(f"unknown device {device!r} (auto, cpu or cuda)")
    return device


def load_pack(path_or_name: str | Path | None = None, device: str = "cpu") -> Pack:
    """Find, verify (sha256 + shapes) and build a pack; default = the embedded starter pack."""
    from engine.models import NETWORKS, build_networks
    from engine.packs import check_state_dict, find_pack, load_weights, read_manifest, verify_pack

    device = _resolve_device(device)  # before any work: a bad device is reported first
    pack_dir = find_pack(path_or_name)
    manifest = read_manifest(pack_dir)
    config = pack_config(manifest, pack_dir)
    if config.engine != "diffusion":
        raise PackError(f"pack engine {config.engine!r} is not the diffusion engine", pack_dir)
    verify_pack(pack_dir)
    if "networks" not in manifest:
        raise PackError("pack.json has no 'networks' section", pack_dir / "pack.json")
    try:
        nets = build_networks(manifest["networks"])
    except (TypeError, ValueError, KeyError) as exc:
        raise PackError(f"cannot build the networks from pack.json ({exc})", pack_dir / "pack.json") from exc
    for name, (fname, _) in NETWORKS.items():
        tensors = load_weights(pack_dir, fname)
        state = nets[name].state_dict()
        check_state_dict(pack_dir / fname, tensors, state)
        nets[name].load_state_dict({k: v.float() for k, v in tensors.items()})
        nets[name].eval()
    vae = None
    if config.vae is not None:  # latent pack: G samples the VAE's latents (docs/PACKS.md)
        from engine.models.mel_vae import load_pack_vae

        mel_cfg = config.audio
        vae = load_pack_vae(pack_dir, manifest, mel_cfg.n_mels, mel_cfg.frames_per_second, nets["unet"].config)
    pack = Pack(config, nets, vae).to(device)
    # Build the pack's sampler once now: its first construction imports diffusers (~1.5 s on
    # 2 cores), which belongs to loading, not to the user's first take.
    from engine.diffusion.schedulers import sampling_scheduler

    try:
        sampling_scheduler(config.sampling.scheduler, dict(config.schedule))
    except (ValueError, TypeError, KeyError) as exc:
        raise PackError(f"its sampling settings do not build a scheduler ({exc})", pack_dir / "pack.json") from exc
    return pack


_DEFAULT: dict[str, Pack] = {}


def default_pack() -> Pack:
    """The embedded starter pack, loaded once per process: the layout predictor the engines
    without one of their own (autoregressive, library) borrow."""
    if "pack" not in _DEFAULT:
        _DEFAULT["pack"] = load_pack(None)
    return _DEFAULT["pack"]


# ------------------------------------------------------------------------------ layout ----
def _run_layout_predictor(pack: Pack, feats) -> np.ndarray:
    """T over the clip in overlapping windows -> [N, bands] at the frame rate, in [0, 1]."""
    from engine.diffusion.windows import blend_weights, plan_windows

    T = pack.net("layout")
    cls_f, patch_f = feats.at_frame_rate()
    n = feats.motion.shape[0]
    win = int(round(pack.config.window_seconds * feats.frame_rate))
    win = min(win, int(T.config["max_frames"]))
    starts, w = plan_windows(n, win, win // 4, 1)
    total = max(n, w)

    def pad(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.repeat(a[-1:], total - n, 0)]) if total > n else a

    cls_f, patch_f, motion = pad(cls_f), pad(patch_f), pad(feats.motion)
    mframes = pad(feats.frames) if getattr(T, "uses_frames", False) else None
    weights = blend_weights(starts, w, total, min(win // 4, w) if len(starts) > 1 else 0)
    out = np.zeros((total, int(T.config["bands"])), np.float32)
    onset_p = np.zeros(total, np.float32)
    dev = module_device(T)

    def batch(a: np.ndarray, chunk: list[int]) -> torch.Tensor:
        return torch.from_numpy(np.stack([a[s : s + w] for s in chunk])).to(dev)

    with torch.no_grad():
        for a in range(0, len(starts), 16):
            chunk = starts[a : a + 16]
            fr = None if mframes is None else batch(mframes, chunk)
            pred, _, onset_logits = T.forward_all(batch(cls_f, chunk), batch(patch_f, chunk), batch(motion, chunk), fr)
            pred = pred.float().cpu().numpy()
            onset = None if onset_logits is None else torch.sigmoid(onset_logits).float().cpu().numpy()
            for j, s in enumerate(chunk):
                out[s : s + w] += pred[j] * weights[a + j][:, None]
                if onset is not None:
                    onset_p[s : s + w] += onset[j] * weights[a + j]
    values = np.clip(out[:n], 0.0, 1.0)
    if T.has_onset_head:
        from engine.experimental.onsets import (  # not shipped
            DEFAULT_ONSET_MODE,
            apply_onsets,
            pick_onsets,
        )

        lay = pack.config.layout
        picked = pick_onsets(onset_p[:n], lay.onset_threshold, lay.onset_min_gap)
        values = apply_onsets(values, picked, lay.onset_mode or DEFAULT_ONSET_MODE)
    return values


def layout_for_clip(pack: Pack, feats) -> AudioLayout:
    """The predicted layout resized to the pack's grid for the clip's duration; silent where
    the picture is still (``still_mask``: T hears sound in a frozen image otherwise)."""
    from engine.diffusion.features import still_mask

    values = _run_layout_predictor(pack, feats)
    values[still_mask(feats)] = 0.0
    return fit_layout(AudioLayout(values, feats.frame_rate), feats.duration, pack)


def fit_layout(layout: AudioLayout, duration: float, pack: Pack) -> AudioLayout:
    """Any layout (painted, predicted, from a recording) -> the pack's grid over ``duration``."""
    v = np.asarray(layout.values, np.float32)
    if v.ndim != 2 or v.shape[0] == 0 or not np.all(np.isfinite(v)):
        raise LayoutError(f"layout must be a finite [time, bands] array, got shape {v.shape}")
    cps = float(pack.layout_cfg.columns_per_second)
    m = columns_for(duration, cps)
    values = np.clip(resize_layout(v, m, pack.layout_cfg.bands), 0.0, 1.0)
    return AudioLayout(values.astype(np.float32), m / duration if duration > 0 else cps)


def predict_layout(video_path: str | Path, pack: Pack, cancel: CancelToken | None = None, cache_dir=None) -> Job[AudioLayout]:
    from engine.diffusion.features import clip_features

    feats = yield from clip_features(video_path, pack, cache_dir=cache_dir, cancel=cancel)
    yield Progress("layout", 0, 1)
    layout = layout_for_clip(pack, feats)
    yield Progress("layout", 1, 1)
    return layout


# ---------------------------------------------------------------------------- generate ----
def _text_embedding(text: str) -> torch.Tensor | None:
    if not text or not text.strip():
        return None
    from engine.text import encode_text

    return torch.from_numpy(encode_text(text.strip())[0])


def vocoder_for(pack: Pack) -> Any:
    """The pack's mel -> waveform vocoder (``GriffinLim`` or ``HifiGanVocoder``), built once per
    pack: ``griffin-lim`` (default) or ``hifigan`` (SpeechT5HifiGan, engine.models.hifigan). A
    broken vocoder is a PackError naming the file, never a silent fall back to Griffin-Lim."""
    kind = pack.config.vocoder.kind
    if pack.vocoder is not None:
        v = pack.vocoder
        if hasattr(v, "to"):  # follow the pack (e.g. moved to the CPU after running out of GPU memory)
            v.to(module_device(pack.net("unet")))
        return v
    if kind == "griffin-lim":
        from engine.models.vocoder import GriffinLim

        v = GriffinLim(pack.mel_cfg, n_iter=pack.config.vocoder.n_iter)
    elif kind == "hifigan":
        from engine.models.hifigan import load_pack_vocoder

        device = module_device(pack.net("unet"))  # run where the pack runs
        v = load_pack_vocoder(pack.dir, pack.manifest, pack.mel_cfg, device)
    else:
        raise PackError(f"vocoder kind {kind!r} is not supported (griffin-lim or hifigan)", pack.dir / "pack.json")
    pack.vocoder = v
    return v


#: G's rows per network call (takes x CFG branches x windows). On the CPU 24 bounds memory at no
#: cost in speed; a GPU is fed all rows at once (bench_gpu.py: 16 takes of the starter pack
#: ran 4 calls of 24 per step and took 2.6x as long as 8 takes).
CPU_SAMPLING_BATCH, GPU_SAMPLING_BATCH = 24, 256


def sampling_batch(pack: Pack | Any) -> int:
    return CPU_SAMPLING_BATCH if module_device(pack.net("unet")).type == "cpu" else GPU_SAMPLING_BATCH


def generate(request: GenerationRequest, pack: Pack, cancel: CancelToken | None = None, cache_dir: Any = None,
             layout_predictor: LayoutPredictor | None = None) -> Job[list[Take]]:
    """Sound for ``request.video_path`` (or its ``region``): ``request.takes`` takes, seeds
    ``seed, seed+1, ...``; each take covers exactly the region and starts at its start."""
    from engine.diffusion.features import clip_features
    from engine.diffusion.sampler import SampleSpec, sample

    req = resolve(request, pack.config.sampling)
    if req.takes < 1 or req.steps < 1:
        raise ValueError("takes and steps must be at least 1")
    feats = yield from clip_features(req.video_path, pack, cache_dir=cache_dir, cancel=cancel)
    if req.layout is None:
        yield Progress("layout", 0, 1)
        layout = layout_for_clip(pack, feats)
        yield Progress("layout", 1, 1)
    else:
        layout = fit_layout(req.layout, feats.duration, pack)

    # Region: generate only [a, b) of the clip, with the conditions of that range.
    a, b = region_bounds(req.region, feats.duration)
    sr = pack.sample_rate
    n_samples = seconds_to_samples(b, sr) - seconds_to_samples(a, sr)
    fr_mel = pack.mel_cfg.frames_per_second
    n_mel = max(1, int(np.ceil(n_samples / pack.mel_cfg.hop_length)))
    cps = layout.columns_per_second
    c0, c1 = column_span(a, b, cps)
    lay_vals = layout.values[c0:c1]
    vae = getattr(pack, "vae", None)
    # G's grid: the mel frames, or ceil(n_mel / f) latent frames at mel rate / f with a VAE
    f = int(vae.f) if vae is not None else 1
    n_g, fr_g = (n_mel, fr_mel) if vae is None else (int(np.ceil(n_mel / f)), fr_mel / f)
    lay_mel = np.clip(resize_layout(lay_vals, n_g, pack.layout_cfg.bands), 0.0, 1.0)

    s0 = index_at_or_after(a, feats.sem_rate)
    sem_all = feats.semantic()
    sem = torch.from_numpy(sem_all[s0:]) if s0 < sem_all.shape[0] else torch.from_numpy(sem_all[-1:])
    # the ViT frame at s0 sits at s0/sem_rate; the sampler counts sem times from the region start
    cfg = pack.config
    if vae is None:
        x0_clip = cfg.x0_clip
    else:
        from engine.models.mel_vae import DEFAULT_LATENT_X0_CLIP

        x0_clip = tuple(cfg.vae.get("x0_clip", DEFAULT_LATENT_X0_CLIP))
    # every sampling setting the sampler knows comes from the resolved request, by name
    settings = {f.name: getattr(req, f.name) for f in dataclasses.fields(SampleSpec) if hasattr(req, f.name)}
    spec = SampleSpec(
        n_frames=n_g,
        frame_rate=fr_g,
        window=int(round(cfg.window_seconds * fr_g)),
        overlap=int(round(cfg.overlap_seconds * fr_g)),
        x0_clip=x0_clip,
        max_batch=sampling_batch(pack),
        **settings,
    )
    text = _text_embedding(req.prompt)
    negative = _text_embedding(req.negative_prompt)
    seeds = [int(req.seed) + k for k in range(int(req.takes))]
    mel_norm = cfg.mel_norm or default_mel_norm()
    x = yield from sample(pack.net("unet"), pack.net("cond"), spec, dict(cfg.schedule), lay_mel, sem,
                          feats.sem_rate, seeds, text=text, negative=negative, cancel=cancel)
    if vae is None:
        log_mel = (x.transpose(1, 2) * float(mel_norm["scale"]) + float(mel_norm["center"])).float()
    else:
        yield Progress("vae decode", 0, len(seeds))
        parts = []
        with torch.no_grad():
            for k in range(len(seeds)):  # one take at a time bounds the 2-D decoder's memory
                if cancel is not None:
                    cancel.check()
                p = next(vae.model.parameters())
                parts.append(vae.decode(x[k : k + 1].to(p.device, p.dtype), n_mel).float().cpu())
                yield Progress("vae decode", k + 1, len(seeds))
        log_mel = torch.cat(parts)
    voc = vocoder_for(pack)
    batched = bool(getattr(voc, "batched", False))
    voc_audio = None
    if batched:  # neural vocoder: every take in one call (deterministic, so no per-take seed)
        yield Progress("vocoder", 0, len(seeds))
        voc_audio = voc(log_mel)
    takes: list[Take] = []
    for k, s in enumerate(seeds):
        if cancel is not None:
            cancel.check()
        if not batched:
            yield Progress("vocoder", k, len(seeds))
        audio = (voc_audio[k] if voc_audio is not None else voc(log_mel[k], seed=s))[:n_samples]
        if len(audio) < n_samples:
            audio = np.pad(audio, (0, n_samples - len(audio)))
        takes.append(Take(
            audio=peak_limit(audio).astype(np.float32),  # never clip; else keep the level the pack learned
            sample_rate=sr,
            seed=s,
            layout=layout,
            engine="diffusion",
            meta={
                "pack": pack.name,
                "region": (a, b),
                "steps": spec.steps,
                "guidance": spec.guidance,
                "text_guidance": spec.text_guidance,
                "layout_strength": spec.layout_strength,
                "layout_guidance": spec.layout_guidance,
                "layout_guidance_steps": spec.layout_guidance_steps,
                "prompt": req.prompt,
                "negative_prompt": req.negative_prompt,
                "scheduler": spec.scheduler,
                "log_mel": log_mel[k].cpu().numpy(),
            },
            start=a,
        ))
    yield Progress("vocoder", len(seeds), len(seeds))
    return takes


def continue_(request: GenerationRequest, pack: Pack, cancel: CancelToken | None = None, cache_dir: Any = None,
              layout_predictor: LayoutPredictor | None = None) -> Job[list[Take]]:
    """A region that joins ``request.context_audio`` at its edges (G samples the region from its
    conditions; equal-power crossfades inside the region meet the kept audio)."""
    return join_context((yield from generate(request, pack, cancel, cache_dir)), request.context_audio)


class DiffusionEngine:
    name = "diffusion"

    def load(self, pack: str | Path | None = None, device: str = "auto") -> Pack:
        return load_pack(pack, device)

    def predict_layout(self, video_path: str | Path, pack: Pack, cancel: CancelToken | None = None,
                       cache_dir: Any = None) -> Job[AudioLayout]:
        return predict_layout(video_path, pack, cancel, cache_dir)

    generate = staticmethod(generate)
    continue_ = staticmethod(continue_)


ENGINE = DiffusionEngine()
