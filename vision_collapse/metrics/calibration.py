"""Calibrated class frequencies: black-box shift estimation (Lipton et al. 2018) with the judge's confusion."""

from __future__ import annotations

import numpy as np


def confusion_matrix(true: np.ndarray, judged: np.ndarray, num_classes: int) -> np.ndarray:
    """C[i, j] = P(judged i | true j), columns normalised; a class with no examples gets the identity column."""
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (np.asarray(judged), np.asarray(true)), 1)
    totals = counts.sum(0)
    out = np.where(totals > 0, counts / np.maximum(totals, 1), 0.0)
    out[:, totals == 0] = np.eye(num_classes)[:, totals == 0]
    return out


def project_to_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto {q >= 0, sum q = 1} (the sort-based algorithm of Duchi et al. 2008)."""
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u) - 1
    rho = np.nonzero(u - cumulative / np.arange(1, len(v) + 1) > 0)[0][-1]
    return np.maximum(v - cumulative[rho] / (rho + 1), 0)


def calibrated_frequencies(judged_freq: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """Solve C q = p by least squares and project q onto the simplex: the class prior behind judged shares p."""
    q, *_ = np.linalg.lstsq(confusion, np.asarray(judged_freq, dtype=np.float64), rcond=None)
    return project_to_simplex(q)
