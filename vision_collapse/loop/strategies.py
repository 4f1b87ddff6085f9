"""What each generation trains on (the loop strategy) and which labels a conditional model samples."""

from __future__ import annotations

import numpy as np
import torch

from vision_collapse.config import ExperimentConfig
from vision_collapse.data import RealData
from vision_collapse.data.images import LabelledImages, concat
from vision_collapse.data.imbalance import build_imbalanced_subset
from vision_collapse.loop.seeds import generation_seed
from vision_collapse.metrics.frequencies import apportion


def draw_index(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """k positions of n uniformly without replacement (all n when k > n), sorted."""
    return np.sort(rng.choice(n, size=min(k, n), replace=False))


def _draw(data: LabelledImages, k: int, rng: np.random.Generator) -> LabelledImages:
    """k items of `data` uniformly without replacement, in their original order."""
    return data.subset(draw_index(len(data), k, rng))


def build_training_set(
    generation: int,
    real: RealData,
    history: list[LabelledImages],  # labelled samples of generations 0 .. generation-1
    cfg: ExperimentConfig,
) -> LabelledImages:
    """The training set of `generation` under cfg.loop.strategy ('scrape' needs the run folder for its
    filter: loop.web.scrape_training_set)."""
    if generation == 0:
        return real.subset
    loop, n = cfg.loop, len(real.subset)
    if loop.strategy == "scrape":
        raise ValueError("loop.strategy=scrape builds its training set in loop.web.scrape_training_set")
    previous = history[generation - 1]
    if loop.strategy == "replace":
        return previous
    rng = np.random.default_rng(generation_seed(cfg.seed, generation, "data"))
    if loop.strategy == "accumulate":
        everything = concat([real.subset, *history[:generation]])
        return _draw(everything, loop.accumulate_cap, rng) if 0 < loop.accumulate_cap < len(everything) else everything
    n_real = int(round(loop.real_fraction * n))
    if loop.strategy == "mix":
        real_part = _draw(real.subset, n_real, rng)
    else:  # fresh: new real images from the pool, drawn with the same imbalance profile
        fresh = build_imbalanced_subset(real.pool, cfg.data, cfg.seed, generation_seed(cfg.seed, generation, "fresh"))
        real_part = _draw(fresh, n_real, rng)
    return concat([real_part, _draw(previous, n - len(real_part), rng)])


def sampling_labels(
    train_set: LabelledImages,
    real_subset: LabelledImages,
    n: int,
    how: str,  # cfg.loop.label_sampling
    generator: torch.Generator,
) -> torch.Tensor:
    """n conditioning labels, sorted: drawn proportional to the training set, to the real subset, or uniformly;
    or ('original_exact') the real subset's counts scaled to n, with no draw at all."""
    if how == "original_exact":
        counts = apportion(real_subset.class_counts(), n)
        return torch.repeat_interleave(torch.arange(len(counts)), torch.from_numpy(counts))
    counts = {"proportional": train_set.class_counts(), "original": real_subset.class_counts(),
              "uniform": np.ones(train_set.num_classes)}[how]
    freq = torch.from_numpy(np.asarray(counts, dtype=np.float64))
    return torch.multinomial(freq / freq.sum(), n, replacement=True, generator=generator).sort().values
