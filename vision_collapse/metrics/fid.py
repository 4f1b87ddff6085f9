"""Fréchet distance between Gaussian fits of features, globally and per class from one feature pass."""

from __future__ import annotations

import numpy as np
import torch


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance of (N, D) features, in float64."""
    x = features.double()
    mu = x.mean(0)
    centred = x - mu
    return mu, centred.T @ centred / (len(x) - 1)


def class_stats(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list:
    """(count, mean, cov) per class; mean and cov are None where a class has fewer than 2 members."""
    out = []
    for c in range(num_classes):
        members = features[labels == c]
        out.append((len(members), *gaussian_stats(members)) if len(members) >= 2 else (len(members), None, None))
    return out


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix by eigen-decomposition."""
    vals, vecs = torch.linalg.eigh(m)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2)."""
    # tr((S1 S2)^1/2) equals tr((s1 S2 s1)^1/2) with s1 = S1^1/2; the latter is symmetric PSD, so eigh is
    # stable where a general sqrtm of S1 S2 can turn complex on rank-deficient covariances.
    root1 = _sqrt_psd(cov1)
    middle = root1 @ cov2 @ root1
    tr_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * tr_sqrt)


def fid_from_features(gen: torch.Tensor, real: torch.Tensor) -> float:
    """FID between two feature sets; NaN when either has fewer than 2 rows."""
    if len(gen) < 2 or len(real) < 2:
        return float("nan")
    return frechet_distance(*gaussian_stats(gen), *gaussian_stats(real))


def per_class_fid(
    gen_features: torch.Tensor,
    gen_labels: torch.Tensor,  # the class each generated image stands for
    real_features: torch.Tensor,
    real_labels: torch.Tensor,
    num_classes: int,
) -> np.ndarray:
    """FID of each class's generated images against that class's real images; NaN where either has < 2."""
    gen_stats = class_stats(gen_features, gen_labels, num_classes)
    real_stats = class_stats(real_features, real_labels, num_classes)
    fids = np.full(num_classes, np.nan)
    for c, ((_, mu_g, cov_g), (_, mu_r, cov_r)) in enumerate(zip(gen_stats, real_stats)):
        if mu_g is not None and mu_r is not None:
            fids[c] = frechet_distance(mu_g, cov_g, mu_r, cov_r)
    return fids
