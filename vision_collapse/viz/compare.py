"""Runs that differ in a few config keys, overlaid on shared axes and labelled by those keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vision_collapse import run_folder as rf
from vision_collapse.config import config_to_dict, flatten
from vision_collapse.errors import UserError


def differing_keys(configs: list) -> list[str]:
    """Dotted keys whose values are not the same in every config, in config order."""
    flat = [flatten(config_to_dict(c)) for c in configs]
    return [k for k in flat[0] if any(f[k] != flat[0][k] for f in flat[1:])]


def metric_series(run: Path, metric: str) -> np.ndarray:
    """Rows (generation, mean, ci_low, ci_high) of a summary metric; the interval is the mean for one seed."""
    if rf.is_multiseed(run):
        rows = [r for r in rf.read_table(run / rf.AGGREGATE) if r["class_name"] == rf.ALL and r["metric"] == metric]
        return np.array([[float(r[k]) for k in ("generation", "mean", "ci_low", "ci_high")] for r in rows])
    rows = rf.read_table(run / rf.SUMMARY)
    if rows and metric not in rows[0]:
        raise UserError(f"--metric {metric!r} is not a summary.csv column; choose one of {', '.join(rows[0])}")
    return np.array([[float(r["generation"])] + [float(r[metric])] * 3 for r in rows])


def run_labels(runs: list[Path]) -> tuple[list[str], list[str]]:
    """(the config keys in which the runs differ, each run's label: its values of those keys, or its name)."""
    configs = [rf.read_config(r) for r in runs]  # a multi-seed folder's: its first seed's, seed left out of diffs
    # log.* keys change what is drawn, never a number, so they do not tell runs apart; nor does a multi-seed
    # folder's first seed.
    keys = [k for k in differing_keys(configs) if not k.startswith("log.")
            and not (k == "seed" and any(rf.is_multiseed(r) for r in runs))]
    labels = []
    for run, cfg in zip(runs, configs):
        flat = flatten(config_to_dict(cfg))
        labels.append((", ".join(f"{k}={flat[k]}" for k in keys) or Path(run).name) + _partial(Path(run), cfg))
    return keys, labels


def _partial(run: Path, cfg) -> str:
    """' (partial: 1 of 5 generations)' for a run still going or stopped early (for several seeds, the fewest
    any seed has finished); '' for a finished one."""
    if (run / rf.DONE).is_file():
        return ""
    singles = rf.seed_dirs(run) if rf.is_multiseed(run) else [run]
    done = min((len(rf.finished_generations(r)) for r in singles), default=0)
    return f" (partial: {done} of {cfg.loop.generations} generations)"


def compare_runs(runs: list[Path], metric: str, out: Path, name: str = "compare") -> list[Path]:
    """Write OUT/NAME.png and OUT/NAME.csv for `metric` across `runs`; returns the two paths."""
    from matplotlib.ticker import MaxNLocator

    from vision_collapse.viz.plots import class_colours, plt, save_figure

    keys, labels = run_labels(runs)
    series = [metric_series(r, metric) for r in runs]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, s, colour in zip(labels, series, class_colours(len(runs))):
        if len(s):
            ax.plot(s[:, 0], s[:, 1], marker="o", ms=3, color=colour, label=label,
                    ls="--" if "(partial:" in label else "-")  # an unfinished run, dashed
            ax.fill_between(s[:, 0], s[:, 2], s[:, 3], color=colour, alpha=0.15, linewidth=0)
    ax.set(xlabel="generation", ylabel=metric, title=f"{metric}: runs differing in {', '.join(keys) or 'nothing'}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # generations are whole numbers
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14))  # below the axes, off the lines
    out = Path(out)
    paths = [out / f"{name}.png", out / f"{name}.csv"]
    save_figure(fig, paths[0])
    rows = [{"run": str(run), "label": label, "generation": int(g), metric: m, "ci_low": lo, "ci_high": hi}
            for run, label, s in zip(runs, labels, series) for g, m, lo, hi in s]
    rf.write_csv(paths[1], rows)
    return paths
