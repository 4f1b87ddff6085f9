"""Across seeds: the mean and a 95% Student-t interval of every metric, per generation and class."""

from __future__ import annotations

import numpy as np
from scipy import stats

from vision_collapse import run_folder as rf

KEYS = ("generation", "class_index", "class_name")  # columns that say where a row belongs, not metrics


def mean_ci(values, level: float = 0.95) -> dict:
    """n, mean, sd and the two-sided t interval of the finite values (interval NaN for fewer than 2)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = len(x)
    mean = x.mean() if n else np.nan
    sd = x.std(ddof=1) if n > 1 else np.nan
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
    return {"seeds": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def ci_text(row: dict, key: str, sign: str = "+") -> str:
    """'mean [low, high]' of a row's column and its 95% interval (the columns KEY, KEY_low, KEY_high, as numbers
    or CSV strings) at 3 decimals, signed unless sign=''; '–' where the column is absent or NaN (a table written
    before it existed). The one way every table and console line shows an interval."""
    value = row.get(key, "")
    if value in ("", "nan") or value != value:
        return "–"
    return f"{float(value):{sign}.3f} [{float(row[key + '_low']):{sign}.3f}, {float(row[key + '_high']):{sign}.3f}]"


def aggregate(per_seed_metrics: list[list[dict]], per_seed_summary: list[list[dict]]) -> list[dict]:
    """Tidy rows (generation, class_index, class_name, metric, seeds, mean, sd, ci_low, ci_high).

    Per-class rows come from each seed's metrics.csv; run-level rows (class_name rf.ALL, class_index -1)
    from summary.csv. A generation counts the seeds that have finished it.
    """
    cells: dict[tuple, list[float]] = {}
    for rows in per_seed_metrics:
        for r in rows:
            for metric, value in r.items():
                if metric not in KEYS:
                    key = (int(r["generation"]), int(r["class_index"]), r["class_name"], metric)
                    cells.setdefault(key, []).append(float(value))
    for rows in per_seed_summary:
        for r in rows:
            for metric, value in r.items():
                if metric not in KEYS:
                    cells.setdefault((int(r["generation"]), -1, rf.ALL, metric), []).append(float(value))
    return [
        {"generation": g, "class_index": c, "class_name": name, "metric": metric, **mean_ci(values)}
        for (g, c, name, metric), values in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][3]))
    ]
