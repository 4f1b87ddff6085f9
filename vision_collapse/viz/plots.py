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
    rows = [r for r in rows if int(r["class_index"]) >= 0]  # not the 'unrecognisable' row
    gens = sorted({int(r["generation"]) for r in rows})
    classes = sorted({(int(r["class_index"]), r["class_name"]) for r in rows})
    table = np.full((len(gens), len(classes)), np.nan)
    for r in rows:
        table[gens.index(int(r["generation"])), int(r["class_index"])] = float(r[column])
    return gens, [name for _, name in classes], table


def class_colours(n: int):
    """A distinct colour per class."""
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20" if n <= 20 else "viridis")
    return [cmap(i if n <= 20 else i / max(1, n - 1)) for i in range(n)]


def plot_class_frequency(rows: list[dict], path: Path) -> None:
    """Stacked area of judged class frequency by generation, the real subset's shares as a reference bar."""
    gens, names, freq = metric_table(rows, "gen_freq")
    _, _, train = metric_table(rows, "train_count")
    real = train[0] / train[0].sum()  # generation 0 trains on the real imbalanced subset
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = class_colours(len(names))
    xs = np.array(gens, dtype=float)
    layers, labels, layer_colours = list(np.nan_to_num(freq).T), list(names), list(colours)
    lost = [float(r["gen_freq"]) for r in rows if r["class_name"] == "unrecognisable"]
    if len(lost) == len(gens):  # the samples the judge recognises as no class, stacked on top in grey
        layers, labels, layer_colours = layers + [np.array(lost)], labels + ["unrecognisable"], layer_colours + ["0.8"]
    ax.stackplot(xs, layers, labels=labels, colors=layer_colours, alpha=0.9)
    ax.bar([xs[0] - 0.75] * len(names), real, width=0.35, bottom=np.r_[0, np.cumsum(real)[:-1]], color=colours)
    ax.text(xs[0] - 0.75, 1.01, "real", ha="center", va="bottom", fontsize=8)
    ax.set(xlabel="generation", ylabel="judged class share", ylim=(0, 1.06), xlim=(xs[0] - 1, xs[-1] + 0.05))
    ax.set_xticks(gens)
    ax.set_title("Class frequency of samples, as judged by the reference classifier")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="class")
    save_figure(fig, path)


def plot_per_class_fid(rows: list[dict], path: Path) -> None:
    """Per-class FID by generation, one line per class; the head and rarest classes stand out."""
    gens, names, fid = metric_table(rows, "fid")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if "fid_floor" in rows[0]:
        # What FID reads between two real samples of the same size: a class near its floor is as good as
        # FID can tell; the band spans the classes' floors, dotted lines mark each class's own.
        _, _, floor = metric_table(rows, "fid_floor")
        ax.fill_between(gens, np.nanmin(floor, axis=1), np.nanmax(floor, axis=1), color="0.85",
                        label="noise floor (range)")
        for c, colour in enumerate(class_colours(len(names))):
            ax.plot(gens, floor[:, c], ls=":", lw=0.8, color=colour)
    for c, (name, colour) in enumerate(zip(names, class_colours(len(names)))):
        ax.plot(gens, fid[:, c], marker="o", ms=3, color=colour, label=name)
    ax.set(xlabel="generation", ylabel="FID vs real test images of the class (judge features)")
    ax.set_xticks(gens)
    if np.nanmin(fid, initial=np.inf) > 0:
        ax.set_yscale("log")
    ax.set_title("Per-class FID (missing points: fewer than 2 samples)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="class")
    save_figure(fig, path)


def save_figure(fig, path: Path) -> None:
    """Save a figure atomically and free it."""
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix[1:], dpi=120, bbox_inches="tight")
    plt.close(fig)
    rd.atomic_write_bytes(path, buf.getvalue())


def aggregate_series(rows: list[dict], metric: str, class_name: str | None = None) -> dict[str, np.ndarray]:
    """{class name: array[generation, (gen, mean, ci_low, ci_high)]} of one aggregate.csv metric."""
    series: dict[str, list] = {}
    for r in rows:
        if r["metric"] == metric and (class_name is None or r["class_name"] == class_name):
            series.setdefault(r["class_name"], []).append(
                [float(r["generation"]), float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])])
    return {name: np.array(v) for name, v in series.items()}


def plot_bands(series: dict[str, np.ndarray], path: Path, ylabel: str, title: str, log: bool = False) -> None:
    """Mean lines with shaded 95% intervals, one per series (as returned by `aggregate_series`)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (name, v), colour in zip(series.items(), class_colours(len(series))):
        ax.plot(v[:, 0], v[:, 1], marker="o", ms=3, color=colour, label=name)
        ax.fill_between(v[:, 0], v[:, 2], v[:, 3], color=colour, alpha=0.15, linewidth=0)
    ax.set(xlabel="generation", ylabel=ylabel)
    ax.set_xticks(sorted({int(g) for v in series.values() for g in v[:, 0]}))
    if log and all(np.nanmin(v[:, 1], initial=np.inf) > 0 for v in series.values()):
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    save_figure(fig, path)


def draw_aggregate_plots(root: Path) -> list[Path]:
    """Plots of a multi-seed run: means across seeds with 95% bands, from RUN/aggregate.csv."""
    table = Path(root) / rd.AGGREGATE
    rows = rd.read_csv(table) if table.is_file() else []
    if not rows:
        return []
    seeds = max(int(r["seeds"]) for r in rows)
    out = Path(root) / PLOTS
    paths = [out / "class_frequency.png", out / "per_class_fid.png", out / "shares.png"]

    def per_class(metric: str) -> dict[str, np.ndarray]:
        """The metric's series for each class, without the run-level row."""
        return {k: v for k, v in aggregate_series(rows, metric).items() if k not in ("all", "unrecognisable")}

    plot_bands(per_class("gen_freq"), paths[0], "judged class share",
               f"Class frequency of samples: mean of {seeds} seeds, 95% interval")
    plot_bands(per_class("fid"), paths[1], "per-class FID (judge features)",
               f"Per-class FID: mean of {seeds} seeds, 95% interval", log=True)
    shares = {m: aggregate_series(rows, m, "all")["all"] for m in ("dominant_share", "tail_share")}
    plot_bands(shares, paths[2], "judged share of samples", f"Head and tail share: mean of {seeds} seeds, 95% interval")
    return paths


def draw_plots(run: Path) -> list[Path]:
    """Redraw RUN/plots/*.png from RUN/metrics.csv (or aggregate.csv for a multi-seed run); [] before generation 0 ends."""
    if rd.is_multiseed(run):
        return draw_aggregate_plots(run)
    metrics = Path(run) / rd.METRICS
    rows = rd.read_csv(metrics) if metrics.is_file() else []
    if not rows:
        return []
    out = Path(run) / PLOTS
    paths = [out / "class_frequency.png", out / "per_class_fid.png"]
    plot_class_frequency(rows, paths[0])
    plot_per_class_fid(rows, paths[1])
    return paths
