"""The loop's label-level twin: every random step of a generation, written once, on class counts.

The loop applies these steps to labelled items: it draws the class counts here, then picks which items of each
class (uniformly, so the items drawn are a uniform draw). The null chain (null/chains.py) applies the same
functions to the counts of thousands of chains at once, with a perfect generator and a class-blind filter. A
random step added to the loop is therefore a step of its null, or the loop cannot take it.

Every function takes counts of shape (..., C) (one row per chain) and an `np.random.Generator`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vision_collapse.config import LoopConfig
from vision_collapse.metrics.frequencies import apportion

# What generation g >= 1 trains on, in order: (source, how many items to draw from it; None for all of it).
# Sources: 'real' (the real subset), 'fresh' (a new real subset of the same profile), 'previous' (generation
# g-1's kept samples), 'everything' (the real subset and every earlier generation's samples).
Plan = list[tuple[str, "int | None"]]


def training_plan(strategy: str, n: int, real_fraction: float, accumulate_cap: int) -> Plan:
    """The parts of generation g >= 1's training set under loop.strategy ('scrape' as 'fresh' with a perfect filter)."""
    if strategy == "replace":
        return [("previous", None)]
    if strategy == "accumulate":
        return [("everything", accumulate_cap or None)]
    n_real = int(round(real_fraction * n))
    return [("real" if strategy == "mix" else "fresh", n_real), ("previous", n - n_real)]


def draw_counts(counts: np.ndarray, k, rng: np.random.Generator) -> np.ndarray:
    """Class counts of k items drawn uniformly without replacement from items with class counts `counts` (..., C):
    a multivariate hypergeometric draw per row (all the items when k is not below their number)."""
    counts = np.asarray(counts, dtype=np.int64)
    left = counts.sum(-1)
    want = np.minimum(np.broadcast_to(np.asarray(k, dtype=np.int64), left.shape), left)
    out = np.zeros_like(counts)
    for c in range(counts.shape[-1] - 1):  # one class at a time: hypergeometric against the classes after it
        good = counts[..., c]
        left = left - good
        out[..., c] = rng.hypergeometric(good, left, want)
        want = want - out[..., c]
    out[..., -1] = want
    return out


def pick_items(labels: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of `counts[c]` items of each class c of `labels`, uniformly without replacement."""
    chosen = [rng.choice(np.flatnonzero(labels == c), size=int(k), replace=False) for c, k in enumerate(counts) if k]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def sampling_counts(how: str, train_counts: np.ndarray, real_counts: np.ndarray, n: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Class counts of n conditioning labels (loop.label_sampling): multinomial in proportion to the training set,
    the real subset or uniformly; 'original_exact' gives the real subset's counts scaled to n, with no draw."""
    train_counts = np.asarray(train_counts)
    if how == "original_exact":
        return np.broadcast_to(apportion(real_counts, n), train_counts.shape).copy()
    weights = {"proportional": train_counts, "original": np.broadcast_to(real_counts, train_counts.shape),
               "uniform": np.ones(train_counts.shape)}[how].astype(np.float64)
    return rng.multinomial(n, weights / weights.sum(-1, keepdims=True))


def measure_counts(true_counts: np.ndarray, recognition: np.ndarray, confusion: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Judged counts of the recognised among items of `true_counts` (..., C): each item of class c is recognised
    with probability recognition[c], and a recognised one is judged j with probability confusion[c, j]."""
    recognised = rng.binomial(np.asarray(true_counts, dtype=np.int64), recognition)
    return sum(rng.multinomial(recognised[..., c], confusion[c]) for c in range(len(recognition)))


@dataclass(frozen=True)
class TwinLoop:
    """Every setting of a run that decides one of its random steps, as the twin needs them."""

    real_counts: np.ndarray  # class counts of the real subset (generation 0's training set)
    samples: int  # samples kept per generation (the next training set's size)
    # the run's loop settings the twin reads: strategy, real_fraction, accumulate_cap, label_sampling (an
    # unconditional model samples its training mix) and oversampling (curation keeps `samples` of those drawn)
    config: LoopConfig = LoopConfig()
    conditional: bool = True  # False: the histogram is the judge's, of recognised samples
    recognition: np.ndarray | None = None  # per true class, the share of samples the recogniser accepts
    confusion: np.ndarray | None = None  # P(judged j | true i, recognised), rows i: how the run judges a sample
    # the run's calibration confusion (P(judged i | true j), columns j), with which it calibrates judged shares;
    # None: the twin gives no calibrated shares
    bbse: np.ndarray | None = None

    @property
    def drawn(self) -> int:
        """Samples drawn per generation before curation keeps `samples` of them."""
        return math.ceil(self.samples * self.config.oversampling)


def twin_training_counts(loop: TwinLoop, history: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Class counts (..., C) of generation len(history)'s training set, from the true counts of every earlier
    generation's kept samples."""
    real = np.broadcast_to(loop.real_counts, history[-1].shape)
    sources = {"real": lambda: real, "fresh": lambda: real, "previous": lambda: history[-1],
               "everything": lambda: real + sum(history)}
    plan = training_plan(loop.config.strategy, loop.samples, loop.config.real_fraction, loop.config.accumulate_cap)
    return sum(sources[s]() if k is None else draw_counts(sources[s](), k, rng) for s, k in plan)


def twin_generation(loop: TwinLoop, train_counts: np.ndarray, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(true class counts of the kept samples, the counts the run observes) for a perfect generator trained on
    `train_counts` and a class-blind curation filter (which keeps a uniform subset of the candidates)."""
    how = loop.config.label_sampling if loop.conditional else "proportional"  # a perfect fit samples its training mix
    kept = sampling_counts(how, train_counts, loop.real_counts, loop.drawn, rng)
    if loop.drawn > loop.samples:
        kept = draw_counts(kept, loop.samples, rng)
    if loop.conditional:
        return kept, kept
    return kept, measure_counts(kept, loop.recognition, loop.confusion, rng)
