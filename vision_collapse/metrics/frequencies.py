"""Class frequencies and the head/tail shares that summarise a histogram."""

from __future__ import annotations

import numpy as np


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total (zeros when there are none)."""
    counts = np.asarray(counts, dtype=float)
    return counts / counts.sum() if counts.sum() else counts


def head_and_tail(real_counts: np.ndarray, tail_fraction: float) -> tuple[int, np.ndarray]:
    """The head class (most real images) and the rarest `tail_fraction` of classes, by real count."""
    by_size = np.argsort(-np.asarray(real_counts), kind="stable")  # ties keep class order
    n_tail = max(1, int(round(tail_fraction * len(real_counts))))
    return int(by_size[0]), np.sort(by_size[-n_tail:])

