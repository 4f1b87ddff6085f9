"""Sanity arm 1 of the dose study, generation by generation: the real subset every generation (dose 1) against
fresh real subsets every generation (the reference), from committed dose studies' tables alone.

    python scripts/sanity_arm.py [results/remedies/digits results/remedies/digits-replicate]

Both arms train every generation from scratch on real images with the same class counts, drawn by the same
function from the same pool, and they share generation 0. So in every generation their expected shares are equal
by construction, and a paired gap is chance or a bug. Per generation, the script prints the paired gap of the
calibrated tail share over every seed the folders hold (mean and 95% t interval), how many seeds it is positive
in, and the exact two-sided sign-flip p-value (every sign pattern). It then prints the level of every model
trained on real data alone (both arms, every generation) against the real subsets': that level, not one
generation of the reference, is what the sampler costs.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from vision_collapse import run_folder as rf
from vision_collapse.metrics.aggregate import ci_columns, ci_text, mean_ci

FIXED, FRESH = "dose_1", "reference"
DEFAULT = ("results/remedies/digits", "results/remedies/digits-replicate")


def _column(path: Path, key: str) -> np.ndarray:
    """One column of a kept table, as floats."""
    return np.array([float(r[key]) for r in rf.read_table(path)])


def shares(folders: list[Path], arm: str, key: str) -> np.ndarray:
    """(seeds, generations) of `key` in summary.csv, over every seed both arms finished in `folders`."""
    return np.array([_column(folder / arm / seed / "summary.csv", key)
                     for folder in folders for seed in both_done(folder)])


def both_done(folder: Path) -> list[str]:
    """The seeds (seed_<s>) both arms of `folder` finished, in order."""
    return sorted(p.parent.name for p in folder.glob(f"{FIXED}/seed_*/DONE")
                  if (folder / FRESH / p.parent.name / "DONE").is_file())


def sign_flip_p(x: np.ndarray) -> float:
    """Exact two-sided p of mean(x) = 0 under symmetry: the share of the 2^n sign patterns whose |mean| is as large."""
    flips = np.array(list(itertools.product((1.0, -1.0), repeat=len(x))))
    return float(np.mean(np.abs(flips @ x) >= abs(x.sum()) - 1e-12))


def real_level(folders: list[Path], key: str) -> tuple[dict, dict]:
    """mean_ci over seeds of each seed's mean of `key` over every model trained on real data alone (generation 0,
    and generations >= 1 of both arms), and of that minus the seed's real subset read by the same judge."""
    fixed, fresh = shares(folders, FIXED, key), shares(folders, FRESH, key)
    level = np.concatenate([fresh, fixed[:, 1:]], axis=1).mean(axis=1)
    real = np.array([_column(folder / FRESH / seed / "baseline.csv", key)[0]
                     for folder in folders for seed in both_done(folder)])
    return mean_ci(level), mean_ci(level - real)


def main(argv: list[str] | None = None) -> int:
    """Print the per-generation gaps and the real-data level."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[Path(f) for f in DEFAULT],
                        help="committed dose studies holding both arms (default: digits and digits-replicate)")
    args = parser.parse_args(argv)
    key = "tail_share_calibrated"
    gap = shares(args.folders, FIXED, key) - shares(args.folders, FRESH, key)
    print(f"{FIXED} - {FRESH}, {key}, {len(gap)} seeds")
    print("| generation | gap [95% CI] | positive | sign-flip p |\n|---|---|---|---|")
    for g in range(1, gap.shape[1]):
        row = ci_columns("gap", mean_ci(gap[:, g]))
        print(f"| {g} | {ci_text(row, 'gap', digits=4)} | {int(np.sum(gap[:, g] > 0))}/{len(gap)} "
              f"| {sign_flip_p(gap[:, g]):.3f} |")
    mean = gap[:, 1:].mean(axis=1)
    print(f"| 1-{gap.shape[1] - 1} (each seed's mean) | {ci_text(ci_columns('gap', mean_ci(mean)), 'gap', digits=4)} "
          f"| {int(np.sum(mean > 0))}/{len(gap)} | {sign_flip_p(mean):.3f} |")
    for side in ("tail", "head"):
        level, cost = real_level(args.folders, f"{side}_share_calibrated")
        print(f"models trained on real data alone, {side} share: {ci_text(ci_columns('x', level), 'x', sign='')}, "
              f"minus the real subset's (read alike): {ci_text(ci_columns('x', cost), 'x')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
