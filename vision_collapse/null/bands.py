"""Drift against chance: quantiles and p-values of observed class shares among the null chain's (null/chains.py).

A flag means what it says: p-values are Monte-Carlo ranks, (k+1)/(B+1) on each side with ties broken at random,
so under the null p is uniform on its grid and `p <= ALPHA` fires ALPHA of the time. Head and tail are one
test each; the per-class flags of one generation are Holm-corrected across classes; the run-level "anything
beyond chance" is a Bonferroni combination with a stated size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # the size of every flag: a share under the null is flagged this often
TESTS = ("level", "compounding")  # from the real subset; from generation 0's observed samples


def mc_p_values(simulated: np.ndarray, observed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two-sided Monte-Carlo p-values of observed[q] among the finite simulated[q, :]: twice the smaller of
    (k+1)/(B+1) on either side, the observed value's rank among tied values drawn at random (exact under the null);
    1 where every chain equals the observed value."""
    sim = np.asarray(simulated, dtype=float)
    obs = np.asarray(observed, dtype=float)[:, None]
    finite = np.isfinite(sim)
    count = finite.sum(1)
    below = (finite & (sim < obs)).sum(1) + rng.integers(0, (finite & (sim == obs)).sum(1) + 1)
    low, high = (below + 1) / (count + 1), (count - below + 1) / (count + 1)
    p = np.minimum(1.0, 2 * np.minimum(low, high))
    # A null with no randomness left (every chain equal to the observed value) has nothing to flag.
    p = np.where((finite & (sim != obs)).sum(1) == 0, 1.0, p)
    return np.where(np.isfinite(obs[:, 0]) & (count > 0), p, np.nan)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (step-down, monotone); NaN stays NaN and does not count as a test."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    running = 0.0
    for i, k in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[k]))
        out[k] = running
    return out


def bonferroni(p: list[float]) -> float:
    """The combined p-value of several tests (Bonferroni: the smallest times their number; its size is at most
    the level it is read at); NaN when none is finite."""
    finite = [v for v in p if np.isfinite(v)]
    return float(min(1.0, min(finite) * len(finite))) if finite else float("nan")


@dataclass(frozen=True)
class ChanceRow:
    """One quantity at one generation, against one null chain."""

    generation: int
    test: str  # 'level' (chain from the real subset) or 'compounding' (chain from generation 0's samples)
    quantity: str  # 'head_share', 'tail_share' or a class name
    observed: float
    low: float  # 2.5% of the chain
    high: float  # 97.5% of the chain
    p_value: float  # two-sided Monte-Carlo p-value of `observed` under the chain
    p_adjusted: float  # Holm across classes for a class row; the p-value itself for head and tail
    correction: str  # 'none', or 'holm over N classes'
    share: str = "tracked"  # 'tracked' (carried labels, or recognised judgements) or 'calibrated' (judged, calibrated)

    @property
    def beyond(self) -> bool:
        """Flagged: the (adjusted) p-value at most ALPHA."""
        return bool(self.p_adjusted <= ALPHA)


def _quantities(shares: np.ndarray, head: int, tail: np.ndarray) -> np.ndarray:
    """(..., 2 + C): the head share, the tail share, then every class's share."""
    shares = np.asarray(shares, dtype=float)
    return np.concatenate([shares[..., [head]], shares[..., tail].sum(-1, keepdims=True), shares], axis=-1)


def chance_rows(
    simulated: np.ndarray,  # (generations, chains, C) observed shares under the null chain
    observed: list[np.ndarray],  # observed shares of each finished generation (NaN where not measurable)
    head: int,
    tail: np.ndarray,
    class_names: tuple[str, ...],
    test: str,  # 'level': shares against the chain's; 'compounding': changes since generation 0 against the chain's
    ties: list[int],  # seeds the tie-breaking of the ranks, with the generation: the same p however many follow
) -> list[ChanceRow]:
    """Head share, tail share and each class's share against the chain, generation by generation. The compounding
    test starts at generation 1; its band is generation 0's share plus the chain's 95% range of change."""
    rows = []
    since = test == "compounding"
    names = ["head_share", "tail_share", *class_names]
    for g, obs in enumerate(observed):
        if since and g == 0:
            continue
        # quantities x chains: head, tail, then each class; the compounding test reads changes since generation 0
        sim, values = _quantities(simulated[g], head, tail).T, _quantities(obs, head, tail)
        base = np.zeros(len(values))
        if since:
            sim, base = sim - _quantities(simulated[0], head, tail).T, _quantities(observed[0], head, tail)
        p = mc_p_values(sim, values - base, np.random.default_rng([*ties, g]))
        adjusted = np.concatenate([p[:2], holm(p[2:])])
        correction = ["none", "none"] + [f"holm over {int(np.isfinite(p[2:]).sum())} classes"] * len(class_names)
        band = np.full((len(values), 2), np.nan)
        if np.isfinite(sim).all():  # the usual case, and far quicker than nanquantile's row-by-row path
            band = np.quantile(sim, [0.025, 0.975], axis=1).T + base[:, None]
        elif np.isfinite(sim).any():
            finite = np.isfinite(sim).any(1)
            band[finite] = np.nanquantile(sim[finite], [0.025, 0.975], axis=1).T + base[finite, None]
        for q, name in enumerate(names):
            low, high = np.clip(band[q], 0, 1)  # a band of shares, whatever the changes it was built from
            rows.append(ChanceRow(g, test, name, float(values[q]), float(low), float(high), float(p[q]),
                                  float(adjusted[q]), correction[q]))
    return rows


def observed_shares(counts: np.ndarray) -> np.ndarray:
    """Shares of counts (row by row for (..., C)), NaN where there are none."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(-1, keepdims=True)
    return np.where(total > 0, counts / np.maximum(total, 1), np.nan)
