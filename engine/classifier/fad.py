"""Fréchet distance between Gaussian fits of two embedding sets (FAD), numpy + scipy only.

FAD (Kilgour et al.) = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}); the embeddings here
come from our own sound-class classifier (engine.classifier), not VGGish, so values are only
comparable between runs that use the same classifier file.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def gaussian_stats(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and covariance [D, D] (unbiased; a single sample gives a zero covariance)."""
    e = np.asarray(emb, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] == 0:
        raise ValueError(f"embeddings must be [N>0, D], got shape {e.shape}")
    mu = e.mean(axis=0)
    sigma = np.cov(e, rowvar=False) if e.shape[0] > 1 else np.zeros((e.shape[1], e.shape[1]))
    return mu, np.atleast_2d(sigma)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) via ``scipy.linalg.sqrtm``.

    A singular product (few samples, D > N) gets ``eps`` added to both diagonals, as the
    reference FID/FAD implementations do; tiny imaginary parts from round-off are dropped.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f"shape mismatch: {mu1.shape}/{s1.shape} vs {mu2.shape}/{s2.shape}")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))
    return max(value, 0.0)  # round-off can give -1e-12 for identical sets


def fad(emb_a: np.ndarray, emb_b: np.ndarray) -> float:
    """Fréchet Audio Distance between two embedding sets [N, D] and [M, D]."""
    return frechet_distance(*gaussian_stats(emb_a), *gaussian_stats(emb_b))
