"""Whether a fading class turns into the head: how far its samples moved toward the head class in the judge's
feature space, and how much of the tail's lost mass the head took."""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from vision_collapse.metrics.floor import FLOOR_QUANTILE, Band, floor_draws


def toward_head(features: torch.Tensor, own_mean: torch.Tensor, head_mean: torch.Tensor) -> float:
    """The shift of the features' mean from the class's real mean, projected onto the direction from the class's real
    mean to the head's and divided by their distance: 0 at its own class, 1 at the head; NaN without features or
    when the two means coincide."""
    direction = (head_mean - own_mean).double()
    length = float(direction @ direction)
    if not len(features) or length == 0:
        return float("nan")
    return float((features.double().mean(0) - own_mean.double()) @ direction) / length


def toward_head_floor(calibration: torch.Tensor, own_mean: torch.Tensor, head_mean: torch.Tensor, n: int,
                      draws: int, generator: torch.Generator) -> Band:
    """`toward_head` of n unseen real images of the class: the median over draws of n calibration images, and as
    p95 the one-sided 95% Student-t prediction bound for a fresh sample of n, median + t(0.95, N - 1) s
    sqrt(1/n + 1/N), with s the spread of the N calibration images' projections. The draws' own p95 would be too
    narrow (they share images); the bound is exact for a mean of normal projections. NaN below two images."""
    picks = floor_draws(calibration, n, draws, generator)
    if not picks:
        return Band(float("nan"), float("nan"))
    median = Band.of([toward_head(p, own_mean, head_mean) for p in picks]).median
    direction = (head_mean - own_mean).double()
    projections = (calibration.double() - own_mean.double()) @ direction / float(direction @ direction)
    big = len(calibration)
    bound = float(stats.t.ppf(FLOOR_QUANTILE, big - 1)) * float(projections.std()) * np.sqrt(1 / n + 1 / big)
    return Band(median, median + bound)


def head_absorption(before: np.ndarray, after: np.ndarray, head: int, tail: list[int]) -> float:
    """The share of the tail's lost mass that the head took, over the share a proportional renormalisation of the
    other classes would give it (head / (1 - tail) of `before`): 1 is proportional, above 1 the head took more than
    its share, 0 none. NaN when the tail lost nothing (nothing to share out) or a share is missing."""
    tail_before, tail_after = float(before[tail].sum()), float(after[tail].sum())
    lost = tail_before - tail_after
    if not (np.isfinite(lost) and lost > 0 and np.isfinite(after[head])) or tail_before >= 1:
        return float("nan")
    proportional = float(before[head]) / (1 - tail_before)
    if proportional == 0:
        return float("nan")
    return (float(after[head]) - float(before[head])) / lost / proportional
