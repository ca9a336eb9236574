"""Audio <-> codes and the whole AR sampling pass on plain arrays (no files, no packs).

``ARModels`` bundles a codec and a transformer. ``generate_codes`` builds the condition
streams for a duration, samples (batched takes, CFG, sliding window, optional continuation
prefix) and returns codes; ``codes_to_audio`` decodes them to a waveform of exactly the
requested number of samples.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.ar.codec import MelRVQCodec
from engine.ar.conditions import layout_to_tokens, n_token_frames, to_positions, visual_to_tokens
from engine.ar.dac import DacCodec
from engine.ar.delay import delayed_length
from engine.ar.model import ARTransformer
from engine.ar.sampling import SampleSettings, iter_sample_tokens
from engine.audio import MelConfig, griffin_lim, log_mel
from engine.audio.dsp import resample
from engine.progress import run_to_completion
from engine.types import AudioLayout


@dataclass
class ARModels:
    codec: MelRVQCodec | DacCodec  # DacCodec: waveform codec of full packs (no Griffin-Lim)
    model: ARTransformer
    mel_cfg: MelConfig = field(default_factory=MelConfig)
    griffin_lim_iters: int = 32

    @property
    def frame_rate(self) -> float:
        return self.codec.cfg.frame_rate


def audio_to_codes(models: ARModels, audio: np.ndarray, sr: int) -> torch.Tensor:
    """Waveform -> codes [T', K] (resampled to the pack's rate first)."""
    y = resample(np.asarray(audio, dtype=np.float32).reshape(-1), sr, models.mel_cfg.sample_rate)
    if isinstance(models.codec, DacCodec):
        return models.codec.encode(y).t().contiguous()  # [K, T'] -> [T', K]
    mel = torch.from_numpy(log_mel(y, models.mel_cfg)).float()[None]
    return models.codec.encode(mel)[0]


def codes_to_mel(models: ARModels, codes: torch.Tensor) -> np.ndarray:
    """codes [T', K] -> log-mel [T'*ds, n_mels]."""
    return models.codec.decode(codes[None].long())[0].numpy()


def codes_to_audio(models: ARModels, codes: torch.Tensor, duration: float, seed: int = 0) -> np.ndarray:
    """Decode to a float32 waveform of exactly round(duration * sr) samples."""
    sr = models.mel_cfg.sample_rate
    n = int(round(duration * sr))
    if isinstance(models.codec, DacCodec):  # waveform codec: decode directly, no Griffin-Lim
        y = models.codec.decode(codes.long().t())
    else:
        mel = codes_to_mel(models, codes)
        mel = mel[: max(1, -(-n // models.mel_cfg.hop_length))]
        y = griffin_lim(mel, models.mel_cfg, n_iter=models.griffin_lim_iters, seed=seed)
    out = np.zeros(n, dtype=np.float32)
    out[: min(n, len(y))] = y[:n]
    return out


def generate_codes(
    models: ARModels,
    duration: float,
    layout: AudioLayout | None,
    visual: tuple[np.ndarray, np.ndarray] | None = None,
    text: np.ndarray | None = None,
    negative_text: np.ndarray | None = None,
    settings: SampleSettings = SampleSettings(),
    seed: int = 0,
    takes: int = 1,
    prefix: torch.Tensor | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Codes [takes, n_frames, K] (see :func:`iter_generate_codes`)."""
    job = iter_generate_codes(models, duration, layout, visual, text, negative_text, settings, seed, takes, prefix)
    return run_to_completion(job, None if on_step is None else lambda st: on_step(*st))


def iter_generate_codes(
    models: ARModels,
    duration: float,
    layout: AudioLayout | None,
    visual: tuple[np.ndarray, np.ndarray] | None = None,
    text: np.ndarray | None = None,
    negative_text: np.ndarray | None = None,
    settings: SampleSettings = SampleSettings(),
    seed: int = 0,
    takes: int = 1,
    prefix: torch.Tensor | None = None,
) -> Generator[tuple[int, int], None, torch.Tensor]:
    """Sample codes [takes, n_frames, K] for ``duration`` seconds; yields (step, total).

    visual = (features [N, D], times [N]); text / negative_text = sentence embeddings [D_text].
    The unconditional branch of CFG uses the learned empty visual and layout conditions and
    the negative prompt's embedding (or the learned empty text when there is none).
    """
    model = models.model
    cfg = model.cfg
    fr = models.frame_rate
    n_frames = n_token_frames(duration, fr)
    s_len = delayed_length(n_frames, cfg.n_codebooks)
    vis_t = lay_t = txt_t = neg_t = None
    if visual is not None and cfg.visual_dim > 0:
        v = to_positions(visual_to_tokens(visual[0], visual[1], n_frames, fr), s_len)
        vis_t = torch.from_numpy(v).float()[None].expand(takes, -1, -1)
    if layout is not None and cfg.layout_bands > 0:
        lay = to_positions(layout_to_tokens(layout, n_frames, fr), s_len)
        if lay.shape[1] != cfg.layout_bands:
            from engine.audio import resize_layout

            lay = resize_layout(lay, lay.shape[0], cfg.layout_bands)
        lay_t = torch.from_numpy(np.ascontiguousarray(lay)).float()[None].expand(takes, -1, -1)
    if text is not None and cfg.text_dim > 0:
        txt_t = torch.from_numpy(np.asarray(text, np.float32)).reshape(1, -1).expand(takes, -1)
    if negative_text is not None and cfg.text_dim > 0:
        neg_t = torch.from_numpy(np.asarray(negative_text, np.float32)).reshape(1, -1).expand(takes, -1)
    with torch.no_grad():
        cond, tv = model.condition(vis_t, lay_t, txt_t, s_len, takes)
        unc, utv = model.condition(None, None, neg_t, s_len, takes)
    gen = [torch.Generator().manual_seed(int(seed) + i) for i in range(takes)]  # take i = seed + i
    pre = None if prefix is None else prefix[None].expand(takes, -1, -1)
    if settings.guidance is None:
        unc = utv = None
    return (yield from iter_sample_tokens(model, cond, tv, n_frames, settings, gen, unc, utv, prefix=pre))
