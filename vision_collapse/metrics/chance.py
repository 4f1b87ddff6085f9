"""Drift by chance alone: the class histogram under neutral finite resampling (a Wright–Fisher chain).

A model that reproduced its training histogram exactly would still move it from generation to generation,
because each generation draws a finite number of labelled samples. This simulates that null: per generation,
the training shares the loop strategy would build, then N samples drawn from them. An observed share outside
the chain's 2.5–97.5% band has drifted further than chance alone takes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision_collapse.metrics import frequencies as fq


@dataclass(frozen=True)
class NeutralLoop:
    """What the null chain needs to know about the loop."""

    real_shares: np.ndarray  # class shares of the real subset (generation 0's training set)
    samples: int  # samples drawn per generation (the next training set's size)
    strategy: str = "replace"  # cfg.loop.strategy
    real_fraction: float = 0.1  # cfg.loop.real_fraction, for 'mix' and 'fresh'
    label_sampling: str = "proportional"  # cfg.loop.label_sampling; 'proportional' for unconditional models


def _next_training_shares(loop: NeutralLoop, history: list[np.ndarray]) -> np.ndarray:
    """(chains, C) training shares of the next generation, from the sample shares of the ones before."""
    if loop.strategy == "replace":
        return history[-1]
    if loop.strategy == "accumulate":  # the real subset plus every earlier generation's samples
        n_real = loop.samples  # the subset and each generation have the same size
        return (loop.real_shares * n_real + sum(history) * loop.samples) / (n_real + len(history) * loop.samples)
    # mix and fresh: real_fraction real images (with the real profile), the rest from the last samples;
    # scrape as fresh: the band is that of a loop with perfect provenance, so a drift that leaked generated
    # images cause lies beyond it
    return loop.real_fraction * loop.real_shares + (1 - loop.real_fraction) * history[-1]


def _draw_shares(train: np.ndarray, loop: NeutralLoop, rng: np.random.Generator) -> np.ndarray:
    """Sample shares of one generation drawn from training shares `train` (chains, C)."""
    if loop.label_sampling == "original_exact":  # no draw: the real counts, scaled to the sample size
        exact = fq.apportion(loop.real_shares, loop.samples) / loop.samples
        return np.broadcast_to(exact, train.shape).astype(float)
    sampling = {"proportional": train, "original": np.broadcast_to(loop.real_shares, train.shape),
                "uniform": np.full(train.shape, 1 / train.shape[1])}[loop.label_sampling]
    p = np.clip(sampling, 0, None)
    p = p / p.sum(1, keepdims=True)
    return rng.multinomial(loop.samples, p) / loop.samples


def neutral_chain(
    loop: NeutralLoop,
    generations: int,  # generations 0 .. generations-1 are simulated
    chains: int,
    rng: np.random.Generator,
    first: np.ndarray | None = None,  # generation 0's observed shares (unconditional); None: draw it too
) -> np.ndarray:
    """(generations, chains, C) sample shares of each generation under the neutral chain."""
    start = np.broadcast_to(loop.real_shares, (chains, len(loop.real_shares))).astype(float)
    history: list[np.ndarray] = []
    for g in range(generations):
        if g == 0:
            history.append(np.broadcast_to(first, start.shape).astype(float) if first is not None
                           else _draw_shares(start, loop, rng))
        else:
            history.append(_draw_shares(_next_training_shares(loop, history), loop, rng))
    return np.stack(history)


def tail_probability(simulated: np.ndarray, observed: float) -> float:
    """Two-sided tail probability of `observed` among simulated values (ties count half on each side)."""
    below = np.mean(simulated < observed) + 0.5 * np.mean(simulated == observed)
    return float(min(1.0, 2 * min(below, 1 - below)))


@dataclass(frozen=True)
class ChanceRow:
    """One quantity at one generation, against the neutral chain."""

    generation: int
    quantity: str  # 'head_share', 'tail_share' or a class name
    observed: float
    low: float  # 2.5% of the chain
    high: float  # 97.5% of the chain
    p_value: float  # two-sided tail probability of `observed` under the chain

    @property
    def beyond(self) -> bool:
        """Outside the 95% band."""
        return bool(self.observed < self.low or self.observed > self.high)


def chance_rows(
    simulated: np.ndarray,  # (generations, chains, C) from neutral_chain
    observed: list[np.ndarray],  # observed shares of each finished generation (NaN where not measurable)
    head: int,
    tail: np.ndarray,
    class_names: tuple[str, ...],
) -> list[ChanceRow]:
    """Head share, tail share and each class's share against the chain, generation by generation."""
    rows = []
    for g, obs in enumerate(observed):
        sim = simulated[g]
        quantities = [("head_share", sim[:, head], obs[head]), ("tail_share", sim[:, tail].sum(1), obs[tail].sum())]
        quantities += [(name, sim[:, c], obs[c]) for c, name in enumerate(class_names)]
        for name, values, value in quantities:
            low, high = np.quantile(values, [0.025, 0.975])
            p = tail_probability(values, float(value)) if np.isfinite(value) else float("nan")
            rows.append(ChanceRow(g, name, float(value), float(low), float(high), p))
    return rows


def observed_shares(counts: np.ndarray) -> np.ndarray:
    """Shares of counts, NaN when there are none."""
    total = np.asarray(counts).sum()
    return fq.shares(counts) if total else np.full(len(counts), np.nan)
