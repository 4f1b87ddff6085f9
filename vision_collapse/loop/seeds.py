"""Independent random streams per (experiment seed, generation, purpose), and the `Generation` that owns them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vision_collapse.config import ExperimentConfig
from vision_collapse.data.images import LabelledImages

_STREAMS = {"init": 0, "train": 1, "labels": 2, "sample": 3, "data": 4, "fresh": 5, "labeller": 6, "eval": 7, "metrics": 8,
            "curation": 9, "web": 10, "filter": 11, "detector": 12, "neon": 13, "neon_train": 14, "expert": 15,
            "correction": 16, "redraw": 17, "autoencoder": 18, "pretrained": 19}


def generation_seed(seed: int, generation: int, stream: str, part: int | None = None) -> int:
    """A seed of its own per purpose and generation (and shard), so a resumed run repeats exactly."""
    key = [seed, generation, _STREAMS[stream]] + ([] if part is None else [part])
    return int(np.random.SeedSequence(key).generate_state(1)[0])


def metrics_seeds(seed: int, generation: int) -> tuple[int, int]:
    """The seeds of a generation's measurement: of its feature subset, and of its floor, KID and PRDC draws. The
    loop measures with them, and `evaluate --generation` too, so an exported generation reads the run's numbers."""
    return generation_seed(seed, generation, "metrics", 1), generation_seed(seed, generation, "metrics")


@dataclass(frozen=True)
class Generation:
    """One generation of a run: which it is, what it learns from, and where it is written."""

    index: int  # 0 learns from real images, g from generation g-1's samples
    cfg: ExperimentConfig
    folder: Path  # RUN/gen_XXX
    train_set: LabelledImages
    web: object = None  # loop.strategy=scrape: the web it was scraped from (a loop.web.Scrape); None otherwise
    perfect: LabelledImages | None = None  # the held-out real split model.kind=real draws from (RealData.perfect)

    def seed(self, stream: str, part: int | None = None) -> int:
        """The seed of one purpose ('train', 'sample', ...) in this generation, and of one shard of it."""
        return generation_seed(self.cfg.seed, self.index, stream, part)
