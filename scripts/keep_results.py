"""Keep a study's small tables in the repository, so its README table outlives the machine that ran it.

    python scripts/keep_results.py runs/dit-digits results/dit-digits

Copies, for every run folder under RUNS (RUNS itself, its seed_<s>/ folders, or arm folders holding them), the
tables a study's own tables are computed from: config.yaml, every CSV beside it (summary, metrics, chance, floors,
baseline, pretrained), judge.json and the DONE marker; and any CSV at RUNS's top (aggregate, remedies, dose).
Never weights, samples, images or files naming machine paths (run.json, data.json). Re-running replaces what it
copied before, so a study's slice is kept as soon as it finishes.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

KEPT_FILES = ("config.yaml", "judge.json", "DONE")  # besides every *.csv of a run folder


def run_folders(root: Path) -> list[Path]:
    """Every folder under `root` (itself included) that holds a run: its config.yaml."""
    found = (p.parent for p in root.rglob("config.yaml"))
    return sorted({f for f in found if not any(q.startswith("gen_") for q in f.relative_to(root).parts)})


def kept(folder: Path) -> list[Path]:
    """The small files of one folder that a study's tables read (no subfolders)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and (p.suffix == ".csv" or p.name in KEPT_FILES))


def keep(runs: Path, out: Path) -> list[Path]:
    """Copy the kept files of every run folder under `runs` (and `runs`'s own CSVs) into `out`, same layout."""
    written = []
    for folder in sorted({runs, *run_folders(runs)}):
        for path in kept(folder):
            target = out / path.relative_to(runs)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            written.append(target)
    return written


def main() -> None:
    """Copy and report the count and size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="a run folder, a `run --seeds` folder, or a study's folder of arms")
    parser.add_argument("out", type=Path, help="where under results/ to keep them, e.g. results/dit-digits")
    args = parser.parse_args()
    if not args.runs.is_dir() or not run_folders(args.runs):
        raise SystemExit(f"error: {args.runs} holds no run folder (no config.yaml); pass the folder a run wrote")
    written = keep(args.runs, args.out)
    size = sum(p.stat().st_size for p in written)
    print(f"kept {len(written)} files ({size / 1e6:.2f} MB) under {args.out}")


if __name__ == "__main__":
    main()
