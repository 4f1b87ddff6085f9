"""What each generation trains on (the loop strategy) and which labels a conditional model samples."""

from __future__ import annotations

import numpy as np
import torch

from vision_collapse.config import ExperimentConfig
from vision_collapse.data import RealData
from vision_collapse.data.images import LabelledImages, concat
from vision_collapse.data.imbalance import build_imbalanced_subset
from vision_collapse.loop.seeds import generation_seed
from vision_collapse.null.twin import draw_counts, pick_items, sampling_counts, training_plan


def draw_index(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """k positions of n uniformly without replacement (all n when k > n), sorted."""
    return np.sort(rng.choice(n, size=min(k, n), replace=False))


def draw_items(data: LabelledImages, k: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of k items of `data` drawn uniformly without replacement: the twin's class counts
    (loop.twin.draw_counts), then which items of each class."""
    return pick_items(data.labels.numpy(), draw_counts(data.class_counts(), k, rng), rng)


def _draw(data: LabelledImages, k: int, rng: np.random.Generator) -> LabelledImages:
    """k items of `data` uniformly without replacement, in their original order."""
    return data.subset(draw_items(data, k, rng))


def build_training_set(
    generation: int,
    real: RealData,
    history: list[LabelledImages],  # labelled samples of generations 0 .. generation-1
    cfg: ExperimentConfig,
) -> LabelledImages:
    """The training set of `generation` under cfg.loop.strategy, part by part as loop.twin.training_plan says
    ('scrape' needs the run folder for its filter: loop.web.scrape_training_set)."""
    if generation == 0:
        return real.subset
    loop = cfg.loop
    if loop.strategy == "scrape":
        raise ValueError("loop.strategy=scrape builds its training set in loop.web.scrape_training_set")
    rng = np.random.default_rng(generation_seed(cfg.seed, generation, "data"))
    sources = {"real": lambda: real.subset, "previous": lambda: history[generation - 1],
               "everything": lambda: concat([real.subset, *history[:generation]]),
               # fresh: new real images from the pool, drawn with the same imbalance profile
               "fresh": lambda: build_imbalanced_subset(real.pool, cfg.data, cfg.seed,
                                                        generation_seed(cfg.seed, generation, "fresh"))}
    plan = training_plan(loop.strategy, len(real.subset), loop.real_fraction, loop.accumulate_cap)
    parts = [sources[s]() if k is None else _draw(sources[s](), k, rng) for s, k in plan]
    return parts[0] if len(parts) == 1 else concat(parts)


def sampling_labels(
    train_set: LabelledImages,
    real_subset: LabelledImages,
    n: int,
    how: str,  # cfg.loop.label_sampling
    rng: np.random.Generator,
) -> torch.Tensor:
    """n conditioning labels, sorted, with the twin's class counts (loop.twin.sampling_counts)."""
    counts = sampling_counts(how, train_set.class_counts(), real_subset.class_counts(), n, rng)
    return torch.repeat_interleave(torch.arange(len(counts)), torch.from_numpy(counts))
