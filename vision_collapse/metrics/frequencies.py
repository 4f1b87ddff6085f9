"""Class frequencies and the head/tail shares that summarise a histogram."""

from __future__ import annotations

import numpy as np


def class_frequencies(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Share of each class among `labels` (zeros when there are none)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def head_and_tail(real_counts: np.ndarray, tail_fraction: float) -> tuple[int, np.ndarray]:
    """The head class (most real images) and the rarest `tail_fraction` of classes, by real count."""
    by_size = np.argsort(-np.asarray(real_counts), kind="stable")  # ties keep class order
    n_tail = max(1, int(round(tail_fraction * len(real_counts))))
    return int(by_size[0]), np.sort(by_size[-n_tail:])


def dominant_and_tail_share(freq: np.ndarray, real_counts: np.ndarray, tail_fraction: float) -> tuple[float, float]:
    """(share of the head class, share of the rarest classes) in a frequency vector."""
    head, tail = head_and_tail(real_counts, tail_fraction)
    return float(freq[head]), float(freq[tail].sum())
