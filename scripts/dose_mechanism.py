"""Where a real-data dose loses the tail: each generation's training set against the samples it gives, from a
committed dose study's tables alone (results/remedies/<dataset>/).

    python scripts/dose_mechanism.py [results/remedies/digits] [--out docs/dose_mechanism.png]

Generation g >= 1 trains on round(dose x n) real images (the real subset: its true tail share) and the rest drawn
uniformly from generation g-1's samples (their tail share over every sample, junk included, and their
unrecognisable share). So its training set's expected tail share is dose x tail_real + (1 - dose) x
tail_share_all[g-1], and its junk share (1 - dose) x unrecognisable_share[g-1]. Plotted against what the model
trained on it samples (tail_share_all[g], unrecognisable_share[g]), means over seeds, one line per arm: a model
that kept its training mix would lie on the diagonal; the reference arm (fresh real images every generation)
shows what the sampler does to real data alone.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from vision_collapse.viz.plots import plt, save_figure


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def transfer(folder: Path, arm: str, dose: float) -> dict[str, np.ndarray]:
    """(generations-1,) means over the arm's seeds of the training set's and the samples' tail and junk shares."""
    train_tail, tail, train_junk, junk = [], [], [], []
    for seed in sorted(folder.glob(f"{arm}/seed_*")):
        if not (seed / "DONE").is_file():
            continue
        summary = _rows(seed / "summary.csv")
        real = float(_rows(seed / "baseline.csv")[0]["tail_share_all"])  # the real subset's, measured alike
        all_tail = np.array([float(r["tail_share_all"]) for r in summary])
        unrecognised = np.array([float(r["unrecognisable_share"]) for r in summary])
        train_tail.append(dose * real + (1 - dose) * all_tail[:-1])
        train_junk.append((1 - dose) * unrecognised[:-1])
        tail.append(all_tail[1:])
        junk.append(unrecognised[1:])
    return {k: np.mean(v, axis=0) for k, v in (("train_tail", train_tail), ("tail", tail),
                                                  ("train_junk", train_junk), ("junk", junk))}


def arms(folder: Path) -> list[tuple[str, str, float]]:
    """(arm, label, dose) of every dose row and the reference (real images only: dose 1)."""
    table = _rows(folder / "dose.csv")
    return [(r["arm"], f"{r['key']}={r['dose']}", float(r["dose"])) for r in table] + [("reference", "reference", 1.0)]


def main() -> None:
    """Print the table and draw the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("results/remedies/digits"))
    parser.add_argument("--out", type=Path, default=Path("docs/dose_mechanism.png"))
    args = parser.parse_args()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    print("| arm | generation | training tail share | samples' tail share | training junk | samples' junk |")
    print("|---|---|---|---|---|---|")
    for arm, label, dose in arms(args.folder):
        t = transfer(args.folder, arm, dose)
        for g in range(len(t["tail"])):
            print(f"| {label} | {g + 1} | {t['train_tail'][g]:.3f} | {t['tail'][g]:.3f} | {t['train_junk'][g]:.3f} "
                  f"| {t['junk'][g]:.3f} |")
        for ax, x, y in ((axes[0], "train_tail", "tail"), (axes[1], "train_junk", "junk")):
            ax.plot(t[x], t[y], "o-", label=label, alpha=0.8)
    for ax, what in zip(axes, ("tail share (over every item, junk included)", "unrecognisable share")):
        top = max(ax.get_xlim()[1], ax.get_ylim()[1])
        ax.plot([0, top], [0, top], color="grey", lw=0.8, ls="--", label="kept as trained")
        ax.set_xlabel(f"training set's {what}")
        ax.set_ylabel(f"samples' {what}")
    axes[0].set_title("the tail: what goes in, what comes out")
    axes[1].set_title("junk: what goes in, what comes out")
    axes[1].legend(fontsize=7)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
