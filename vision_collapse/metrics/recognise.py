"""The unrecognisable bin: samples the judge would not accept as any class, thresholds set on real images.

Three criteria, each with a threshold at a stated false-rejection rate on real images the judge never trained on
(the calibration split): the judge's confidence; the mean distance to the k nearest real training images of the
judged class in judge feature space, relative to the sample's feature norm (junk lands near the origin of a
ReLU feature space, close in absolute terms to every class); and the same k-nearest distance in pixel space, on
thumbnails (noise and pixel shuffles are far from every real image there, whatever the judge makes of them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

THUMBNAIL = 16  # pixel distances are taken on images shrunk to at most this side, so photos cost little
NEIGHBOURS = 5  # k of the k-nearest-neighbour distances


def thumbnails(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, C, H, W) as float rows in [0, 1], area-averaged to at most THUMBNAIL x THUMBNAIL."""
    x = images.float() / 255
    if x.shape[-1] > THUMBNAIL:
        x = F.adaptive_avg_pool2d(x, THUMBNAIL)
    return x.flatten(1)


def knn_distance(points: torch.Tensor, judged: torch.Tensor, references_by_class: list[torch.Tensor],
                 k: int = NEIGHBOURS) -> np.ndarray:
    """Mean distance from each point to its k nearest references of the class it was judged as (inf: none)."""
    out = np.full(len(points), np.inf)
    for c, ref in enumerate(references_by_class):
        rows = judged == c
        if rows.any() and len(ref):
            d = torch.cdist(points[rows].to(ref.dtype), ref)
            out[rows.numpy()] = d.topk(min(k, len(ref)), largest=False).values.mean(1).numpy()
    return out


@dataclass(frozen=True)
class Recogniser:
    """Three thresholds; a sample beyond any of them is unrecognisable."""

    min_confidence: float  # judge max-probability below this is unrecognisable
    max_feature_distance: float  # k-nearest feature distance (relative to the feature norm) above this, too
    max_pixel_distance: float  # k-nearest thumbnail distance above this, too
    features_by_class: list  # judge features of the real training images, per class
    pixels_by_class: list  # thumbnails of the same images, per class

    def scores(self, probs: torch.Tensor, features: torch.Tensor, images: torch.Tensor) -> np.ndarray:
        """(N, 3): confidence, relative feature distance and pixel distance of each sample."""
        judged = probs.argmax(1)
        norm = features.double().norm(dim=1).clamp_min(1e-12).numpy()
        return np.column_stack([probs.max(1).values.numpy(),
                                knn_distance(features, judged, self.features_by_class) / norm,
                                knn_distance(thumbnails(images), judged, self.pixels_by_class)])

    @classmethod
    def fit(cls, probs: torch.Tensor, features: torch.Tensor, images: torch.Tensor, features_by_class: list,
            pixels_by_class: list, rates: tuple[float, float, float]) -> "Recogniser":
        """Thresholds from real images the judge never trained on: each criterion alone rejects its rate
        (confidence, feature distance, pixel distance) of them."""
        blank = cls(0.0, np.inf, np.inf, features_by_class, pixels_by_class)
        s = blank.scores(probs, features, images)
        conf, feat, pix = rates
        return cls(float(np.quantile(s[:, 0], conf)) if conf > 0 else 0.0, float(np.quantile(s[:, 1], 1 - feat)),
                   float(np.quantile(s[:, 2], 1 - pix)), features_by_class, pixels_by_class)

    def strangeness(self, probs: torch.Tensor, features: torch.Tensor, images: torch.Tensor) -> np.ndarray:
        """How far past the nearest threshold each sample lies: the largest of the three score-to-threshold ratios
        (confidence inverted); above 1 is unrecognisable. A score to rank junk by (AUROC)."""
        s = self.scores(probs, features, images)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.column_stack([self.min_confidence / np.maximum(s[:, 0], 1e-12),
                                      s[:, 1] / self.max_feature_distance, s[:, 2] / self.max_pixel_distance])
        return np.nan_to_num(ratios, nan=0.0, posinf=1e12).max(1)  # finite, so it can be ranked

    def unrecognisable(self, probs: torch.Tensor, features: torch.Tensor, images: torch.Tensor) -> np.ndarray:
        """Boolean mask: too unsure, or too far from every real image of the class it was judged as."""
        return self.strangeness(probs, features, images) > 1
