"""Like-for-like noise floors: what a metric reads for real images the judge never trained on, at the same size
and against the same reference as the samples, over many draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vision_collapse.metrics.fid import fid_from_features, frechet_distance, gaussian_stats
from vision_collapse.metrics.kid import kid
from vision_collapse.metrics.prior import draw_per_class
from vision_collapse.metrics.within_class import vendi_score

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


def class_floors(
    calibration_by_class: list[torch.Tensor],  # backbone features of the calibration images (judge never saw them)
    test_by_class: list[torch.Tensor],  # backbone features of the test images the samples are compared with
    n: int,  # the evaluation size: samples per class
    draws: int,
    kid_subset_size: int,
    kid_subsets: int,
    generator: torch.Generator,
) -> list[dict]:
    """Per class: FID and KID bands of n calibration images against that class's test images, and the Vendi
    score's median and 5th percentile (diversity's floor lies below: fewer distinct images is worse)."""
    rows = []
    for c, (cal, test) in enumerate(zip(calibration_by_class, test_by_class)):
        fids, kids, vendis = [], [], []
        if len(cal) >= n >= 2:  # fewer than n unseen images: no like-for-like draw exists
            for _ in range(draws):
                pick = cal[torch.randperm(len(cal), generator=generator)[:n]]
                fids.append(fid_from_features(pick, test))
                kids.append(kid(pick, test, kid_subset_size, kid_subsets, generator)[0])
                vendis.append(vendi_score(pick))
        fid_band, kid_band = Band.of(fids), Band.of(kids)
        vendi_low = float(np.quantile(vendis, 1 - FLOOR_QUANTILE)) if vendis else float("nan")
        rows.append({"class_index": c, "n": n, "available": len(cal), "draws": len(fids),
                     "fid_floor_median": fid_band.median, "fid_floor_p95": fid_band.p95,
                     "kid_floor_median": kid_band.median, "kid_floor_p95": kid_band.p95,
                     "vendi_floor_median": Band.of(vendis).median, "vendi_floor_p05": vendi_low})
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
    values = [frechet_distance(*gaussian_stats(draw_per_class(calibration_by_class, counts, generator)), *reference)
              for _ in range(draws)]
    return Band.of(values)
