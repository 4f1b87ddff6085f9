"""Plots of a run, drawn from RUN/metrics.csv alone so they can be redrawn for any finished or partial run."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: runs on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vision_collapse.loop import run_dir as rd  # noqa: E402

PLOTS = "plots"


def metric_table(rows: list[dict], column: str) -> tuple[list[int], list[str], np.ndarray]:
    """(generations, class names, values[generation, class]) of one metrics.csv column."""
    gens = sorted({int(r["generation"]) for r in rows})
    classes = sorted({(int(r["class_index"]), r["class_name"]) for r in rows})
    table = np.full((len(gens), len(classes)), np.nan)
    for r in rows:
        table[gens.index(int(r["generation"])), int(r["class_index"])] = float(r[column])
    return gens, [name for _, name in classes], table


def _class_colours(n: int):
    """A distinct colour per class."""
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20" if n <= 20 else "viridis")
    return [cmap(i if n <= 20 else i / max(1, n - 1)) for i in range(n)]


def plot_class_frequency(rows: list[dict], path: Path) -> None:
    """Stacked area of judged class frequency by generation, the real subset's shares as a reference bar."""
    gens, names, freq = metric_table(rows, "gen_freq")
    _, _, train = metric_table(rows, "train_count")
    real = train[0] / train[0].sum()  # generation 0 trains on the real imbalanced subset
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = _class_colours(len(names))
    xs = np.array(gens, dtype=float)
    ax.stackplot(xs, np.nan_to_num(freq).T, labels=names, colors=colours, alpha=0.9)
    ax.bar([xs[0] - 0.75] * len(names), real, width=0.35, bottom=np.r_[0, np.cumsum(real)[:-1]], color=colours)
    ax.text(xs[0] - 0.75, 1.01, "real", ha="center", va="bottom", fontsize=8)
    ax.set(xlabel="generation", ylabel="judged class share", ylim=(0, 1.06), xlim=(xs[0] - 1, xs[-1] + 0.05))
    ax.set_xticks(gens)
    ax.set_title("Class frequency of samples, as judged by the reference classifier")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="class")
    _save(fig, path)


def plot_per_class_fid(rows: list[dict], path: Path) -> None:
    """Per-class FID by generation, one line per class; the head and rarest classes stand out."""
    gens, names, fid = metric_table(rows, "fid")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for c, (name, colour) in enumerate(zip(names, _class_colours(len(names)))):
        ax.plot(gens, fid[:, c], marker="o", ms=3, color=colour, label=name)
    ax.set(xlabel="generation", ylabel="FID vs real test images of the class (judge features)")
    ax.set_xticks(gens)
    if np.nanmin(fid, initial=np.inf) > 0:
        ax.set_yscale("log")
    ax.set_title("Per-class FID (missing points: fewer than 2 samples)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="class")
    _save(fig, path)


def _save(fig, path: Path) -> None:
    """Save a figure atomically and free it."""
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix[1:], dpi=120, bbox_inches="tight")
    plt.close(fig)
    rd.atomic_write_bytes(path, buf.getvalue())


def draw_plots(run: Path) -> list[Path]:
    """Redraw RUN/plots/*.png from RUN/metrics.csv; returns the files written (none before generation 0 ends)."""
    metrics = Path(run) / rd.METRICS
    rows = rd.read_csv(metrics) if metrics.is_file() else []
    if not rows:
        return []
    out = Path(run) / PLOTS
    paths = [out / "class_frequency.png", out / "per_class_fid.png"]
    plot_class_frequency(rows, paths[0])
    plot_per_class_fid(rows, paths[1])
    return paths
