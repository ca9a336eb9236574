"""Residual-vector-quantised codec over log-mel frames (the AR engine's tokens).

The starter pack has no neural waveform codec (none installs offline), so the tokens are a
small RVQ autoencoder trained here over 64-bin log-mel at 100 frames/s: a 1-D conv encoder
folds ``downsample`` mel frames into one latent step (25 Hz for 4), ``n_codebooks`` residual
codebooks quantise it, and a conv decoder returns mel frames, which engine.audio's
Griffin-Lim (or a pack vocoder) turns into a waveform. Codebooks are EMA k-means (no
codebook gradients), initialised from data and with dead codes restarted — the usual recipe
(SoundStream / EnCodec) that trains in minutes on a CPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class CodecConfig:
    n_mels: int = 64
    mel_fps: float = 100.0
    downsample: int = 4  # mel frames per token step -> 25 Hz
    hidden: int = 192
    latent: int = 64
    n_codebooks: int = 4
    codebook_size: int = 256
    n_res: int = 2
    mel_mean: float = -6.0  # normalisation of the natural-log mel (set from data in training)
    mel_std: float = 3.0
    floor: float = -11.5129  # log(1e-5), engine.audio's floor: padding value

    @property
    def frame_rate(self) -> float:
        return self.mel_fps / self.downsample

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CodecConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class _Res(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv1d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.gelu(self.c1(F.gelu(x))))


class ResidualVQ(nn.Module):
    """``K`` codebooks applied to the running residual; EMA updates while training."""

    def __init__(self, dim: int, n_codebooks: int, size: int, decay: float = 0.99) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("codebooks", torch.randn(n_codebooks, size, dim) * 0.1)
        self.register_buffer("ema_count", torch.ones(n_codebooks, size))
        self.register_buffer("ema_sum", self.codebooks.clone())
        self.register_buffer("initted", torch.zeros((), dtype=torch.bool))

    @property
    def n_codebooks(self) -> int:
        return int(self.codebooks.shape[0])

    def _nearest(self, x: torch.Tensor, k: int) -> torch.Tensor:
        cb = self.codebooks[k]
        d = x.pow(2).sum(-1, keepdim=True) - 2 * x @ cb.t() + cb.pow(2).sum(-1)[None]
        return d.argmin(-1)

    @torch.no_grad()
    def _init_from(self, x: torch.Tensor) -> None:
        # Greedy residual k-means init (a few Lloyd steps per level) from the first batch.
        resid = x
        size = self.codebooks.shape[1]
        for k in range(self.n_codebooks):
            idx = torch.randint(0, resid.shape[0], (size,))
            cb = resid[idx].clone()
            for _ in range(10):
                a = (resid.pow(2).sum(-1, keepdim=True) - 2 * resid @ cb.t() + cb.pow(2).sum(-1)[None]).argmin(-1)
                cnt = torch.bincount(a, minlength=size).float()
                s = torch.zeros_like(cb).index_add_(0, a, resid)
                keep = cnt > 0
                cb[keep] = s[keep] / cnt[keep, None]
            self.codebooks[k] = cb
            self.ema_sum[k] = cb
            self.ema_count[k] = 1.0
            resid = resid - cb[self._nearest(resid, k)]
        self.initted.fill_(True)

    def forward(self, x: torch.Tensor, n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [N, D] -> (quantised [N, D] with straight-through grad, codes [N, K], commit loss)."""
        n_q = self.n_codebooks if n_q is None else n_q
        if self.training and not bool(self.initted):
            self._init_from(x.detach())
        resid = x
        out = torch.zeros_like(x)
        codes = []
        for k in range(n_q):
            idx = self._nearest(resid.detach(), k)
            q = self.codebooks[k][idx]
            if self.training:
                self._ema_update(k, resid.detach(), idx)
            out = out + q
            resid = resid - q.detach()
            codes.append(idx)
        commit = F.mse_loss(x, out.detach())
        quant = x + (out - x).detach()
        return quant, torch.stack(codes, -1), commit

    @torch.no_grad()
    def _ema_update(self, k: int, x: torch.Tensor, idx: torch.Tensor) -> None:
        size = self.codebooks.shape[1]
        cnt = torch.bincount(idx, minlength=size).float()
        s = torch.zeros(size, x.shape[1], dtype=x.dtype).index_add_(0, idx, x)
        self.ema_count[k].mul_(self.decay).add_(cnt, alpha=1 - self.decay)
        self.ema_sum[k].mul_(self.decay).add_(s, alpha=1 - self.decay)
        n = self.ema_count[k].sum()
        smoothed = (self.ema_count[k] + 1e-5) / (n + size * 1e-5) * n
        self.codebooks[k] = self.ema_sum[k] / smoothed[:, None]
        # Restart codes nobody has used for a while with random current residuals.
        dead = self.ema_count[k] < 0.03
        if dead.any():
            nd = int(dead.sum())
            pick = x[torch.randint(0, x.shape[0], (nd,))]
            self.codebooks[k][dead] = pick
            self.ema_sum[k][dead] = pick
            self.ema_count[k][dead] = 1.0

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [..., K] -> latent [..., D] (sum of the codebook vectors)."""
        out = 0
        for k in range(codes.shape[-1]):
            out = out + self.codebooks[k][codes[..., k]]
        return out


class MelRVQCodec(nn.Module):
    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h, ds = cfg.hidden, cfg.downsample
        # ``ds`` mel frames are folded into channels, so every conv runs at the token rate
        # (16x cheaper than full-rate convs) and the frames inside a token stay explicit.
        self.enc_in = nn.Conv1d(cfg.n_mels * ds, h, 3, padding=1)
        self.enc_res = nn.Sequential(*[_Res(h) for _ in range(cfg.n_res)])
        self.enc_out = nn.Conv1d(h, cfg.latent, 1)
        self.rvq = ResidualVQ(cfg.latent, cfg.n_codebooks, cfg.codebook_size)
        self.dec_in = nn.Conv1d(cfg.latent, h, 3, padding=1)
        self.dec_res = nn.Sequential(*[_Res(h) for _ in range(cfg.n_res + 1)])
        self.dec_out = nn.Conv1d(h, cfg.n_mels * ds, 3, padding=1)

    # mel [B, T, n_mels] (natural-log) <-> normalised, folded [B, n_mels * ds, T / ds]
    def _norm(self, mel: torch.Tensor) -> torch.Tensor:
        b, t, m = mel.shape
        x = (mel - self.cfg.mel_mean) / self.cfg.mel_std
        return x.reshape(b, t // self.cfg.downsample, self.cfg.downsample * m).transpose(1, 2)

    def _pad(self, mel: torch.Tensor) -> torch.Tensor:
        ds = self.cfg.downsample
        extra = (-mel.shape[1]) % ds
        if extra:
            pad = torch.full((mel.shape[0], extra, mel.shape[2]), self.cfg.floor, dtype=mel.dtype)
            mel = torch.cat([mel, pad], 1)
        return mel

    def n_frames(self, n_mel_frames: int) -> int:
        return -(-n_mel_frames // self.cfg.downsample)

    def encode_latent(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.enc_in(self._norm(self._pad(mel)))
        return self.enc_out(F.gelu(self.enc_res(x))).transpose(1, 2)  # [B, T', latent]

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dec_out(F.gelu(self.dec_res(self.dec_in(z.transpose(1, 2)))))
        b, _, t = x.shape
        x = x.transpose(1, 2).reshape(b, t * self.cfg.downsample, self.cfg.n_mels)
        return x * self.cfg.mel_std + self.cfg.mel_mean  # [B, T'*ds, n_mels]

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: (reconstructed mel [B, T_pad, M], codes [B, T', K], commit loss)."""
        z = self.encode_latent(mel)
        b, t, d = z.shape
        q, codes, commit = self.rvq(z.reshape(b * t, d))
        rec = self.decode_latent(q.reshape(b, t, d))
        return rec, codes.reshape(b, t, -1), commit

    @torch.no_grad()
    def encode(self, mel: torch.Tensor) -> torch.Tensor:
        """mel [B, T, n_mels] -> codes [B, ceil(T/ds), K] (long)."""
        z = self.encode_latent(mel)
        b, t, d = z.shape
        _, codes, _ = self.rvq(z.reshape(b * t, d))
        return codes.reshape(b, t, -1)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, T', K] -> mel [B, T'*ds, n_mels] (natural-log, like engine.audio.log_mel)."""
        return self.decode_latent(self.rvq.decode(codes))
