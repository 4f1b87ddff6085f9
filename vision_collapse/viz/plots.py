"""Plots of a run, drawn from RUN/metrics.csv alone so they can be redrawn for any finished or partial run."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: runs on servers and in CI
import matplotlib.colors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vision_collapse import run_folder as rf  # noqa: E402


def metric_table(rows: list[dict], column: str) -> tuple[list[int], list[str], np.ndarray]:
    """(generations, class names, values[generation, class]) of one metrics.csv column."""
    rows = [r for r in rows if int(r["class_index"]) >= 0]  # not the 'unrecognisable' row
    gens = sorted({int(r["generation"]) for r in rows})
    classes = sorted({(int(r["class_index"]), r["class_name"]) for r in rows})
    table = np.full((len(gens), len(classes)), np.nan)
    for r in rows:
        table[gens.index(int(r["generation"])), int(r["class_index"])] = float(r[column])
    return gens, [name for _, name in classes], table


def class_order(run: Path) -> tuple[list[str], list[int]]:
    """(class names, class indices from the rarest to the most common in the real subset) of a single run."""
    _, names, train = metric_table(rf.read_table(Path(run) / rf.METRICS), "train_count")
    return names, [int(c) for c in np.argsort(train[0], kind="stable")]


def class_colours(n: int):
    """A distinct colour per class."""
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20" if n <= 20 else "viridis")
    return [cmap(i if n <= 20 else i / max(1, n - 1)) for i in range(n)]


def plot_class_frequency(rows: list[dict], path: Path) -> None:
    """Stacked area of judged class shares of recognised samples by generation, the real subset's as a bar."""
    gens, names, freq = metric_table(rows, "gen_freq")
    _, _, train = metric_table(rows, "train_count")
    real = train[0] / train[0].sum()  # generation 0 trains on the real imbalanced subset
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = class_colours(len(names))
    xs = np.array(gens, dtype=float)
    shares = np.nan_to_num(freq)
    if len(gens) > 1:
        ax.stackplot(xs, list(shares.T), labels=list(names), colors=colours, alpha=0.9)
    else:  # one generation so far: an area of zero width would draw nothing, so it is a bar beside the real one
        ax.bar([xs[0]] * len(names), shares[0], width=0.35, bottom=np.r_[0, np.cumsum(shares[0])[:-1]],
               color=colours, alpha=0.9, label=list(names))
    ax.bar([xs[0] - 0.75] * len(names), real, width=0.35, bottom=np.r_[0, np.cumsum(real)[:-1]], color=colours)
    ax.text(xs[0] - 0.75, 1.01, "real", ha="center", va="bottom", fontsize=8)
    ax.set(xlabel="generation", ylabel="share of recognised samples", ylim=(0, 1.06), xlim=(xs[0] - 1, xs[-1] + 0.05))
    ax.set_xticks(gens)
    ax.set_title("Class frequency of recognised samples, as judged (unrecognisable: see shares.png)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="class")
    save_figure(fig, path)


def plot_per_class_fid(rows: list[dict], path: Path) -> None:
    """Per-class FID by generation, one line per class; the head and rarest classes stand out."""
    gens, names, fid = metric_table(rows, "fid")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if "fid_floor_p95" in rows[0]:
        # What FID reads for unseen real images at the same size against the same test images: the band spans
        # the classes' medians to their 95th percentiles; dotted lines mark each class's own 95th percentile.
        _, _, median = metric_table(rows, "fid_floor_median")
        _, _, p95 = metric_table(rows, "fid_floor_p95")
        if np.isfinite(p95).any():
            ax.fill_between(gens, np.nanmin(median, axis=1), np.nanmax(p95, axis=1), color="0.85",
                            label="real-image floor (median to p95)")
        for c, colour in enumerate(class_colours(len(names))):
            ax.plot(gens, p95[:, c], ls=":", lw=0.8, color=colour)
    for c, (name, colour) in enumerate(zip(names, class_colours(len(names)))):
        ax.plot(gens, fid[:, c], marker="o", ms=3, color=colour, label=name)
    ax.set(xlabel="generation")
    scale_y(ax, "FID vs real test images of the class (judge features)", fid, log=True)
    ax.set_xticks(gens)
    ax.set_title("Per-class FID (missing points: fewer than eval.samples_per_class samples)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="class")
    save_figure(fig, path)


def _chance(rows: list[dict], quantity: str, test: str) -> list[dict]:
    """chance.csv's rows of one quantity of the tracked shares against one null chain (older tables: level only)."""
    return [r for r in rows if r["quantity"] == quantity and r.get("test", "level") == test
            and r.get("share", "tracked") == "tracked"]


def plot_chance(rows: list[dict], path: Path) -> None:
    """Head and tail share against the null twin's 95% bands: from the real subset (level) and, from generation 1,
    from generation 0's samples (compounding); outside a band, drift exceeds chance."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, quantity in zip(axes, ("head_share", "tail_share")):
        mine, since = _chance(rows, quantity, "level"), _chance(rows, quantity, "compounding")
        gens = [int(r["generation"]) for r in mine]
        low, high, seen = ([float(r[k]) for r in mine] for k in ("low", "high", "observed"))
        ax.fill_between(gens, low, high, color="0.85", label="level: chance from the real subset, 95%")
        if since:
            ax.fill_between([int(r["generation"]) for r in since], [float(r["low"]) for r in since],
                            [float(r["high"]) for r in since], color="C2", alpha=0.2,
                            label="compounding: chance since generation 0, 95%")
        ax.plot(gens, seen, marker="o", color="C3" if quantity == "tail_share" else "C0", label="observed")
        for test_rows, mark, label in ((mine, "k*", "beyond the level band"), (since, "gx", "beyond the compounding band")):
            beyond = [int(r["generation"]) for r in test_rows if r["beyond"] == "1"]
            ax.plot(beyond, [seen[gens.index(g)] for g in beyond], mark, ms=10, label=label)
        ax.set(xlabel="generation", ylabel=quantity.replace("_", " "), title=quantity.replace("_", " "))
        ax.set_xticks(gens)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.subplots_adjust(bottom=0.3, top=0.85, wspace=0.3)
    fig.suptitle("Drift against the loop's null twin (the tracked histogram: labels, or recognised judgements)")
    save_figure(fig, path)


def plot_global_fid(rows: list[dict], path: Path) -> None:
    """FID against the real prior, at the generation's own labels, and the per-class mean, with the real floor."""
    gens = [int(r["generation"]) for r in rows]
    series = lambda k: [float(r[k]) for r in rows]  # noqa: E731
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.fill_between(gens, series("fid_at_labels_floor_median"), series("fid_at_labels_floor_p95"), color="0.85",
                    label="real images at the same labels (median to p95)")
    for key in ("fid_vs_original", "fid_at_labels", "fid_macro"):
        ax.plot(gens, series(key), marker="o", ms=3, label=key)
    ax.set(xlabel="generation", ylabel="FID (judge features)", title="FID: drift plus quality, quality alone")
    ax.set_xticks(gens)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def scale_y(ax, label: str, values, log: bool) -> None:
    """Label the y axis and, when `log`, put it on a log scale; symlog when some values are 0, so a vanished class
    still shows. The label says which scale the axis has."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if log and v.size and v.min() > 0:
        ax.set_yscale("log")
        label += " (log scale)"
    elif log and v.size and v.min() >= 0 and v.max() > 0:
        floor = float(v[v > 0].min())
        ax.set_yscale("symlog", linthresh=floor)
        ax.set_ylim(bottom=0)
        label += f" (log scale, linear below {floor:.2g})"
    ax.set_ylabel(label)


def plot_class_chance(rows: list[dict], names: list[str], order: list[int], path: Path) -> None:
    """Each class's tracked share against its own band of neutral drift, one panel per class in `order`."""
    columns = min(5, len(order))
    lines = -(-len(order) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(2.1 * columns, 1.7 * lines), sharex=True, squeeze=False)
    for ax in axes.flat[len(order):]:
        ax.set_axis_off()
    for ax, c in zip(axes.flat, order):
        mine = _chance(rows, names[c], "level")
        gens = [int(r["generation"]) for r in mine]
        low, high, seen = ([float(r[k]) for r in mine] for k in ("low", "high", "observed"))
        ax.fill_between(gens, low, high, color="0.85")
        ax.plot(gens, seen, marker="o", ms=2.5, color="C3")
        beyond = [i for i, r in enumerate(mine) if r["beyond"] == "1"]
        ax.plot([gens[i] for i in beyond], [seen[i] for i in beyond], "k*", ms=7)
        ax.set_title(names[c][:16], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xticks(gens)
    for ax in axes[:, 0]:
        ax.set_ylabel("share", fontsize=8)
    fig.suptitle("Each class's share (tracked histogram) against its 95% band of the null from the real subset "
                 "(grey); * beyond chance, Holm-corrected across classes. Rarest first.", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def save_figure(fig, path: Path) -> None:
    """Save a figure atomically and free it."""
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix[1:], dpi=120, bbox_inches="tight")
    plt.close(fig)
    rf.atomic_write_bytes(path, buf.getvalue())


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
    ax.set(xlabel="generation")
    ax.set_xticks(sorted({int(g) for v in series.values() for g in v[:, 0]}))
    scale_y(ax, ylabel, np.concatenate([v[:, 1] for v in series.values()]) if series else [], log)
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    save_figure(fig, path)


def run_series(run: Path, metric: str, per_class: bool) -> dict[str, np.ndarray]:
    """{name: rows of (generation, mean, ci_low, ci_high)} of a metric: per class, or the run-level value.

    A single run's interval is its value; a multi-seed run's comes from aggregate.csv.
    """
    run = Path(run)
    if rf.is_multiseed(run):
        series = aggregate_series(rf.read_table(run / rf.AGGREGATE), metric)
        return {k: v for k, v in series.items() if (k not in (rf.ALL, rf.UNRECOGNISABLE)) == per_class}
    rows = rf.read_table(run / (rf.METRICS if per_class else rf.SUMMARY))
    if not rows or metric not in rows[0]:
        return {}
    if not per_class:
        v = np.array([[float(r["generation"])] + [float(r[metric])] * 3 for r in rows])
        return {metric: v}
    gens, names, values = metric_table(rows, metric)
    return {name: np.column_stack([gens, values[:, c], values[:, c], values[:, c]]) for c, name in enumerate(names)}


def plot_heatmap(series: dict[str, np.ndarray], path: Path, metric: str) -> None:
    """Classes x generations, coloured by a per-class metric on a log scale."""
    names = list(series)
    gens = sorted({int(g) for v in series.values() for g in v[:, 0]})
    grid = np.full((len(names), len(gens)), np.nan)
    for i, name in enumerate(names):
        for g, value in zip(series[name][:, 0], series[name][:, 1]):
            grid[i, gens.index(int(g))] = value
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(gens), 1.0 + 0.28 * len(names)))
    positive = grid[np.isfinite(grid) & (grid > 0)]
    norm = matplotlib.colors.LogNorm(positive.min(), positive.max()) if positive.size > 1 else None
    image = ax.imshow(grid, aspect="auto", cmap="magma", norm=norm)
    ax.set_xticks(range(len(gens)), gens)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set(xlabel="generation", title=f"per-class {metric} (blank: too few samples)")
    fig.colorbar(image, ax=ax, label=f"{metric} (log colour scale)" if norm else metric)
    save_figure(fig, path)


def draw_plots(run: Path, svg: bool = False) -> list[Path]:
    """Redraw RUN/plots/ from the run's tables (aggregate.csv for a multi-seed run); [] before generation 0 ends.

    class_frequency (stacked; for several seeds the mean lines with 95% bands), class_frequency_log,
    per_class_fid (with the noise floor), heatmap_fid, heatmap_kid, shares, precision_recall and, for one seed,
    chance, class_chance (each class against its band) and fid.
    """
    run = Path(run)
    multi = rf.is_multiseed(run)
    if not run_series(run, "gen_freq", per_class=True):
        return []
    out, paths = run / rf.PLOTS, []
    suffixes = [".png", ".svg"] if svg else [".png"]
    seeds = "mean of seeds, 95% interval" if multi else "one seed"

    def emit(name: str, draw) -> None:
        """Draw one figure into each requested format."""
        for suffix in suffixes:
            paths.append(out / f"{name}{suffix}")
            draw(paths[-1])

    if multi:
        emit("class_frequency", lambda p: plot_bands(run_series(run, "gen_freq", True), p, "judged class share",
                                                     f"Class frequency of samples ({seeds})"))
        emit("per_class_fid", lambda p: plot_bands(run_series(run, "fid", True), p, "per-class FID",
                                                   f"Per-class FID ({seeds})", log=True))
    else:
        rows = rf.read_table(run / rf.METRICS)
        emit("class_frequency", lambda p: plot_class_frequency(rows, p))
        emit("per_class_fid", lambda p: plot_per_class_fid(rows, p))
    calibrated = run_series(run, "gen_freq_calibrated", True)
    emit("class_frequency_log", lambda p: plot_bands(
        calibrated or run_series(run, "gen_freq", True), p, "class share",
        f"{'Calibrated' if calibrated else 'Judged'} class frequency ({seeds})", log=True))
    for metric in ("fid", "kid"):
        if run_series(run, metric, True):
            emit(f"heatmap_{metric}", lambda p, m=metric: plot_heatmap(run_series(run, m, True), p, m))
    shares = {m: v for m in ("head_share", "tail_share", "head_share_calibrated", "tail_share_calibrated",
                             "unrecognisable_share") for v in run_series(run, m, False).values()}
    if shares:
        emit("shares", lambda p: plot_bands(shares, p, "share of samples", f"Head and tail share ({seeds})"))
    if not multi and (run / rf.CHANCE).is_file():
        chance = rf.read_table(run / rf.CHANCE)
        emit("chance", lambda p: plot_chance(chance, p))
        if any(r["quantity"] not in ("head_share", "tail_share") for r in chance):  # class rows exist
            names, order = class_order(run)
            emit("class_chance", lambda p: plot_class_chance(chance, names, order, p))
        emit("fid", lambda p: plot_global_fid(rf.read_table(run / rf.SUMMARY), p))
    quality = {m: v for m in ("precision", "recall", "density", "coverage") for v in run_series(run, m, False).values()}
    if quality:
        emit("precision_recall",
             lambda p: plot_bands(quality, p, "value", f"Precision, recall, density, coverage ({seeds})"))
    return paths
