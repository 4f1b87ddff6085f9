"""The unrecognisable bin: samples the judge would not accept as any class, thresholds set on real images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def nearest_real_distance(features: torch.Tensor, judged: torch.Tensor,
                          train_features_by_class: list[torch.Tensor]) -> np.ndarray:
    """Distance from each feature vector to the nearest real training image of the class it was judged as."""
    out = np.full(len(features), np.inf)
    for c, real in enumerate(train_features_by_class):
        rows = judged == c
        if rows.any() and len(real):
            out[rows.numpy()] = torch.cdist(features[rows], real).min(1).values.numpy()
    return out


@dataclass(frozen=True)
class Recogniser:
    """Two thresholds which, together, keep `quantile` of held-out real images."""

    min_confidence: float  # judge max-probability below this is unrecognisable
    max_distance: float  # feature distance to the nearest real image of the judged class above this is, too
    train_features_by_class: list  # judge features of the real training images, per class

    @classmethod
    def fit(cls, probs: torch.Tensor, features: torch.Tensor, train_features_by_class: list[torch.Tensor],
            quantile: float) -> "Recogniser":
        """Thresholds from the judge's view of held-out real images (never the training images themselves).

        Each criterion alone would flag 1 - quantile of them; together they flag more, so both are loosened
        together until the two combined keep `quantile` of the held-out images.
        """
        confidence = probs.max(1).values.numpy()
        # Nearest-neighbour distance, not distance to a class mean: noise lands near the means of a
        # ReLU feature space, but far from every real image.
        dist = nearest_real_distance(features, probs.argmax(1), train_features_by_class)
        # The distances are computed once: the loop only moves the thresholds (recomputing them per step took
        # 14 minutes on Fashion-MNIST's 30,000 calibration images).
        for q in np.linspace(quantile, 1.0, 401):
            rec = cls(float(np.quantile(confidence, 1 - q)), float(np.quantile(dist, q)), train_features_by_class)
            if ((confidence < rec.min_confidence) | (dist > rec.max_distance)).mean() <= 1 - quantile:
                return rec
        return rec

    def unrecognisable(self, probs: torch.Tensor, features: torch.Tensor) -> np.ndarray:
        """Boolean mask: too unsure, or too far from every real image of the class it was judged as."""
        dist = nearest_real_distance(features, probs.argmax(1), self.train_features_by_class)
        return (probs.max(1).values.numpy() < self.min_confidence) | (dist > self.max_distance)
