"""Real reference statistics reweighted to a stated class prior, so class mix is not read as quality."""

from __future__ import annotations

import numpy as np
import torch


def mixture_moments(by_class: list[torch.Tensor], prior: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of the mixture of each class's empirical feature distribution, weighted by `prior`.

    Closed form: mean = sum_c w_c m_c and cov = sum_c w_c (S_c + m_c m_c') - mean mean', with S_c each class's
    (population) covariance; classes with weight 0 or no rows drop out and the rest are renormalised.
    """
    w = np.asarray(prior, dtype=np.float64) * np.array([len(x) > 0 for x in by_class])
    w = w / w.sum()
    dim = next(len(x[0]) for x in by_class if len(x))
    mean = torch.zeros(dim, dtype=torch.float64)
    second = torch.zeros(dim, dim, dtype=torch.float64)
    for weight, x in zip(w, by_class):
        if weight > 0:
            x = x.double()
            mean += weight * x.mean(0)
            second += weight * (x.T @ x) / len(x)
    return mean, second - torch.outer(mean, mean)


def counts_for(prior: np.ndarray, total: int) -> np.ndarray:
    """Integer class counts summing to `total` in proportion to `prior` (largest remainders)."""
    exact = np.asarray(prior, dtype=np.float64) / np.sum(prior) * total
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]] += 1
    return counts


def draw_per_class(by_class: list[torch.Tensor], counts: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    """counts[c] rows of each class: without replacement where the class has enough, else with replacement."""
    parts = []
    for rows, k in zip(by_class, counts):
        if k == 0 or not len(rows):
            continue
        if k <= len(rows):
            pick = torch.randperm(len(rows), generator=generator)[:k]
        else:
            pick = torch.randint(len(rows), (int(k),), generator=generator)
        parts.append(rows[pick])
    return torch.cat(parts)


def prior_matched_subset(by_class: list[torch.Tensor], prior: np.ndarray, generator: torch.Generator,
                         cap: int) -> torch.Tensor:
    """The largest subset (at most `cap` rows) with class shares `prior`, drawn without replacement.

    Nearest-neighbour metrics (PRDC) and KID need distinct reference rows, so the size is set by the class that
    runs out first: min over classes of count_c / prior_c.
    """
    prior = np.asarray(prior, dtype=np.float64)
    prior = prior / prior.sum()
    sizes = [len(x) / p for x, p in zip(by_class, prior) if p > 0]
    total = int(min(cap, *sizes)) if sizes else 0
    counts = np.minimum(counts_for(prior, max(total, 1)), [len(x) for x in by_class])
    return draw_per_class(by_class, counts, generator)
