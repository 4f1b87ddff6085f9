"""The perfect generator (model.kind=real): held-out real images of the asked class, so a run through it shows what
the rest of the pipeline (labels, curation, resampling, provenance) does with no model error at all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from vision_collapse.config import ModelConfig, TrainConfig
from vision_collapse.data.images import LabelledImages


class RealGenerator:
    """Draws, with replacement, held-out real images (data.perfect_fraction) that no judge, labeller or model
    trained on and that are not the FID reference. Conditional: an image of each asked class. Unconditional: the
    class first, in proportion to its training set's true class shares (what a perfect fit of that set gives)."""

    def __init__(self, cfg: ModelConfig, perfect: LabelledImages, num_classes: int, conditional: bool):
        self.cfg, self.num_classes, self.conditional = cfg, num_classes, conditional
        self.perfect = perfect
        self.by_class = [torch.nonzero(perfect.labels == c).flatten() for c in range(num_classes)]
        self.shares = np.full(num_classes, 1 / num_classes)  # the true class mix an unconditional fit learnt
        # Every image the perfect generator makes is one of these, so an image's bytes name its true class.
        self._truth = {image.numpy().tobytes(): int(c) for image, c in zip(perfect.images, perfect.labels)}

    def true_classes(self, data: LabelledImages) -> np.ndarray:
        """The true class of every item: a perfect sample's own, otherwise (a real image) its dataset label."""
        return np.array([self._truth.get(image.numpy().tobytes(), int(label))
                         for image, label in zip(data.images, data.labels)], dtype=np.int64)

    def fit(self, data: LabelledImages, train: TrainConfig, generator: torch.Generator,
            checkpoint: Path | None = None) -> list[float]:
        """Learn the training set's true class shares (its labels may be a judge's or a labeller's); no loss."""
        counts = np.bincount(self.true_classes(data), minlength=self.num_classes).astype(float)
        self.shares = counts / counts.sum()
        return []

    def sample(self, n: int, labels: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """n held-out real images (uint8), one of each asked class when conditional."""
        if labels is None:
            p = torch.from_numpy(self.shares)
            labels = torch.multinomial(p, n, replacement=True, generator=generator)
        out = torch.empty((n, *self.perfect.images.shape[1:]), dtype=torch.uint8)
        for c in labels.unique().tolist():
            rows = torch.nonzero(labels == c).flatten()
            pick = torch.randint(len(self.by_class[c]), (len(rows),), generator=generator)
            out[rows] = self.perfect.images[self.by_class[c][pick]]
        return out

    def save(self, directory: Path) -> None:
        """Write real.json: the true class shares it samples unconditionally, and what it draws from."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        info = {"kind": "real", "conditional": self.conditional, "shares": self.shares.tolist(),
                "held_out_counts": [len(i) for i in self.by_class],
                "draws": "held-out real images of the asked class (data.perfect_fraction), with replacement"}
        (directory / "real.json").write_text(json.dumps(info, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path, cfg: ModelConfig, perfect: LabelledImages, num_classes: int,
             conditional: bool) -> "RealGenerator":
        """Read a folder written by `save`, over the same held-out images."""
        model = cls(cfg, perfect, num_classes, conditional)
        model.shares = np.array(json.loads((Path(directory) / "real.json").read_text())["shares"])
        return model
