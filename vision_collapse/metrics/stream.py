"""A generation's samples shard by shard: the `Shard` that carries them, and the statistics the metrics need,
accumulated in bounded memory."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from vision_collapse.metrics.classifier import Prediction
from vision_collapse.metrics.recognise import Recogniser


@dataclass(frozen=True)
class Shard:
    """A batch of samples with everything the loop and the metrics need to know about them."""

    images: torch.Tensor  # uint8 (N, C, H, W)
    conditioning: torch.Tensor | None  # the labels they were drawn for; None when unconditional
    carried: torch.Tensor  # the labels they carry into the next generation (loop.label_source)
    judged: Prediction  # the judge's view
    features: torch.Tensor  # backbone features (the judge's own when eval.backbone=judge)
    score: np.ndarray | None = None  # curation score; None when not curating
    corrections: np.ndarray | None = None  # loop.correction: each sample's outcome (loop/correction.py); else None

    def select(self, keep: np.ndarray) -> "Shard":
        """The samples where `keep` (a boolean mask) is true."""
        pick = torch.from_numpy(keep)
        return replace(self, images=self.images[pick], carried=self.carried[pick], features=self.features[pick],
                       conditioning=None if self.conditioning is None else self.conditioning[pick],
                       judged=Prediction(*(t[pick] for t in self.judged)),
                       score=None if self.score is None else self.score[keep],
                       corrections=None if self.corrections is None else self.corrections[keep])

    @classmethod
    def from_arrays(cls, z: dict[str, np.ndarray]) -> "Shard":
        """Rebuild a shard from the arrays the run folder stored for curation candidates."""
        t = {k: torch.from_numpy(v) for k, v in z.items()}
        conditioning = None if (z["conditioning"] < 0).all() else t["conditioning"]
        return cls(t["images"], conditioning, t["labels"], Prediction(t["judged"], t["judged_features"], t["probs"]),
                   t["features"], z["score"])


class PixelMoments:
    """Running per-pixel mean and variance of uint8 images, on the [0, 1] scale."""

    def __init__(self):
        self.n, self.shift, self.sum, self.squares = 0, None, None, None

    def update(self, images: torch.Tensor) -> "PixelMoments":
        """Add a batch of images."""
        x = images.flatten(1).double() / 255
        if self.shift is None:  # sums around the first batch's mean keep float64 accurate
            self.shift = x.mean(0)
            self.sum, self.squares = torch.zeros_like(self.shift), torch.zeros_like(self.shift)
        centred = x - self.shift
        self.sum += centred.sum(0)
        self.squares += (centred**2).sum(0)
        self.n += len(x)
        return self

    def total_variance(self) -> float:
        """Sum over pixels of each pixel's unbiased variance: the trace of the pixel covariance."""
        if self.n < 2:
            return float("nan")
        return float(((self.squares - self.sum**2 / self.n) / (self.n - 1)).sum())


class SampleStats:
    """Running counts, feature moments, and a fixed random subset of features (and evaluation samples)."""

    def __init__(
        self,
        n: int,  # samples that will arrive, in order
        num_classes: int,
        recogniser: Recogniser,
        max_features: int,  # size of the feature subset KID and PRDC use
        eval_per_class: int,  # first recognised samples kept per judged class as the evaluation set; 0: none
        generator: torch.Generator,  # picks the feature subset
    ):
        self.n, self.num_classes, self.recogniser = n, num_classes, recogniser
        self.eval_per_class = eval_per_class
        self.in_subset = torch.zeros(n, dtype=torch.bool)
        self.in_subset[torch.randperm(n, generator=generator)[:max_features]] = True
        self.seen = 0
        self.extra: dict = {}  # summary columns the loop's sampling steps add (expert correction)
        self.unrecognised = 0  # samples the recogniser rejects
        self.recognised = np.zeros(num_classes, dtype=np.int64)  # judged class counts of recognisable samples
        self.rejected = np.zeros(num_classes, dtype=np.int64)  # judged class counts of unrecognisable samples
        self.carried = np.zeros(num_classes, dtype=np.int64)  # counts of the labels carried on
        self.conditioned = np.zeros(num_classes, dtype=np.int64)  # counts of the conditioning labels
        self.shift: torch.Tensor | None = None  # first shard's mean: sums around it keep float64 accurate
        self.sum: torch.Tensor | None = None
        self.outer: torch.Tensor | None = None
        self.subset: list[torch.Tensor] = []
        self.pixels = PixelMoments()
        # (judge labels, features, probs, backbone, images) of the kept evaluation samples, per class
        self.eval: list[list[tuple]] = [[] for _ in range(num_classes)]

    def update(self, shard: Shard) -> None:
        """Add the next shard: its carried-on labels, the judge's view and backbone features."""
        judged = shard.judged
        rejected = self.recogniser.unrecognisable(judged.probs, judged.features, shard.images)
        self.unrecognised += int(rejected.sum())
        self.recognised += np.bincount(judged.labels.numpy()[~rejected], minlength=self.num_classes)
        self.rejected += np.bincount(judged.labels.numpy()[rejected], minlength=self.num_classes)
        self.carried += np.bincount(shard.carried.numpy(), minlength=self.num_classes)
        if shard.conditioning is not None:
            self.conditioned += np.bincount(shard.conditioning.numpy(), minlength=self.num_classes)
        self.pixels.update(shard.images)
        x = shard.features.double()
        if self.shift is None:
            self.shift = x.mean(0)
            self.sum = torch.zeros_like(self.shift)
            self.outer = torch.zeros(len(self.shift), len(self.shift), dtype=torch.float64)
        centred = x - self.shift
        self.sum += centred.sum(0)
        self.outer += centred.T @ centred
        self.subset.append(x[self.in_subset[self.seen : self.seen + len(x)]])
        for c in range(self.num_classes):
            room = self.eval_per_class - sum(len(e[0]) for e in self.eval[c])
            mine = ((judged.labels == c) & torch.from_numpy(~rejected)).nonzero().squeeze(1)[:max(room, 0)]
            if len(mine):
                self.eval[c].append((judged.labels[mine], judged.features[mine], judged.probs[mine], x[mine],
                                     shard.images[mine]))
        self.seen += len(x)

    @property
    def unrecognisable_share(self) -> float:
        """Share of all samples the recogniser rejects."""
        return self.unrecognised / max(self.seen, 1)

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and unbiased covariance of every sample's features, in float64."""
        n = self.seen
        mean = self.shift + self.sum / n
        return mean, (self.outer - torch.outer(self.sum, self.sum) / n) / (n - 1)

    def feature_subset(self) -> torch.Tensor:
        """The features of the fixed random subset, in sample order."""
        return torch.cat(self.subset)

    def eval_parts(self) -> tuple[torch.Tensor, Prediction, torch.Tensor, torch.Tensor | None]:
        """(class of each, the judge's view, backbone features, images) of the kept evaluation samples, class by
        class."""
        parts = [p for c in range(self.num_classes) for p in self.eval[c]]
        if not parts:
            dim = self.shift.shape[0] if self.shift is not None else 0
            empty = torch.zeros(0, dtype=torch.long)
            return (empty, Prediction(empty, torch.zeros(0, 0), torch.zeros(0, self.num_classes)),
                    torch.zeros(0, dim), None)
        labels, feats, probs, backbone, images = (torch.cat(list(t)) for t in zip(*parts))
        return labels, Prediction(labels, feats, probs), backbone, images
