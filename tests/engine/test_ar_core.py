"""AR engine core: delay pattern, RVQ codec, transformer shapes, KV cache, CFG, windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.ar.codec import CodecConfig, MelRVQCodec, ResidualVQ
from engine.ar.conditions import layout_to_tokens, n_token_frames, visual_to_tokens
from engine.ar.delay import apply_delay, delayed_length, pad_mask, revert_delay
from engine.ar.model import ARConfig, ARTransformer
from engine.ar.sampling import SampleSettings, sample_tokens, window_start
from engine.types import AudioLayout

K, V = 3, 16


def tiny_model(context: int = 24, visual_dim: int = 6, seed: int = 0) -> ARTransformer:
    torch.manual_seed(seed)
    cfg = ARConfig(
        n_codebooks=K, codebook_size=V, d_model=32, n_layers=2, n_heads=2, ffn_hidden=48,
        visual_dim=visual_dim, d_visual=8, layout_bands=5, d_layout=8, text_dim=12, context=context,
    )
    m = ARTransformer(cfg).eval()
    # Larger random weights so logits are far from uniform and sampling is sensitive to them.
    with torch.no_grad():
        for h in m.heads:
            h.weight.mul_(50)
    return m


def conds(m: ARTransformer, n_frames: int, b: int = 1, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    s = delayed_length(n_frames, m.cfg.n_codebooks)
    vis = torch.randn(b, s, m.cfg.visual_dim, generator=g)
    lay = torch.rand(b, s, 5, generator=g)
    txt = torch.randn(b, 12, generator=g)
    cond, tv = m.condition(vis, lay, txt, s, b)
    unc, utv = m.condition(None, None, None, s, b)
    return cond, tv, unc, utv


def test_delay_round_trip_and_pads():
    codes = torch.randint(0, V, (2, 7, K))
    d = apply_delay(codes, V)
    assert d.shape == (2, 7 + K - 1, K)
    assert torch.equal(revert_delay(d, K), codes)
    mask = pad_mask(7, K)
    assert torch.equal(d[0][mask], torch.full((int(mask.sum()),), V))
    assert not (d[0][~mask] == V).any()
    # codebook k of frame f sits at position f + k
    assert d[1, 4 + 2, 2] == codes[1, 4, 2]


def test_rvq_round_trip_exact_for_codebook_sums():
    torch.manual_seed(0)
    rvq = ResidualVQ(dim=8, n_codebooks=3, size=32).eval()
    with torch.no_grad():  # coarse-to-fine codebooks: each level 10x finer than the last
        for k in range(3):
            rvq.codebooks[k] = torch.randn(32, 8) * (0.1**k)
    codes = torch.randint(0, 32, (50, 3))
    z = rvq.decode(codes)
    _, back, _ = rvq(z)
    assert torch.equal(back, codes)
    assert torch.allclose(rvq.decode(back), z)


def test_codec_learns_and_round_trips():
    torch.manual_seed(0)
    cfg = CodecConfig(hidden=32, latent=8, n_codebooks=2, codebook_size=16, n_res=1, mel_mean=-5.0, mel_std=2.0)
    codec = MelRVQCodec(cfg)
    # synthetic mels: a few on/off events in random bands
    def batch(n=8, t=64):
        mel = torch.full((n, t, 64), -9.0)
        for i in range(n):
            for _ in range(3):
                a = int(torch.randint(0, t - 8, ()))
                lo = int(torch.randint(0, 48, ()))
                mel[i, a : a + 8, lo : lo + 16] = -2.0
        return mel
    opt = torch.optim.Adam(codec.parameters(), 3e-3)
    mel = batch()
    first = None
    for _ in range(60):
        rec, codes, commit = codec.train()(mel)
        loss = torch.nn.functional.mse_loss(rec, mel) + 0.25 * commit
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    codec.eval()
    codes = codec.encode(mel)
    assert codes.shape == (8, 16, 2) and codes.dtype == torch.long
    assert int(codes.max()) < 16
    dec = codec.decode(codes)
    assert dec.shape == (8, 64, 64)
    err = float(torch.nn.functional.mse_loss(dec, mel))
    assert err < 0.5 * first
    again = codec.encode(dec)
    assert float((again == codes).float().mean()) > 0.6
    # odd lengths are padded up to whole token frames
    assert codec.encode(mel[:, :61]).shape[1] == 16


def test_transformer_shapes_and_cache_matches_full_pass():
    m = tiny_model()
    b, t = 2, 10
    toks = torch.randint(0, V + 1, (b, t, K))
    cond, tv, _, _ = conds(m, t - K + 1, b)
    full, _ = m(toks, cond, tv)
    assert full.shape == (b, t, K, V)
    out, cache = m(toks[:, :4], cond[:, :4], tv)
    steps = [out]
    for i in range(4, t):
        o, cache = m(toks[:, i : i + 1], cond[:, i : i + 1], tv, cache, pos0=i)
        steps.append(o)
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-4)


def test_empty_condition_changes_logits():
    m = tiny_model()
    cond, tv, unc, utv = conds(m, 8)
    toks = torch.randint(0, V, (1, cond.shape[1], K))
    a, _ = m(toks, cond, tv)
    b, _ = m(toks, unc, utv)
    assert not torch.allclose(a, b)
    # drop flags give exactly the learned empty condition
    s = cond.shape[1]
    c2, t2 = m.condition(torch.randn(1, s, 6), torch.rand(1, s, 5), torch.randn(1, 12), s, 1,
                         torch.tensor([True]), torch.tensor([True]), torch.tensor([True]))
    assert torch.allclose(c2, unc) and torch.allclose(t2, utv)


@pytest.mark.parametrize("n_frames", [15, 61])  # within one window, and sliding several times
def test_kv_cache_gives_same_tokens(n_frames):
    m = tiny_model(context=24)
    cond, tv, unc, utv = conds(m, n_frames)
    outs = []
    for use_cache in (True, False):
        st = SampleSettings(guidance=3.0, top_k=8, stride=6, use_cache=use_cache)
        g = torch.Generator().manual_seed(7)
        outs.append(sample_tokens(m, cond, tv, n_frames, st, g, unc, utv))
    assert outs[0].shape == (1, n_frames, K)
    assert torch.equal(outs[0], outs[1])


def test_cfg_gamma_one_equals_conditional_sampling():
    m = tiny_model()
    n = 30
    cond, tv, unc, utv = conds(m, n)
    g1 = torch.Generator().manual_seed(3)
    guided = sample_tokens(m, cond, tv, n, SampleSettings(guidance=1.0, top_k=V), g1, unc, utv)
    g2 = torch.Generator().manual_seed(3)
    plain = sample_tokens(m, cond, tv, n, SampleSettings(guidance=None, top_k=V), g2)
    assert torch.equal(guided, plain)
    # and guidance really does something at gamma != 1
    g3 = torch.Generator().manual_seed(3)
    strong = sample_tokens(m, cond, tv, n, SampleSettings(guidance=6.0, top_k=V), g3, unc, utv)
    assert not torch.equal(strong, plain)


def test_seed_and_top_k():
    m = tiny_model()
    cond, tv, unc, utv = conds(m, 20)
    st = SampleSettings(guidance=None, top_k=1)
    a = sample_tokens(m, cond, tv, 20, st, torch.Generator().manual_seed(0))
    b = sample_tokens(m, cond, tv, 20, st, torch.Generator().manual_seed(99))
    assert torch.equal(a, b)  # top-1 is greedy: the seed cannot matter
    st = SampleSettings(guidance=None, top_k=V, temperature=2.0)
    c = sample_tokens(m, cond, tv, 20, st, torch.Generator().manual_seed(0))
    d = sample_tokens(m, cond, tv, 20, st, torch.Generator().manual_seed(99))
    assert not torch.equal(c, d)


def test_continuation_keeps_prefix():
    m = tiny_model(context=24)
    n, p = 40, 13
    cond, tv, unc, utv = conds(m, n)
    prefix = torch.randint(0, V, (1, p, K))
    st = SampleSettings(guidance=2.0, top_k=8, stride=6)
    out = sample_tokens(m, cond, tv, n, st, torch.Generator().manual_seed(1), unc, utv, prefix=prefix)
    assert torch.equal(out[:, :p], prefix)
    assert out.shape == (1, n, K)
    # the cached and uncached paths agree with a prefix too
    st2 = SampleSettings(guidance=2.0, top_k=8, stride=6, use_cache=False)
    out2 = sample_tokens(m, cond, tv, n, st2, torch.Generator().manual_seed(1), unc, utv, prefix=prefix)
    assert torch.equal(out, out2)


def test_window_schedule_never_exceeds_context():
    ctx, stride = 24, 6
    prev = 0
    for s in range(200):
        w0 = window_start(s, ctx, stride)
        assert s - w0 + 1 <= ctx
        assert w0 >= prev and w0 % stride == 0
        prev = w0
    assert window_start(23, ctx, stride) == 0 and window_start(24, ctx, stride) == 6


def test_condition_resampling_by_timestamp():
    # 25 fps features resampled to 25 Hz tokens: identity; to a 29.97 fps clip: latest frame <= start
    feats = np.arange(10, dtype=np.float32)[:, None]
    times = np.arange(10) / 25.0
    assert np.array_equal(visual_to_tokens(feats, times, 10, 25.0)[:, 0], np.arange(10))
    ntsc = np.arange(10) * 1001 / 30000
    out = visual_to_tokens(feats, ntsc, 8, 25.0)[:, 0]
    expect = [int(np.searchsorted(ntsc, f / 25 + 1e-6, side="right") - 1) for f in range(8)]
    assert out.tolist() == expect
    lay = AudioLayout(np.array([[0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], np.float32).repeat(5, 0), 10.0)
    tok = layout_to_tokens(lay, n_token_frames(1.0, 25.0), 25.0)
    assert tok.shape == (25, 5)
    assert tok[:10].max() <= 0.05 and tok[-10:].min() >= 0.95
    assert n_token_frames(10.0, 25.0) == 250 and n_token_frames(10.01, 25.0) == 251
