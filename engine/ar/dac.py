"""DAC waveform codec for full AR packs (V-AURA's tokens: DAC 44.1 kHz, 9 codebooks).

Wraps ``transformers.DacModel`` built from a ``DacConfig`` dict stored in the pack's
``pack.json`` (``engines.ar.codec = {"type": "dac", "config": {...}}``) and weights from a
local safetensors file loaded through engine.packs (sha256 + shapes checked; never a hub,
never a pickle). Unlike :class:`engine.ar.codec.MelRVQCodec` it works on waveforms, so the
pipeline skips Griffin-Lim for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.errors import PackError
from engine.packs import check_state_dict, load_weights

CODEC_TYPE = "dac"


class DacCodecConfig:
    """The pack's ``codec`` entry: ``{"type": "dac", "config": <DacConfig dict>}``."""

    def __init__(self, config: dict[str, Any]) -> None:
        from transformers import DacConfig

        self.dac = DacConfig(**config)

    @property
    def sample_rate(self) -> int:
        return int(self.dac.sampling_rate)

    @property
    def hop_length(self) -> int:
        return int(np.prod(self.dac.downsampling_ratios))

    @property
    def frame_rate(self) -> float:
        # Exact rate (DacConfig.frame_rate rounds up, which would drift the token clock).
        return self.sample_rate / self.hop_length

    def to_dict(self) -> dict[str, Any]:
        d = self.dac.to_dict()
        keep = (
            "encoder_hidden_size", "downsampling_ratios", "decoder_hidden_size", "n_codebooks",
            "codebook_size", "codebook_dim", "quantizer_dropout", "commitment_loss_weight",
            "codebook_loss_weight", "sampling_rate", "hidden_size",
        )  # fmt: skip
        return {"type": CODEC_TYPE, "config": {k: d[k] for k in keep if k in d}}


def is_dac_section(codec_sec: Any) -> bool:
    return isinstance(codec_sec, dict) and codec_sec.get("type") == CODEC_TYPE


class DacCodec(nn.Module):
    """codes [K, T] (long) <-> mono float32 waveform at ``sample_rate``."""

    kind = CODEC_TYPE

    def __init__(self, cfg: DacCodecConfig) -> None:
        super().__init__()
        from transformers import DacModel

        self.cfg = cfg
        self.model = DacModel(cfg.dac)
        self.model.eval()

    @classmethod
    def from_section(cls, codec_sec: dict[str, Any], where: Path | None = None) -> DacCodec:
        conf = codec_sec.get("config")
        if not isinstance(conf, dict):
            raise PackError(
                "codec type 'dac' needs a 'config' object (a DacConfig dict)",
                where or Path("pack.json"),
            )
        try:
            return cls(DacCodecConfig(conf))
        except (TypeError, ValueError) as exc:
            raise PackError(f"bad DAC config ({exc})", where or Path("pack.json")) from exc

    @classmethod
    def from_pack(cls, pack_dir: str | Path, codec_sec: dict[str, Any], filename: str) -> DacCodec:
        """Build from the manifest entry and load ``filename`` (verified safetensors)."""
        pack_dir = Path(pack_dir)
        codec = cls.from_section(codec_sec, pack_dir / "pack.json")
        codec.load_tensors(pack_dir / filename, load_weights(pack_dir, filename))
        return codec

    def load_tensors(self, path: Path, tensors: dict[str, torch.Tensor]) -> None:
        # Accept both a bare DacModel state dict and one saved from this wrapper ("model." keys).
        if tensors and all(k.startswith("model.") for k in tensors):
            tensors = {k[len("model.") :]: v for k, v in tensors.items()}
        check_state_dict(path, tensors, self.model.state_dict())
        self.model.load_state_dict(tensors)
        self.model.eval()

    @property
    def n_codebooks(self) -> int:
        return int(self.cfg.dac.n_codebooks)

    @property
    def codebook_size(self) -> int:
        return int(self.cfg.dac.codebook_size)

    @property
    def frame_rate(self) -> float:
        return self.cfg.frame_rate

    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    def n_frames(self, n_samples: int) -> int:
        return -(-int(n_samples) // self.cfg.hop_length)

    @torch.no_grad()
    def encode(self, audio: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Mono waveform [N] at ``sample_rate`` -> codes [K, ceil(N / hop)] (long)."""
        x = torch.as_tensor(np.asarray(audio, dtype=np.float32).reshape(-1))
        n = max(1, x.shape[0])
        pad = self.n_frames(n) * self.cfg.hop_length - x.shape[0]
        x = torch.nn.functional.pad(x, (0, pad))  # the encoder needs whole hops
        codes = self.model.encode(x[None, None]).audio_codes[0]
        return codes[:, : self.n_frames(n)].long()

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> np.ndarray:
        """codes [K, T] -> mono float32 waveform [T * hop]."""
        codes = torch.as_tensor(codes).long()
        if codes.ndim != 2 or codes.shape[0] != self.n_codebooks:
            raise ValueError(f"expected codes [{self.n_codebooks}, T], got {tuple(codes.shape)}")
        y = self.model.decode(audio_codes=codes[None]).audio_values
        return y.reshape(-1).float().numpy().astype(np.float32, copy=False)
