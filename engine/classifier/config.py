"""The classifier's configuration and input features, torch-free.

Shared by the torch model (``engine.classifier.model``) and its numpy inference
(``engine.classifier.numpy_embed``), so both see exactly the same normalised log-mel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from engine.audio import MelConfig, log_mel, resample

WEIGHTS = "classifier.safetensors"
LOG_FLOOR = float(np.log(1e-5))  # log_mel's floor: the value of silence / padding


@dataclass
class ClassifierConfig:
    class_names: list[str]
    sample_rate: int = 16000
    n_mels: int = 64
    hop_length: int = 160
    channels: tuple[int, ...] = (24, 48, 96, 128)
    time_pool: int = 2
    embed_dim: int = 128
    dropout: float = 0.2
    mel_mean: float = -6.0  # input normalisation, measured on the training set
    mel_std: float = 3.0
    window_seconds: float = 1.0  # analysis window for embeddings / file-level predictions
    window_hop_seconds: float = 0.5
    min_seconds: float = 0.2  # shorter segments are padded with silence
    extra: dict = field(default_factory=dict)  # training provenance (data, accuracy, ...)

    @property
    def mel_config(self) -> MelConfig:
        return MelConfig(sample_rate=self.sample_rate, hop_length=self.hop_length, n_mels=self.n_mels)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierConfig:
        d = dict(d)
        d["channels"] = tuple(d.get("channels", cls.channels))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def segment_mel(audio: np.ndarray, sr: int, cfg: ClassifierConfig) -> np.ndarray:
    """Normalised log-mel [T, n_mels] at the classifier's rate, padded to ``min_seconds``."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 2:
        a = a.mean(axis=1)
    if sr != cfg.sample_rate:
        a = resample(a, sr, cfg.sample_rate)
    m = log_mel(a, cfg.mel_config)
    need = int(round(cfg.min_seconds * cfg.sample_rate / cfg.hop_length))
    if m.shape[0] < need:
        m = np.concatenate([m, np.full((need - m.shape[0], m.shape[1]), LOG_FLOOR, np.float32)])
    return (m - cfg.mel_mean) / cfg.mel_std
