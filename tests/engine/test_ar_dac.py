"""DAC codec path of the AR engine: a tiny random DacModel saved as a local safetensors pack."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.ar.dac import DacCodec, DacCodecConfig
from engine.ar.model import ARConfig, ARTransformer
from engine.ar.pack import load_ar_pack, save_ar_pack
from engine.ar.pipeline import ARModels, audio_to_codes, codes_to_audio, generate_codes
from engine.ar.sampling import SampleSettings
from engine.errors import PackError
from engine.packs import write_pack

TINY = {
    "encoder_hidden_size": 8,
    "downsampling_ratios": [2, 4],
    "decoder_hidden_size": 16,
    "n_codebooks": 3,
    "codebook_size": 32,
    "codebook_dim": 4,
    "hidden_size": 32,
    "sampling_rate": 16000,
}
HOP = 8


def _random_dac_pack(tmp_path: Path, sr: int = 16000) -> tuple[Path, dict]:
    """A pack-like folder: pack.json with the codec entry + a bare DacModel state dict."""
    from transformers import DacConfig, DacModel

    torch.manual_seed(0)
    conf = {**TINY, "sampling_rate": sr}
    src = DacModel(DacConfig(**conf)).eval()
    sec = {"type": "dac", "config": conf}
    manifest = {"name": "tiny-dac", "version": "0.0.1", "engines": {"codec_only": sec}}
    pack = write_pack(tmp_path / "dacpack", manifest, {"dac.safetensors": src.state_dict()})
    return pack, sec


def test_dac_codec_roundtrip_shapes(tmp_path: Path) -> None:
    pack, sec = _random_dac_pack(tmp_path)
    codec = DacCodec.from_pack(pack, sec, "dac.safetensors")
    assert (codec.n_codebooks, codec.codebook_size, codec.sample_rate) == (3, 32, 16000)
    assert codec.frame_rate == pytest.approx(16000 / HOP)

    rng = np.random.default_rng(0)
    n = 1001  # not a multiple of the hop: encode pads to whole hops
    audio = (0.3 * np.sin(np.arange(n) * 0.05) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    codes = codec.encode(audio)
    assert codes.dtype == torch.long
    assert codes.shape == (3, -(-n // HOP))
    assert int(codes.min()) >= 0 and int(codes.max()) < 32

    y = codec.decode(codes)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    assert abs(len(y) - n) < HOP  # T * hop samples
    assert np.isfinite(y).all()

    # Weights really came from the file: a fresh random model gives different audio.
    torch.manual_seed(123)
    other = DacCodec(DacCodecConfig(TINY))
    assert not np.allclose(other.decode(codes), y)

    with pytest.raises(ValueError):
        codec.decode(codes[:2])


def test_dac_weights_are_verified(tmp_path: Path) -> None:
    pack, sec = _random_dac_pack(tmp_path)
    wrong = {"type": "dac", "config": {**TINY, "codebook_size": 64}}  # shapes no longer fit
    with pytest.raises(PackError):
        DacCodec.from_pack(pack, wrong, "dac.safetensors")
    with pytest.raises(PackError):
        DacCodec.from_section({"type": "dac"})
    data = (pack / "dac.safetensors").read_bytes()
    (pack / "dac.safetensors").write_bytes(data[:-4] + b"\0\0\0\0")
    with pytest.raises(PackError):  # sha256 mismatch
        DacCodec.from_pack(pack, sec, "dac.safetensors")


def test_ar_pack_with_dac_codec(tmp_path: Path) -> None:
    # 24 kHz codec while ARModels keeps the default 16 kHz MelConfig: loading must follow the codec.
    pack, sec = _random_dac_pack(tmp_path, sr=24000)
    codec = DacCodec.from_pack(pack, sec, "dac.safetensors")
    cfg = ARConfig(n_codebooks=3, codebook_size=32, d_model=32, n_layers=1, n_heads=2, ffn_hidden=48,
                   visual_dim=0, layout_bands=0, text_dim=0, context=16, frame_rate=codec.frame_rate)
    models = ARModels(codec, ARTransformer(cfg).eval())
    out = save_ar_pack(tmp_path / "ar-dac", models, visual={}, sampling={})

    loaded, lsec = load_ar_pack(out)
    assert lsec["codec"]["type"] == "dac"
    assert isinstance(loaded.codec, DacCodec)
    assert loaded.mel_cfg.sample_rate == 24000
    assert loaded.frame_rate == pytest.approx(3000.0)

    duration = 0.01  # 30 token frames at 3 kHz
    codes = generate_codes(loaded, duration, None, settings=SampleSettings(guidance=None, top_k=8, stride=8), seed=1)
    assert codes.shape == (1, 30, 3)
    assert int(codes.min()) >= 0 and int(codes.max()) < 32
    y = codes_to_audio(loaded, codes[0], duration)
    assert y.shape == (240,) and y.dtype == np.float32  # exact sample count, no Griffin-Lim

    prefix = audio_to_codes(loaded, y, 24000)
    assert prefix.shape == (30, 3) and prefix.dtype == torch.long
    torch.manual_seed(0)
    probe = torch.randint(0, 32, (3, 10))  # same weights after the AR pack round trip
    assert np.allclose(loaded.codec.decode(probe), codec.decode(probe), atol=1e-6)
