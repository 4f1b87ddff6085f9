"""attribution.png: each arm's change in head and tail share from generation 0 to the last, with 95% CIs."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_attribution(rows: list[dict], path: Path, title: str = "") -> Path:
    """Horizontal bars per arm: head and tail share change (calibrated, recognised-only) with their CIs."""
    from vision_collapse.viz.plots import plt, save_figure

    labels = [r["label"] for r in rows]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.55 * len(rows)))
    for offset, key, colour in ((-0.18, "head", "tab:red"), (0.18, "tail", "tab:blue")):
        mean = np.array([float(r[f"{key}_change"]) for r in rows])
        low = np.array([float(r[f"{key}_change_low"]) for r in rows])
        high = np.array([float(r[f"{key}_change_high"]) for r in rows])
        err = np.nan_to_num(np.vstack([mean - low, high - mean]))
        ax.barh(y + offset, mean, height=0.34, color=colour, alpha=0.75, label=f"{key} share change",
                xerr=err, capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="change in calibrated share, generation 0 to last (mean and 95% CI over seeds)",
           title=title or "What each cause contributes: the config, then each cause switched off")
    ax.legend(fontsize=8, loc="best")
    save_figure(fig, Path(path))
    return Path(path)
