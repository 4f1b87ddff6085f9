"""Like-for-like noise floors: what a metric reads for real images the judge never trained on, at the same size
and against the same reference as the samples, over many draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vision_collapse.metrics.fid import FrechetReference, fid_from_features
from vision_collapse.metrics.kid import kid
from vision_collapse.metrics.prior import draw_per_class
from vision_collapse.metrics.within_class import vendi_score
from vision_collapse.runtime import compute_device

FLOOR_QUANTILE = 0.95  # the band's upper edge: a perfect generator reads above it in 5% of draws


@dataclass(frozen=True)
class Band:
    """The median and 95th percentile of a metric over draws of real images; NaN when it cannot be drawn."""

    median: float
    p95: float

    @classmethod
    def of(cls, values: list[float]) -> "Band":
        """The band of some draws' values."""
        finite = np.asarray(values, dtype=float)
        finite = finite[np.isfinite(finite)]
        if not len(finite):
            return cls(float("nan"), float("nan"))
        return cls(float(np.median(finite)), float(np.quantile(finite, FLOOR_QUANTILE)))


def class_size(available: int, n: int) -> int:
    """The evaluation size of a class with `available` calibration images: n, or half of them when fewer than
    2n exist (a floor drawn from barely more images than it uses has almost no spread of its own)."""
    return min(n, available // 2)


def spread_factor(available: int, n: int) -> float:
    """How much wider a perfect generator's spread is than that of n-image draws from `available` fixed images,
    sqrt((N + 2n) / (N - n)): the draws share images (the finite-population factor (N - n) / N) and the fixed
    images sit off the truth themselves (the between-set variance), and FID, quadratic in the mean's error, needs
    more than their sum; the form is the one whose p95 a perfect generator exceeds 5% of the time in simulation
    (tests/test_floors.py), at N = 2n with 50 images and on digits."""
    return float(np.sqrt((available + 2 * n) / (available - n)))


def widened(values: list[float], factor: float) -> Band:
    """The band of some draws' values with its upper spread (p95 minus median) widened by `factor`."""
    band = Band.of(values)
    return Band(band.median, band.median + factor * (band.p95 - band.median))


def floor_draws(calibration: torch.Tensor, size: int, draws: int, generator: torch.Generator) -> list[torch.Tensor]:
    """`draws` random sets of `size` calibration rows; none when size < 2 (no honest like-for-like draw exists)."""
    if size < 2:
        return []
    return [calibration[torch.randperm(len(calibration), generator=generator)[:size]] for _ in range(draws)]


def fid_floor(calibration: torch.Tensor, test: torch.Tensor, n: int, draws: int, generator: torch.Generator) -> Band:
    """The per-class FID band alone (what class_floors writes as fid_floor_median and fid_floor_p95)."""
    size = class_size(len(calibration), n)
    picks = floor_draws(calibration, size, draws, generator)
    values = [fid_from_features(pick, test) for pick in picks]
    return widened(values, spread_factor(len(calibration), size)) if picks else Band(float("nan"), float("nan"))


def class_floors(
    calibration_by_class: list[torch.Tensor],  # backbone features of the calibration images (judge never saw them)
    test_by_class: list[torch.Tensor],  # backbone features of the test images the samples are compared with
    n: int,  # the evaluation size: samples per class (a class with fewer than 2n calibration images gets less)
    draws: int,
    kid_subset_size: int,
    kid_subsets: int,
    generator: torch.Generator,
) -> list[dict]:
    """Per class: FID and KID bands of calibration draws against that class's test images, at the class's
    evaluation size, widened to a perfect generator's spread (`spread_factor`); the Vendi score's median and 5th
    percentile (diversity's floor lies below: fewer distinct images is worse)."""
    rows = []
    for c, (cal, test) in enumerate(zip(calibration_by_class, test_by_class)):
        size = class_size(len(cal), n)
        picks = floor_draws(cal, size, draws, generator)
        fids = [fid_from_features(pick, test) for pick in picks]
        kids = [kid(pick, test, kid_subset_size, kid_subsets, generator)[0] for pick in picks]
        vendis = [vendi_score(pick) for pick in picks]
        factor = spread_factor(len(cal), size) if picks else float("nan")
        fid_band, kid_band = widened(fids, factor), widened(kids, factor)
        vendi = Band.of(vendis)
        vendi_low = vendi.median - factor * (vendi.median - float(np.quantile(vendis, 1 - FLOOR_QUANTILE))) \
            if vendis else float("nan")
        rows.append({"class_index": c, "n": size if size >= 2 else n, "available": len(cal), "draws": len(fids),
                     "draw_share": size / len(cal) if len(cal) and size >= 2 else float("nan"), "spread_factor": factor,
                     "fid_floor_median": fid_band.median, "fid_floor_p95": fid_band.p95,
                     "kid_floor_median": kid_band.median, "kid_floor_p95": kid_band.p95,
                     "vendi_floor_median": vendi.median, "vendi_floor_p05": vendi_low})
    return rows


def global_floor(
    calibration_by_class: list[torch.Tensor],
    reference: tuple[torch.Tensor, torch.Tensor],  # mean and covariance of the prior-matched real reference
    counts: np.ndarray,  # images per class in the measured set (its class mix and size)
    draws: int,
    generator: torch.Generator,
) -> Band:
    """FID band of real calibration images with exactly `counts` per class against `reference`."""
    if counts.sum() < 2:
        return Band(float("nan"), float("nan"))
    fixed = FrechetReference(*reference, compute_device())  # the reference's root once, not once per draw
    return Band.of([fixed.distance(draw_per_class(calibration_by_class, counts, generator)) for _ in range(draws)])
