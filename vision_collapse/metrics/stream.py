"""What the metrics need from a generation's samples, accumulated shard by shard in bounded memory."""

from __future__ import annotations

import numpy as np
import torch

from vision_collapse.metrics.judge import Prediction
from vision_collapse.metrics.recognise import Recogniser


class SampleStats:
    """Running counts, feature moments, a fixed random subset of features, and the first images of each class."""

    def __init__(
        self,
        n: int,  # samples that will arrive, in order
        num_classes: int,
        recogniser: Recogniser,
        max_features: int,  # size of the feature subset KID and PRDC use
        grid_per_class: int,  # first images kept per carried label, for the grid
        eval_per_class: int,  # first samples kept per judged class as the evaluation set; 0: none
        generator: torch.Generator,  # picks the feature subset
    ):
        self.n, self.num_classes, self.recogniser = n, num_classes, recogniser
        self.grid_per_class, self.eval_per_class = grid_per_class, eval_per_class
        self.in_subset = torch.zeros(n, dtype=torch.bool)
        self.in_subset[torch.randperm(n, generator=generator)[:max_features]] = True
        self.seen = 0
        self.lost = 0  # unrecognisable samples
        self.recognised = np.zeros(num_classes, dtype=np.int64)  # judged class counts of recognisable samples
        self.carried = np.zeros(num_classes, dtype=np.int64)  # counts of the labels carried on
        self.shift: torch.Tensor | None = None  # first shard's mean: sums around it keep float64 accurate
        self.sum: torch.Tensor | None = None
        self.outer: torch.Tensor | None = None
        self.subset: list[torch.Tensor] = []
        self.firsts: list[list[torch.Tensor]] = [[] for _ in range(num_classes)]
        self.eval: list[list[tuple]] = [[] for _ in range(num_classes)]  # (judge labels, features, probs, backbone)

    def update(self, images: torch.Tensor, carried: torch.Tensor, judged: Prediction, features: torch.Tensor) -> None:
        """Add the next shard: its images, carried-on labels, the judge's view and backbone features."""
        lost = self.recogniser.unrecognisable(judged.probs, judged.features)
        self.lost += int(lost.sum())
        self.recognised += np.bincount(judged.labels.numpy()[~lost], minlength=self.num_classes)
        self.carried += np.bincount(carried.numpy(), minlength=self.num_classes)
        x = features.double()
        if self.shift is None:
            self.shift = x.mean(0)
            self.sum = torch.zeros_like(self.shift)
            self.outer = torch.zeros(len(self.shift), len(self.shift), dtype=torch.float64)
        centred = x - self.shift
        self.sum += centred.sum(0)
        self.outer += centred.T @ centred
        self.subset.append(x[self.in_subset[self.seen : self.seen + len(x)]])
        for c in range(self.num_classes):
            room = self.grid_per_class - len(self.firsts[c])
            if room > 0:
                self.firsts[c] += list(images[carried == c][:room])
            room = self.eval_per_class - sum(len(e[0]) for e in self.eval[c])
            mine = (judged.labels == c).nonzero().squeeze(1)[:max(room, 0)]
            if len(mine):
                self.eval[c].append((judged.labels[mine], judged.features[mine], judged.probs[mine], x[mine]))
        self.seen += len(x)

    @property
    def unrecognisable_share(self) -> float:
        """Share of all samples the recogniser rejects."""
        return self.lost / max(self.seen, 1)

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and unbiased covariance of every sample's features, in float64."""
        n = self.seen
        mean = self.shift + self.sum / n
        return mean, (self.outer - torch.outer(self.sum, self.sum) / n) / (n - 1)

    def feature_subset(self) -> torch.Tensor:
        """The features of the fixed random subset, in sample order."""
        return torch.cat(self.subset)

    def eval_parts(self) -> tuple[torch.Tensor, Prediction, torch.Tensor]:
        """(class of each, the judge's view, backbone features) of the kept evaluation samples, class by class."""
        parts = [p for c in range(self.num_classes) for p in self.eval[c]]
        labels, feats, probs, backbone = (torch.cat(list(t)) for t in zip(*parts))
        return labels, Prediction(labels, feats, probs), backbone
