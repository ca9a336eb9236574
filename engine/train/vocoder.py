"""``v2a train --stage vocoder``: a small SpeechT5HifiGan trained on the Foley library.

Data: the library's recordings (``data/sfx/manifest.jsonl``, train split; val split for the
held-out loss), 16 kHz mono, random crops of ``segment`` samples (a multiple of the hop); the
input is the log-mel of the crop computed exactly as ``engine.audio.log_mel`` (AudioLDM
framing), in torch so it is cheap per step. Loss: L1 between the log-mels of the generated
and the real crop + a multi-resolution STFT loss (spectral convergence + log-magnitude L1,
Yamamoto et al. 2020). No discriminator: a GAN doubles the cost per step and needs far more
steps than a CPU budget allows; the deterministic losses already beat Griffin-Lim's phase.

Same conventions as the other stages: accelerate, batch of step k from (seed, k) only (a
resumed run continues identically), checkpoints in safetensors (weights + AdamW state),
``log.jsonl``, a progress bar, ``summary.json`` with the val loss. The run folder's
``OUT/vocoder/`` holds ``config.json`` + ``model.safetensors`` at every checkpoint: a vocoder
folder that ``v2a pack add-vocoder`` and ``--stage export`` read.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.audio.mel import LOG_FLOOR, MelConfig, mel_filterbank
from engine.models import module_device

STFT_RESOLUTIONS = ((256, 64), (512, 128), (1024, 256))  # (n_fft, hop), window = n_fft


@dataclass
class VocoderTrainConfig:
    out: Path  # run folder; the stage writes OUT/vocoder/
    steps: int = 2000
    batch: int = 8
    lr: float = 2e-4
    seed: int = 0
    segment: int = 8000  # samples per crop (0.5 s); rounded down to a multiple of the hop
    ckpt_every: int = 200
    log_every: int = 10
    resume: bool = True
    threads: int = 0
    quiet: bool = False


class TorchLogMel(torch.nn.Module):
    """``engine.audio.log_mel`` in torch, batched and differentiable: [B, N] -> [B, T, n_mels]."""

    def __init__(self, cfg: MelConfig = MelConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
        self.register_buffer("fb", torch.from_numpy(np.array(fb)), persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.win_length, periodic=True), persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        n = y.shape[-1]
        frames = max(1, math.ceil(n / c.hop_length))
        left = (c.n_fft - c.hop_length) // 2
        right = (frames - 1) * c.hop_length + c.n_fft - n - left
        yp = F.pad(y[:, None], (left, right), mode="reflect")[:, 0]
        win = self.window
        if c.win_length < c.n_fft:
            lp = (c.n_fft - c.win_length) // 2
            win = F.pad(win, (lp, c.n_fft - c.win_length - lp))
        spec = torch.stft(yp, c.n_fft, c.hop_length, c.n_fft, window=win, center=False, return_complex=True)
        mag = spec.abs()[..., :frames]
        if c.power != 1.0:
            mag = mag**c.power
        return torch.log(torch.clamp((self.fb @ mag).transpose(1, 2), min=LOG_FLOOR))


def mrstft_loss(pred: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Multi-resolution STFT loss: mean over resolutions of spectral convergence + log-mag L1."""
    total = pred.new_zeros(())
    for n_fft, hop in STFT_RESOLUTIONS:
        w = torch.hann_window(n_fft, device=pred.device)
        sp = torch.stft(pred, n_fft, hop, n_fft, window=w, return_complex=True).abs().clamp_min(1e-7)
        sr = torch.stft(real, n_fft, hop, n_fft, window=w, return_complex=True).abs().clamp_min(1e-7)
        sc = torch.linalg.norm(sr - sp) / torch.linalg.norm(sr).clamp_min(1e-7)
        total = total + sc + F.l1_loss(torch.log(sp), torch.log(sr))
    return total / len(STFT_RESOLUTIONS)


def library_recordings(data_root: str | Path, split: str) -> list[Path]:
    """FLAC paths of one split of the cleaned library (``v2a data sfx``), in manifest order."""
    from engine.data.library import read_manifest, sound_path

    sfx = Path(data_root) / "sfx"
    rows = read_manifest(sfx)
    return [sound_path(sfx, r) for r in rows if r.get("split") == split]


def load_recordings(files: list[Path], sample_rate: int) -> list[np.ndarray]:
    """Decode + resample to the pack rate (library files are already 16 kHz mono)."""
    from engine.audio.dsp import resample
    from engine.data.clean import load_mono

    out = []
    for f in files:
        audio, sr = load_mono(f)
        out.append(resample(audio, sr, sample_rate))
    return out


def _crops(audios: list[np.ndarray], rng: np.random.Generator, batch: int, seg: int) -> np.ndarray:
    """``batch`` crops of ``seg`` samples; a few tries per crop to avoid silent ones."""
    out = np.zeros((batch, seg), np.float32)
    for b in range(batch):
        best, best_rms = None, -1.0
        for _ in range(4):
            a = audios[int(rng.integers(0, len(audios)))]
            s = int(rng.integers(0, len(a) - seg + 1)) if len(a) > seg else 0
            c = a[s : s + seg]
            rms = float(np.sqrt(np.mean(c**2))) if c.size else 0.0
            if rms > best_rms:
                best, best_rms = c, rms
            if rms > 1e-3:
                break
        out[b, : len(best)] = best
    return out


def _norm_stats(audios: list[np.ndarray], mel: TorchLogMel, rng: np.random.Generator, n: int = 64, seg: int = 16000) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-bin mean and std of training log-mels (the vocoder's ``mean``/``scale`` buffers)."""
    x = torch.from_numpy(_crops(audios, rng, n, seg))
    with torch.no_grad():
        m = mel(x).reshape(-1, mel.cfg.n_mels)
    return m.mean(0), m.std(0).clamp_min(0.1)


def train_vocoder(cfg: VocoderTrainConfig, voc_config: dict[str, Any], train_files: list[Path],
                  val_files: list[Path] | None = None, mel_cfg: MelConfig = MelConfig()) -> dict[str, Any]:
    """Train (or continue) the run's vocoder for ``cfg.steps`` steps; returns the summary."""
    from accelerate import Accelerator
    from tqdm import tqdm

    from engine.errors import V2AError
    from engine.models.hifigan import build_hifigan, check_compatible, clean_config
    from engine.train.checkpoint import load_ckpt, save_ckpt
    from engine.train.packio import write_model_folder

    if not train_files:
        raise V2AError("no training recordings for the vocoder (run `v2a data sfx` first)")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    d = Path(cfg.out) / "vocoder"
    ck = d / "ckpt"
    cfg_path = d / "config.json"
    if cfg.resume and (ck / "state.json").is_file() and cfg_path.is_file():
        voc_config = json.loads(cfg_path.read_text())  # a resumed run keeps its architecture
    voc_config = clean_config(voc_config, cfg_path)
    voc_config["normalize_before"] = True
    check_compatible(voc_config, mel_cfg, cfg_path)
    hop = mel_cfg.hop_length
    seg = max(hop, cfg.segment // hop * hop)
    torch.manual_seed(cfg.seed)
    model = build_hifigan(voc_config)
    audios = load_recordings(train_files, mel_cfg.sample_rate)
    val_audios = load_recordings(val_files, mel_cfg.sample_rate) if val_files else audios
    mel = TorchLogMel(mel_cfg)
    mean, std = _norm_stats(audios, mel, np.random.default_rng([cfg.seed, 99]))
    with torch.no_grad():  # overwritten by the checkpoint when resuming
        model.mean.copy_(mean)
        model.scale.copy_(std)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.8, 0.99), weight_decay=0.0)
    start = load_ckpt(ck, {"vocoder": model}, opt, None) if cfg.resume else 0
    acc = Accelerator(cpu=not torch.cuda.is_available())
    model, opt = acc.prepare(model, opt)
    mel = mel.to(acc.device)
    raw = acc.unwrap_model(model)
    d.mkdir(parents=True, exist_ok=True)
    logf = open(d / "log.jsonl", "a", encoding="utf-8")
    bar = tqdm(total=cfg.steps, initial=start, desc="vocoder", disable=cfg.quiet or not acc.is_local_main_process)
    losses: list[float] = []
    t0 = time.time()
    for step in range(start, cfg.steps):
        rng = np.random.default_rng([cfg.seed, 17, step, acc.process_index])
        y = torch.from_numpy(_crops(audios, rng, cfg.batch, seg)).to(acc.device)
        with torch.no_grad():
            m_real = mel(y)
        y_hat = model(m_real)[:, :seg]
        l_mel = F.l1_loss(mel(y_hat), m_real)
        l_stft = mrstft_loss(y_hat, y)
        loss = l_mel + l_stft
        opt.zero_grad(set_to_none=True)
        acc.backward(loss)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        losses.append(float(loss.detach()))
        bar.update(1)
        if (step + 1) % cfg.log_every == 0:
            rec = {"step": step + 1, "loss": float(np.mean(losses[-cfg.log_every:])), "mel_l1": float(l_mel.detach()),
                   "mrstft": float(l_stft.detach()), "lr": cfg.lr, "elapsed_s": round(time.time() - t0, 1)}
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            bar.set_postfix(loss=f"{rec['loss']:.4f}")
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:
            save_ckpt(ck, step + 1, {"vocoder": raw}, opt, None)
            write_model_folder(d, {"model_type": "speecht5_hifigan", **voc_config}, raw)
    bar.close()
    logf.close()
    raw.eval()
    if not (d / "model.safetensors").is_file():
        write_model_folder(d, {"model_type": "speecht5_hifigan", **voc_config}, raw)
    val = validate_vocoder(raw, val_audios, mel, seg)
    summary = {"stage": "vocoder", "steps": cfg.steps, "start": start,
               "train_loss_last": float(np.mean(losses[-50:])) if losses else None,
               "seconds": round(time.time() - t0, 1), "params": sum(p.numel() for p in raw.parameters()),
               "config": voc_config, "train_files": len(train_files), **val}
    (d / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


@torch.no_grad()
def validate_vocoder(model: torch.nn.Module, audios: list[np.ndarray], mel: TorchLogMel, seg: int, batches: int = 2) -> dict[str, float]:
    """Mel L1 of the vocoded vs real held-out crops (fixed crops, comparable across runs)."""
    from engine.models.vocoder import GriffinLim

    dev = module_device(model)
    gl = GriffinLim(mel.cfg)
    vals, gl_vals = [], []
    for k in range(batches):
        y = torch.from_numpy(_crops(audios, np.random.default_rng([12345, k]), 4, seg)).to(dev)
        m = mel(y)
        vals.append(float(F.l1_loss(mel(model(m)[:, :seg]), m)))
        # the baseline the vocoder has to beat: Griffin-Lim from the same mel
        y_gl = torch.from_numpy(gl(m.cpu(), seed=k)[:, :seg]).to(dev)
        gl_vals.append(float(F.l1_loss(mel(y_gl), m)))
    return {"val_mel_l1": float(np.mean(vals)), "val_mel_l1_griffin_lim": float(np.mean(gl_vals))}
