"""Real data: loading, held-out splits and imbalanced training subsets."""

from __future__ import annotations

from dataclasses import dataclass

from vision_collapse.config import DataConfig
from vision_collapse.data.digits import load_digits_split
from vision_collapse.data.images import LabelledImages, resized
from vision_collapse.data.imbalance import build_imbalanced_subset


@dataclass(frozen=True)
class RealData:
    """The real images of one experiment."""

    pool: LabelledImages  # every real training image (the judge learns from all of them)
    test: LabelledImages  # held out, never trained on; the FID reference
    subset: LabelledImages  # the imbalanced training set of generation 0


def load_real_data(cfg: DataConfig, seed: int) -> RealData:
    """Load the configured dataset, hold out its test split and draw the imbalanced subset."""
    pool, test = (resized(part, cfg.resolution) for part in load_digits_split(cfg.test_fraction))
    subset = build_imbalanced_subset(pool, cfg.imbalance, cfg.imbalance_factor, cfg.n_max, cfg.head, seed)
    return RealData(pool, test, subset)
