"""The classifier network and its wrapper (embeddings, predictions, save/load as a pack)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.classifier.config import LOG_FLOOR as LOG_FLOOR
from engine.classifier.config import WEIGHTS, segment_mel
from engine.classifier.config import ClassifierConfig as ClassifierConfig
from engine.errors import PackError


class AudioCNN(nn.Module):
    """Conv blocks over the [time, mel] image, then mean+max pooling over time -> embedding.

    Global pooling makes it take any segment length (an event can be 0.3 s or 1 s long).
    """

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        # Time is pooled 2x first (100 -> 50 frames/s is plenty for a class), then one conv per
        # block: ~20 M multiply-adds per second of audio, so it trains in minutes on 2 CPU cores.
        layers: list[nn.Module] = [nn.AvgPool2d((cfg.time_pool, 1))] if cfg.time_pool > 1 else []
        c_in = 1
        for c in cfg.channels:
            layers += [
                nn.Conv2d(c_in, c, 3, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.embed = nn.Linear(2 * c_in, cfg.embed_dim)
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.embed_dim, len(cfg.class_names)))

    def embedding(self, mel: torch.Tensor) -> torch.Tensor:
        """[B, T, n_mels] normalised log-mel -> [B, embed_dim]."""
        x = self.features(mel.unsqueeze(1))  # [B, C, T', F']
        x = x.mean(dim=3)  # over frequency
        x = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)
        return self.embed(x)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(mel))


class AudioClassifier:
    """A trained ``AudioCNN`` with its config: audio in, embeddings / classes out."""

    def __init__(self, model: AudioCNN, config: ClassifierConfig, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.config = config
        self.device = device

    @property
    def class_names(self) -> list[str]:
        return list(self.config.class_names)

    # ------------------------------------------------------------ features
    def mel(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """Normalised log-mel [T, n_mels] at the classifier's rate, padded to ``min_seconds``."""
        return segment_mel(audio, sr, self.config)

    def windows(self, audio: np.ndarray, sr: int) -> list[np.ndarray]:
        """Normalised mel windows (``window_seconds`` long, ``window_hop_seconds`` apart)."""
        m = self.mel(audio, sr)
        fps = self.config.sample_rate / self.config.hop_length
        w = max(1, int(round(self.config.window_seconds * fps)))
        h = max(1, int(round(self.config.window_hop_seconds * fps)))
        if m.shape[0] <= w:
            return [m]
        starts = list(range(0, m.shape[0] - w + 1, h))
        return [m[s : s + w] for s in starts]

    @torch.no_grad()
    def _run(self, mels: Sequence[np.ndarray], what: str, batch: int = 64) -> np.ndarray:
        out = []
        # Group equal lengths so no padding changes the pooled statistics.
        order = sorted(range(len(mels)), key=lambda i: mels[i].shape[0])
        results: dict[int, np.ndarray] = {}
        i = 0
        while i < len(order):
            n = mels[order[i]].shape[0]
            group = [order[i]]
            i += 1
            while i < len(order) and mels[order[i]].shape[0] == n and len(group) < batch:
                group.append(order[i])
                i += 1
            x = torch.from_numpy(np.stack([mels[j] for j in group])).to(self.device)
            y = self.model.embedding(x) if what == "embed" else torch.softmax(self.model(x), dim=1)
            for j, row in zip(group, y.cpu().numpy(), strict=True):
                results[j] = row
        out = [results[j] for j in range(len(mels))]
        dim = self.config.embed_dim if what == "embed" else len(self.config.class_names)
        return np.stack(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)

    # ------------------------------------------------------------ public
    def embed_windows(self, clips: Sequence[np.ndarray], sr: int) -> np.ndarray:
        """Embeddings of every analysis window of every clip [sum windows, D] (for FAD)."""
        mels = [w for c in clips for w in self.windows(c, sr)]
        return self._run(mels, "embed")

    def embed(self, segments: Sequence[np.ndarray], sr: int) -> np.ndarray:
        """One embedding per segment [N, D] (whole segment pooled)."""
        return self._run([self.mel(s, sr) for s in segments], "embed")

    def predict_proba(self, segments: Sequence[np.ndarray], sr: int) -> np.ndarray:
        """Class probabilities per segment [N, K] (whole segment pooled)."""
        return self._run([self.mel(s, sr) for s in segments], "proba")

    def predict(self, segments: Sequence[np.ndarray], sr: int) -> list[str]:
        p = self.predict_proba(segments, sr)
        return [self.config.class_names[i] for i in p.argmax(axis=1)]

    def predict_file(self, audio: np.ndarray, sr: int, max_seconds: float = 5.0) -> np.ndarray:
        """Mean class probabilities over the windows of (the first ``max_seconds`` of) a file."""
        a = np.asarray(audio)[: int(max_seconds * sr)]
        p = self._run(self.windows(a, sr), "proba")
        return p.mean(axis=0)

    def event_segments(
        self, audio: np.ndarray, sr: int, times: Sequence[float], pre: float = 0.05, max_len: float = 1.0,
        min_len: float = 0.3,
    ) -> list[np.ndarray]:
        """Segments of ``audio`` starting just before each event, ending at the next one (<= max)."""
        ts = sorted(float(t) for t in times)
        segs = []
        for i, t in enumerate(ts):
            end = t + max_len
            if i + 1 < len(ts):
                end = min(end, max(ts[i + 1] - 0.02, t + min_len))
            a = max(0, int((t - pre) * sr))
            b = min(len(audio), max(a + 1, int(end * sr)))
            segs.append(np.asarray(audio[a:b], dtype=np.float32))
        return segs

    def event_accuracy(self, audio: np.ndarray, sr: int, events: Sequence[tuple[float, str]]) -> dict:
        """Fraction of events whose segment is classified as the event's class.

        Events whose class the classifier does not know are skipped (counted in ``skipped``).
        """
        known = set(self.config.class_names)
        evs = sorted((float(t), c) for t, c in events)
        all_times = [t for t, _ in evs]
        segs = self.event_segments(audio, sr, all_times)
        keep = [i for i, (_, c) in enumerate(evs) if c in known]
        if not keep:
            return {"accuracy": float("nan"), "n": 0, "skipped": len(evs)}
        proba = self.predict_proba([segs[i] for i in keep], sr)
        names = self.config.class_names
        truth = [names.index(evs[i][1]) for i in keep]
        hits = int(sum(int(p.argmax()) == t for p, t in zip(proba, truth, strict=True)))
        top3 = int(sum(t in np.argsort(-p)[:3] for p, t in zip(proba, truth, strict=True)))
        return {
            "accuracy": hits / len(keep),
            "top3_accuracy": top3 / len(keep),
            "n": len(keep),
            "hits": hits,
            "top3_hits": top3,
            "skipped": len(evs) - len(keep),
        }

    # ------------------------------------------------------------ persistence
    def save(self, out_dir: str | Path, description: str = "") -> Path:
        """Write ``pack.json`` (config under "classifier") + ``classifier.safetensors`` atomically."""
        from engine.packs import write_pack

        manifest = {
            "name": "classifier",
            "version": str(self.config.extra.get("version", "1")),
            "description": description or "sound-class classifier for evaluation (FAD, class accuracy)",
            "license": "Apache-2.0 (code); weights trained on the Foley library, see docs/DATA_LICENSES",
            "attribution": "V2A Studio",
            "sample_rate": self.config.sample_rate,
            "mel": {"n_mels": self.config.n_mels, "hop_length": self.config.hop_length},
            "engines": {},
            "classifier": self.config.to_dict(),
        }
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        return write_pack(out_dir, manifest, {WEIGHTS: state})

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> AudioClassifier:
        from engine.packs import check_state_dict, load_weights, read_manifest

        path = Path(path)
        if not (path / "pack.json").is_file():
            raise PackError(
                "no trained classifier here; train one with: python -m engine.classifier.train", path
            )
        man = read_manifest(path)
        if "classifier" not in man:
            raise PackError("pack.json has no 'classifier' config", path / "pack.json")
        cfg = ClassifierConfig.from_dict(man["classifier"])
        model = AudioCNN(cfg)
        tensors = load_weights(path, WEIGHTS)
        check_state_dict(path / WEIGHTS, tensors, model.state_dict())
        model.load_state_dict(tensors)
        return cls(model, cfg, device)


def config_json(cfg: ClassifierConfig) -> str:
    return json.dumps(cfg.to_dict(), indent=2)
