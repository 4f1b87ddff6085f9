"""Kernel Inception Distance on any features: unbiased polynomial-kernel MMD^2 over random subsets."""

from __future__ import annotations

import numpy as np
import torch


def kid(
    gen: torch.Tensor,
    real: torch.Tensor,
    subset_size: int,  # images per subset; capped at the smaller set's size
    subsets: int,
    generator: torch.Generator,
) -> tuple[float, float]:
    """(mean, standard deviation) of MMD^2 with kernel (x.y / d + 1)^3 over `subsets` random subset pairs."""
    # Imported here: torchmetrics pulls in matplotlib, which the loop must not load just by being imported.
    from torchmetrics.image.kid import poly_mmd

    m = min(subset_size, len(gen), len(real))
    if m < 2:
        return float("nan"), float("nan")
    values = []
    for _ in range(subsets):
        g = gen[torch.randperm(len(gen), generator=generator)[:m]].double()
        r = real[torch.randperm(len(real), generator=generator)[:m]].double()
        values.append(float(poly_mmd(r, g)))  # torchmetrics' unbiased estimator, the one its KID uses
    return float(np.mean(values)), float(np.std(values))
