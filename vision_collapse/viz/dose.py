"""dose.png: the tail share at the last generation against a remedy's dose, with 95% intervals over seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_dose(rows: list[dict], path: Path) -> Path:
    """Tail share at the last generation (mean and 95% CI) per dose value, the real subset's tail share and the
    reference arm's level (the same sampler trained on real data alone) as a band."""
    from vision_collapse.viz.plots import plt, save_figure

    x = np.array([float(r["dose"]) for r in rows])
    mean = np.array([float(r["tail_last"]) for r in rows])
    err = np.nan_to_num(np.vstack([mean - np.array([float(r["tail_last_low"]) for r in rows]),
                                   np.array([float(r["tail_last_high"]) for r in rows]) - mean]))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(x, mean, yerr=err, marker="o", capsize=3, color="tab:blue", label="tail share, last generation")
    real = np.nanmean([float(r["tail_real"]) for r in rows])
    ax.axhline(real, color="black", linestyle="--", linewidth=0.9, label="real subset")
    if "tail_share_reference" in rows[0]:  # the no-recursion level: the same sampler trained on real data alone
        level = [float(rows[0][f"tail_share_reference{k}"]) for k in ("", "_low", "_high")]
        if np.isfinite(level[0]):
            ax.axhline(level[0], color="tab:green", linewidth=0.9, label="reference (no recursion), 95% CI")
            if np.isfinite(level[1:]).all():
                ax.axhspan(level[1], level[2], color="tab:green", alpha=0.15, linewidth=0)
    for xi, yi, r in zip(x, mean, rows):
        if float(r["within_chance"]) == 1:
            ax.annotate("within chance", (xi, yi), textcoords="offset points", xytext=(4, 6), fontsize=7)
    ax.set(xlabel=rows[0]["key"], ylabel="calibrated tail share (mean, 95% CI over seeds)",
           title="Dose: the rare classes' share at the last generation")
    ax.legend(fontsize=8)
    save_figure(fig, Path(path))
    return Path(path)
