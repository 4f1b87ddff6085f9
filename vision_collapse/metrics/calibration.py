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


def calibrate_rows(judged: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """`calibrated_frequencies` of every row of judged shares (..., C) at once (NaN rows stay NaN)."""
    q = judged @ np.linalg.pinv(confusion).T  # the least-squares solution, as lstsq gives it for a full-rank C
    u = -np.sort(-q, axis=-1)
    cumulative = np.cumsum(u, axis=-1) - 1
    ranks = np.arange(1, q.shape[-1] + 1)
    rho = ((u - cumulative / ranks) > 0).sum(-1, keepdims=True)  # the simplex projection of Duchi et al., per row
    theta = np.take_along_axis(cumulative, np.maximum(rho - 1, 0), -1) / np.maximum(rho, 1)
    return np.maximum(q - theta, 0)


def calibrated_frequencies(judged_freq: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """Solve C q = p by least squares and project q onto the simplex: the class prior behind judged shares p."""
    q, *_ = np.linalg.lstsq(confusion, np.asarray(judged_freq, dtype=np.float64), rcond=None)
    return project_to_simplex(q)


def condition_number(confusion: np.ndarray) -> float:
    """2-norm condition number of the confusion matrix: how much BBSE amplifies noise in the judged shares."""
    return float(np.linalg.cond(confusion))


def calibrated_interval(
    judged_counts: np.ndarray,  # recognised samples per judged class
    calibration_true: np.ndarray,  # true classes of the calibration images the confusion matrix is fitted on
    calibration_judged: np.ndarray,  # the judge's labels for them
    boots: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the calibrated shares, resampling both the samples and the calibration set.

    Each replicate redraws the judged counts (multinomial on the observed shares) and the calibration images
    (with replacement within each true class), refits the confusion matrix and solves again.
    """
    num, total = len(judged_counts), int(np.sum(judged_counts))
    if total == 0:
        nan = np.full(num, np.nan)
        return nan, nan
    p = np.asarray(judged_counts, dtype=float) / total
    by_class = [np.flatnonzero(calibration_true == c) for c in range(num)]
    out = np.empty((boots, num))
    for b in range(boots):
        pick = np.concatenate([rng.choice(rows, len(rows)) for rows in by_class if len(rows)])
        confusion = confusion_matrix(calibration_true[pick], calibration_judged[pick], num)
        out[b] = calibrated_frequencies(rng.multinomial(total, p) / total, confusion)
    tail = (1 - level) / 2
    return np.quantile(out, tail, axis=0), np.quantile(out, 1 - tail, axis=0)
