"""Several independent seeds of one experiment: which seeds (--seeds), and ROOT/aggregate.csv across ROOT/seed_<s>/
(studies.arms.run_arms runs them)."""

from __future__ import annotations

import re
from pathlib import Path

from vision_collapse import run_folder as rf
from vision_collapse.errors import UserError
from vision_collapse.metrics.aggregate import aggregate


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
