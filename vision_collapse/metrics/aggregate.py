"""Statistics over seeds, written once: each seed's change from generation 0 to its last, paired differences
(model effects among them), the mean and 95% Student-t interval of a value and of every metric per generation
and class, and the one way an interval is shown."""

from __future__ import annotations

from pathlib import Path

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


def ci_columns(key: str, ci: dict) -> dict:
    """A `mean_ci` result as a table's three columns: KEY (the mean), KEY_low and KEY_high."""
    return {key: ci["mean"], f"{key}_low": ci["ci_low"], f"{key}_high": ci["ci_high"]}


def ci_text(row: dict, key: str, sign: str = "+", digits: int = 3) -> str:
    """'mean [low, high]' of a row's column and its 95% interval (the columns KEY, KEY_low, KEY_high, as numbers
    or CSV strings) at `digits` decimals, signed unless sign=''; '–' where the column is absent or NaN (a table
    written before it existed). The one way every table and console line shows an interval."""
    value = row.get(key, "")
    if value in ("", "nan") or value != value:
        return "–"
    f = f"{sign}.{digits}f"
    return f"{float(value):{f}} [{float(row[key + '_low']):{f}}, {float(row[key + '_high']):{f}}]"


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


FLAGS = ("head_level", "tail_level", "head_compounding", "tail_compounding")  # per-seed flags, shared across seeds


def head_up_tail_down(first: dict, last: dict) -> bool:
    """Whether the calibrated head share rose and the tail share fell from summary row `first` to row `last`."""
    return (float(last["head_share_calibrated"]) > float(first["head_share_calibrated"])
            and float(last["tail_share_calibrated"]) < float(first["tail_share_calibrated"]))


def seed_changes(run: Path) -> dict | None:
    """One finished seed's change from generation 0 to its last generation: calibrated head and tail shares,
    classes extinct by the judge, and the last generation's chance flags: head and tail against the level and
    compounding chains, and the four combined."""
    rows = rf.read_table(run / rf.SUMMARY)
    if not (run / rf.DONE).is_file() or not rows:
        return None
    first, last = rows[0], rows[-1]

    def change(key: str) -> float:
        return float(last[key]) - float(first[key])

    return {"head": change("head_share_calibrated"), "tail": change("tail_share_calibrated"),
            **rarest_toward_head(run, int(last["generation"])),
            "head_absorption": float(last.get("head_absorption", "nan")),
            "unrecognisable_last": float(last["unrecognisable_share"]),  # shares are NaN when too few are recognised
            "toward_mean": float(last.get("toward_head", "nan")),  # over the non-head classes with enough samples
            "head_last": float(last["head_share_calibrated"]), "tail_last": float(last["tail_share_calibrated"]),
            "tail_all_last": float(last.get("tail_share_all", "nan")),  # over every sample, junk included
            "extinct": change("extinct_judged"), "head_up_tail_down": float(head_up_tail_down(first, last)),
            **{f"{side}_{k}": float(last[f"{side}_{flag}"]) for side in ("head", "tail")
               for k, flag in (("level", "beyond_chance"), ("compounding", "beyond_compounding"))},
            "beyond_chance": float(last["any_beyond_chance"])}  # the four tests combined, of size 5%


def rarest_toward_head(run: Path, generation: int) -> dict:
    """`toward_head` of the class rarest in the real subset at `generation`, and whether it lies above its floor's
    p95 (NaN when the run predates the column or the class has too few samples)."""
    rows = [r for r in rf.read_table(run / rf.METRICS) if int(r["class_index"]) >= 0]
    first = [r for r in rows if int(r["generation"]) == 0]
    if not first or "toward_head" not in first[0]:
        return {"toward_rarest": float("nan"), "toward_rarest_beyond": float("nan")}
    rarest = min(first, key=lambda r: (float(r["train_count"]), -int(r["class_index"])))["class_index"]
    row = next(r for r in rows if int(r["generation"]) == generation and r["class_index"] == rarest)
    value, p95 = float(row["toward_head"]), float(row["toward_head_floor_p95"])
    return {"toward_rarest": value,
            "toward_rarest_beyond": float(value > p95) if np.isfinite(value) and np.isfinite(p95) else float("nan")}


def paired(minuend: dict, subtrahend: dict, key: str) -> dict:
    """Mean and 95% CI over seeds of minuend[s][key] - subtrahend[s][key] (seed -> seed_changes), over the seeds
    both finished."""
    return mean_ci([minuend[s][key] - subtrahend[s][key] for s in minuend
                    if minuend[s] is not None and subtrahend.get(s) is not None])


def model_effect(model: dict, perfect: dict, key: str) -> dict:
    """What the model adds: its change of `key` beyond the perfect generator's through the same pipeline, paired by
    seed (seed -> seed_changes for each), with its 95% interval."""
    return paired(model, perfect, key)
