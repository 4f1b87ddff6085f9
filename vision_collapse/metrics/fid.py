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


class FrechetReference:
    """The Fréchet distance of many feature sets to one fixed Gaussian (a floor's draws against its reference),
    exact and cheap: the reference's root r = S^1/2 is taken once, and for a draw with centred rows A,
    tr((S_A S)^1/2) = tr((r S_A r)^1/2) is the sum of the singular values of A r / sqrt(n - 1), since
    (A r)'(A r) = r A'A r: the singular values of an n x D matrix when n <= D, else the eigenvalues alone of
    r S_A r; on `device` in float64, instead of an eigendecomposition with vectors and one without per draw."""

    def __init__(self, mu: torch.Tensor, cov: torch.Tensor, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.mu = mu.double().to(self.device)
        cov = cov.double().to(self.device)
        self.trace = cov.trace()
        self.root = _sqrt_psd((cov + cov.T) / 2)

    def distance(self, features: torch.Tensor) -> float:
        """FID of the Gaussian fit of `features` (N >= 2 rows) to the reference."""
        x = features.double().to(self.device)
        mean = x.mean(0)
        a = x - mean
        n = len(x)
        if n <= a.shape[1]:  # few rows: the n singular values of an n x D matrix
            tr_sqrt = torch.linalg.svdvals(a @ self.root).sum() / np.sqrt(n - 1)
        else:  # many rows: the eigenvalues (no vectors) of the D x D matrix r S_A r
            middle = self.root @ (a.T @ a / (n - 1)) @ self.root
            tr_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
        return float((mean - self.mu).square().sum() + a.square().sum() / (n - 1) + self.trace - 2 * tr_sqrt)


def fid_from_features(gen: torch.Tensor, real: torch.Tensor) -> float:
    """FID between two feature sets; NaN when either has fewer than 2 rows."""
    n, m, dim = len(gen), len(real), gen.shape[1]
    if n < 2 or m < 2:
        return float("nan")
    if min(n, m) >= dim:
        return frechet_distance(*gaussian_stats(gen), *gaussian_stats(real))
    # Fewer samples than dimensions (every per-class FID on deep features): with centred data A (n x D) and
    # B (m x D), S1 S2 = A'A B'B / ((n-1)(m-1)) shares its non-zero eigenvalues with (A B')(A B')', so
    # tr((S1 S2)^1/2) is the sum of the singular values of A B' (n x m). Exact, and no D x D matrix is formed.
    a = gen.double() - gen.double().mean(0)
    b = real.double() - real.double().mean(0)
    tr_sqrt = torch.linalg.svdvals(a @ b.T).sum() / np.sqrt((n - 1) * (m - 1))
    mean_term = (gen.double().mean(0) - real.double().mean(0)).square().sum()
    return float(mean_term + a.square().sum() / (n - 1) + b.square().sum() / (m - 1) - 2 * tr_sqrt)


def grouped(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[torch.Tensor]:
    """Each class's rows as a contiguous slice, from one stable sort (no per-class scans of all rows)."""
    order = torch.argsort(labels, stable=True)
    counts = torch.bincount(labels, minlength=num_classes).tolist()
    return list(torch.split(features[order], counts))


def per_class_fid(
    gen_features: torch.Tensor,
    gen_labels: torch.Tensor,  # the class each generated image stands for
    real_features: torch.Tensor,
    real_labels: torch.Tensor,
    num_classes: int,
) -> np.ndarray:
    """FID of each class's generated images against that class's real images; NaN where either has < 2."""
    # One class at a time, so memory holds two D x D covariances, not 2C of them.
    return np.array([fid_from_features(g, r) for g, r in zip(grouped(gen_features, gen_labels, num_classes),
                                                             grouped(real_features, real_labels, num_classes))])
