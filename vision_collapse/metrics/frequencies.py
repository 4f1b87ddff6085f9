"""Class-frequency metrics: one function each for shares, head and tail, entropy, divergences and extinction.

These are the project's headline numbers; each takes a frequency vector (or counts) and returns one value.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

FREQ_FLOOR = 1e-6  # added before KL so a class absent from the reference does not make it infinite


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total (zeros when there are none)."""
    counts = np.asarray(counts, dtype=float)
    return counts / counts.sum() if counts.sum() else counts


def head_and_tail(real_counts: np.ndarray, tail_fraction: float) -> tuple[int, np.ndarray]:
    """The head class (most real images) and the rarest `tail_fraction` of classes, by real count."""
    by_size = np.argsort(-np.asarray(real_counts), kind="stable")  # ties keep class order
    n_tail = max(1, int(round(tail_fraction * len(real_counts))))
    return int(by_size[0]), np.sort(by_size[-n_tail:])


def head_and_tail_shares(freq: np.ndarray, head: int, tail: np.ndarray) -> tuple[float, float]:
    """(head share, tail share) of a frequency vector."""
    return float(freq[head]), float(freq[tail].sum())


def entropy(freq: np.ndarray) -> float:
    """Shannon entropy in nats; absent classes contribute nothing."""
    present = freq[freq > 0]
    return float(-(present * np.log(present)).sum())


def kl_divergence(freq: np.ndarray, reference: np.ndarray) -> float:
    """KL(freq || reference) in nats, both floored by FREQ_FLOOR and renormalised."""
    p, q = freq + FREQ_FLOOR, reference + FREQ_FLOOR
    p, q = p / p.sum(), q / q.sum()
    return float((p * np.log(p / q)).sum())


def total_variation(freq: np.ndarray, reference: np.ndarray) -> float:
    """Half the L1 distance between two frequency vectors."""
    return float(0.5 * np.abs(freq - reference).sum())


def js_divergence(freq: np.ndarray, reference: np.ndarray) -> float:
    """Jensen–Shannon divergence in nats: bounded by log 2, and finite when a class is absent from either."""
    p, q = np.asarray(freq, dtype=float), np.asarray(reference, dtype=float)
    m = (p + q) / 2
    part = lambda a: float(np.sum(a[a > 0] * np.log(a[a > 0] / m[a > 0])))  # noqa: E731
    return 0.5 * part(p) + 0.5 * part(q) if np.isfinite(p).all() else float("nan")


def apportion(counts: np.ndarray, n: int) -> np.ndarray:
    """Integer counts summing to n in the proportions of `counts` (largest remainders; exact when n is their sum);
    row by row for counts of shape (..., C)."""
    counts = np.asarray(counts, dtype=np.float64)
    quota = counts / counts.sum(-1, keepdims=True) * n
    out = np.floor(quota).astype(np.int64)
    short = n - out.sum(-1, keepdims=True)  # seats left to the largest remainders, ties to the earlier class
    rank = np.argsort(np.argsort(-(quota - out), axis=-1, kind="stable"), axis=-1, kind="stable")
    return out + (rank < short)


def share_upper_bound(count, total: int, level: float = 0.95) -> np.ndarray:
    """Exact (Clopper–Pearson) two-sided `level` upper bound of a share seen `count` times in `total` draws; a
    non-whole count (a calibrated share times the total) uses the same beta quantile."""
    count = np.asarray(count, dtype=float)
    upper = stats.beta.ppf(1 - (1 - level) / 2, count + 1, np.maximum(total - count, 1e-12))
    return np.where(count >= total, 1.0, upper)


def extinct_classes(calibrated: np.ndarray, total: int, threshold: float) -> int:
    """Classes whose calibrated share's exact upper bound (over `total` recognised samples) lies below `threshold`."""
    return int((share_upper_bound(np.asarray(calibrated) * total, total) < threshold).sum())
