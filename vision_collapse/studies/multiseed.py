"""Several independent seeds of one experiment: ROOT/seed_<s>/ each, and ROOT/aggregate.csv across them."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Callable

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.errors import UserError
from vision_collapse.loop.experiment import AfterGeneration, run_experiment
from vision_collapse.metrics.aggregate import aggregate
from vision_collapse.runtime import runtime


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
    """Rebuild ROOT/aggregate.csv from every seed's finished generations."""
    runs = rf.seed_dirs(root)
    rows = aggregate([rf.read_table(r / rf.METRICS) for r in runs], [rf.read_table(r / rf.SUMMARY) for r in runs])
    rf.write_csv(Path(root) / rf.AGGREGATE, rows)
    return rows


def run_seeds(
    cfg: ExperimentConfig,
    root: Path,  # the multi-seed folder; each seed runs into ROOT/seed_<s>/
    seeds: list[int],
    force: bool = False,  # start a seed's folder over when it holds another config
    log: Callable[[str], None] = print,
    after_generation: AfterGeneration | None = None,  # called for each seed's generations
    after_aggregate: Callable[[Path], None] | None = None,  # called with ROOT after each aggregate.csv rewrite
    name: str = "",  # the config's name, recorded in each seed's run.json
) -> Path:
    """Run (or resume) the experiment once per seed into ROOT/seed_<s>/, then write ROOT/aggregate.csv."""
    root = Path(root)
    rf.check_multiseed_root(root)
    rt = runtime()
    for s in seeds:
        if rt.is_main:
            log(f"seed {s} -> {rf.seed_dir(root, s)}")
        run_experiment(dataclasses.replace(cfg, seed=s), rf.seed_dir(root, s), force, log, after_generation, name)
        rt.on_main(lambda: (write_aggregate(root), after_aggregate and after_aggregate(root)))
    rt.on_main(lambda: rf.mark_done(root))
    return root
