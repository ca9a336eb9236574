"""Griffin-Lim vocoder in torch (stft/istft), the always-available mel -> waveform path.

On a 2-core CPU the vocoder, not the diffusion, was the bottleneck with a numpy Griffin-Lim;
torch's FFTs plus the "fast Griffin-Lim" momentum (Perraudin et al. 2013) give usable audio
in ~32 iterations. Framing matches engine.audio.log_mel (AudioLDM padding: frame t is centred
on the middle of samples [t*hop, (t+1)*hop)).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.audio.mel import MelConfig, mel_filterbank

#: Mel frames reconstructed at once (60 s at 100 frames/s) and the overlap between segments.
#: Griffin-Lim holds several complex spectrograms of its input: 10 minutes at once peaked at
#: ~1.3 GB more than the rest of ``v2a generate``; shorter mels run whole, as before.
SEGMENT_FRAMES = 6000
SEGMENT_OVERLAP = 100


class GriffinLim:
    def __init__(self, mel_cfg: MelConfig, n_iter: int = 32, momentum: float = 0.99) -> None:
        self.cfg = mel_cfg
        self.n_iter = int(n_iter)
        self.momentum = float(momentum)
        fb = mel_filterbank(mel_cfg.sample_rate, mel_cfg.n_fft, mel_cfg.n_mels, mel_cfg.fmin, mel_cfg.fmax)
        self.fb = torch.from_numpy(np.array(fb))  # [n_mels, bins]
        self.fb_pinv = torch.linalg.pinv(self.fb)  # [bins, n_mels]
        self.window = torch.hann_window(mel_cfg.win_length, periodic=True)

    def mel_to_magnitude(self, log_mel: torch.Tensor) -> torch.Tensor:
        """[..., T, n_mels] natural-log magnitude mel -> [..., bins, T] linear magnitude."""
        m = torch.exp(log_mel.float())
        mag = (m @ self.fb_pinv.T).clamp_min(0.0)
        if self.cfg.power != 1.0:
            mag = mag ** (1.0 / self.cfg.power)
        return mag.transpose(-1, -2)

    def __call__(self, log_mel: torch.Tensor | np.ndarray, seed: int = 0) -> np.ndarray:
        """[T, n_mels] or [B, T, n_mels] log-mel -> float32 audio [T*hop] or [B, T*hop]."""
        lm = torch.as_tensor(np.asarray(log_mel) if isinstance(log_mel, np.ndarray) else log_mel).float()
        dev = lm.device  # runs where the mel is (G's device); the phase is drawn on the CPU
        if self.fb_pinv.device != dev:
            self.fb, self.fb_pinv, self.window = self.fb.to(dev), self.fb_pinv.to(dev), self.window.to(dev)
        squeeze = lm.ndim == 2
        if squeeze:
            lm = lm[None]
        hop = self.cfg.hop_length
        n_frames = lm.shape[1]
        length = n_frames * hop
        g = torch.Generator().manual_seed(int(seed))
        if n_frames <= SEGMENT_FRAMES:
            mag = self.mel_to_magnitude(lm)  # [B, bins, T]
            phase = torch.exp(2j * torch.pi * torch.rand(mag.shape, generator=g)).to(dev)
            y, _ = self._griffin_lim(mag, phase.to(torch.complex64), length)
        else:
            y = self._segmented(lm, g)
        # torch centres frame t on sample t*hop; log_mel centres it on t*hop + hop/2.
        shift = hop // 2
        y = torch.cat([torch.zeros(y.shape[0], shift, device=dev), y[:, : length - shift]], dim=1)
        out = y.cpu().numpy().astype(np.float32)
        return out[0] if squeeze else out

    def _griffin_lim(self, mag: torch.Tensor, angles: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(audio [B, length], the final unit phases [B, bins, T]) from magnitudes and start phases."""
        cfg = self.cfg
        n_frames = mag.shape[-1]
        spec_kw = dict(n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length, window=self.window,
                       center=True)
        prev = torch.zeros_like(angles)
        alpha = self.momentum / (1.0 + self.momentum)
        with torch.no_grad():
            for _ in range(self.n_iter):
                y = torch.istft(mag * angles, length=length, **spec_kw)
                rebuilt = torch.stft(y, return_complex=True, **spec_kw)[..., :n_frames]
                angles = rebuilt - alpha * prev
                angles = angles / (angles.abs() + 1e-8)
                prev = rebuilt
            y = torch.istft(mag * angles, length=length, **spec_kw)
        return y, angles

    def _segmented(self, lm: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """A long mel in overlapping segments: each starts from the previous one's final phases
        over the overlap (so the two agree there) and is cross-faded in linearly."""
        hop, dev = self.cfg.hop_length, lm.device
        b, n_frames = lm.shape[:2]
        rand = torch.rand((b, self.fb_pinv.shape[0], n_frames), generator=g)  # the one-shot draw
        y = torch.zeros(b, n_frames * hop, device=dev)
        s, tail = 0, None
        while True:
            e = min(n_frames, s + SEGMENT_FRAMES)
            mag = self.mel_to_magnitude(lm[:, s:e])
            angles = torch.exp(2j * torch.pi * rand[..., s:e]).to(dev).to(torch.complex64)
            if tail is not None:
                angles[..., : tail.shape[-1]] = tail
            ys, ang = self._griffin_lim(mag, angles, (e - s) * hop)
            n_ov = 0 if tail is None else tail.shape[-1] * hop
            if n_ov:
                fade = (torch.arange(n_ov, device=dev, dtype=torch.float32) + 0.5) / n_ov
                y[:, s * hop : s * hop + n_ov] = y[:, s * hop : s * hop + n_ov] * (1 - fade) + ys[:, :n_ov] * fade
            y[:, s * hop + n_ov : e * hop] = ys[:, n_ov:]
            if e == n_frames:
                return y
            tail = ang[..., e - SEGMENT_OVERLAP - s :]
            s = e - SEGMENT_OVERLAP
