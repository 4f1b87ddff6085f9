"""Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020), by k-NN balls."""

from __future__ import annotations

import torch

NAN = {"precision": float("nan"), "recall": float("nan"), "density": float("nan"), "coverage": float("nan")}


def _radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row."""
    d = torch.cdist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # +1 skips the row itself (distance 0)


def prdc(real: torch.Tensor, gen: torch.Tensor, k: int) -> dict:
    """The four k-NN metrics of generated features against real ones; NaN when either set has <= k rows."""
    if len(real) <= k or len(gen) <= k:
        return dict(NAN)
    real, gen = real.double(), gen.double()
    real_r, gen_r = _radii(real, k), _radii(gen, k)
    d = torch.cdist(real, gen)  # (R, G)
    inside_real = d <= real_r[:, None]  # gen j inside real i's ball
    return {
        "precision": float(inside_real.any(0).double().mean()),
        "recall": float((d <= gen_r[None, :]).any(1).double().mean()),
        "density": float(inside_real.double().sum() / (k * len(gen))),
        "coverage": float((d.min(1).values <= real_r).double().mean()),
    }
