"""Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020), by k-NN balls.

Distances are taken a block of rows at a time, so memory grows with one set's size, never with the product
of both.
"""

from __future__ import annotations

import torch

NAN = {"precision": float("nan"), "recall": float("nan"), "density": float("nan"), "coverage": float("nan")}
BLOCK = 1024  # rows per distance block


def _radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row."""
    # +1 skips the row itself (distance 0)
    return torch.cat([torch.cdist(x[i : i + BLOCK], x).kthvalue(k + 1, dim=1).values for i in range(0, len(x), BLOCK)])


def prdc(real: torch.Tensor, gen: torch.Tensor, k: int) -> dict:
    """The four k-NN metrics of generated features against real ones; NaN when either set has <= k rows."""
    if len(real) <= k or len(gen) <= k:
        return dict(NAN)
    real, gen = real.double(), gen.double()
    real_r, gen_r = _radii(real, k), _radii(gen, k)
    precise, inside_count = 0, 0.0
    recalled = torch.zeros(len(real), dtype=torch.bool)
    nearest = torch.full((len(real),), float("inf"), dtype=torch.float64)
    for i in range(0, len(gen), BLOCK):
        d = torch.cdist(real, gen[i : i + BLOCK])  # (R, block)
        inside_real = d <= real_r[:, None]  # gen j inside real i's ball
        precise += int(inside_real.any(0).sum())
        inside_count += float(inside_real.double().sum())
        recalled |= (d <= gen_r[None, i : i + BLOCK]).any(1)
        nearest = torch.minimum(nearest, d.min(1).values)
    return {
        "precision": precise / len(gen),
        "recall": float(recalled.double().mean()),
        "density": inside_count / (k * len(gen)),
        "coverage": float((nearest <= real_r).double().mean()),
    }
