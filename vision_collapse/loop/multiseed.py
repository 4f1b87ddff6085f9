"""Several independent seeds of one experiment: RUN/seed_<s>/ each, and RUN/aggregate.csv across them."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from vision_collapse.config import ExperimentConfig
from vision_collapse.errors import UserError
from vision_collapse.loop import run_dir as rd
from vision_collapse.loop.experiment import run_experiment
from vision_collapse.metrics.aggregate import aggregate
from vision_collapse.runtime import runtime
from vision_collapse.viz.plots import draw_plots

_ROOT_ENTRIES = re.compile(rf"seed_\d+|{rd.AGGREGATE}|plots|{rd.DONE}|\..+\.tmp\d+")


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' or '0-4' -> a list of distinct seeds, in order."""
    seeds: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m or (m[2] and int(m[2]) < int(m[1])):
            raise UserError(f"--seeds {text!r} is not a list of seeds; write e.g. --seeds 0,1,2 or --seeds 0-4")
        seeds += [s for s in range(int(m[1]), int(m[2] or m[1]) + 1) if s not in seeds]
    return seeds


def write_aggregate(root: Path) -> list[dict]:
    """Rebuild RUN/aggregate.csv from every seed's finished generations."""
    runs = rd.seed_dirs(root)
    rows = aggregate([rd.read_csv(r / rd.METRICS) for r in runs if (r / rd.METRICS).is_file()],
                     [rd.read_csv(r / rd.SUMMARY) for r in runs if (r / rd.SUMMARY).is_file()])
    rd.write_csv(Path(root) / rd.AGGREGATE, rows)
    return rows


def run_seeds(cfg: ExperimentConfig, root: Path, seeds: list[int], force: bool = False, log=print) -> Path:
    """Run (or resume) the experiment once per seed into ROOT/seed_<s>/, then write ROOT/aggregate.csv."""
    root = Path(root)
    if (root / rd.CONFIG).is_file():
        raise UserError(f"{str(root)!r} holds a single-seed run; use another --out for --seeds")
    if root.is_dir() and any(not _ROOT_ENTRIES.fullmatch(p.name) for p in root.iterdir()):
        raise UserError(f"--out {str(root)!r} is not empty and holds no multi-seed run; choose an empty or new folder")
    rt = runtime()
    for s in seeds:
        if rt.is_main:
            log(f"seed {s} -> {root / f'seed_{s}'}")
        run_experiment(dataclasses.replace(cfg, seed=s), root / f"seed_{s}", force=force, log=log)
        rt.on_main(lambda: (write_aggregate(root), draw_plots(root)))
    rt.on_main(lambda: rd.atomic_write_text(root / rd.DONE, ""))
    return root
