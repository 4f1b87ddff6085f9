"""Several variants ("arms") of one config, each over several seeds, run as parallel processes; and what
changed from generation 0 to the last in each, with 95% intervals across seeds.

Each arm is a multi-seed folder OUT/<arm>/seed_<s>/ of normal runs, so `report`, `plot` and `grid` read it,
and re-running the same command resumes every unfinished seed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from vision_collapse import run_folder as rf
from vision_collapse.config import load_config
from vision_collapse.errors import UserError
from vision_collapse.metrics.aggregate import mean_ci
from vision_collapse.studies.launch import Job, Launch, add_launch_options, run_jobs
from vision_collapse.studies.multiseed import write_aggregate


@dataclass(frozen=True)
class Arm:
    """One variant of the config."""

    name: str  # its folder under OUT
    overrides: tuple[str, ...] = ()  # KEY=VALUE applied after the config's own overrides
    label: str = ""  # what it is, for tables and plots; the name when empty


def add_arm_options(parser, seeds: str, out: str) -> None:
    """The options every script over arms shares: --seeds, --out, --tables-only and how jobs start (--jobs,
    --launcher, --gpus, --slurm-*)."""
    parser.add_argument("--seeds", default=seeds, help=f"seeds to run, e.g. 0,1,2 or 0-4 (default {seeds})")
    parser.add_argument("--out", type=Path, default=Path(out), help=f"where the arms' folders go (default {out})")
    parser.add_argument("--tables-only", action="store_true", help="tabulate the runs finished so far, run nothing")
    add_launch_options(parser)


def check_arms(config: Path, overrides: list[str], arms: list[Arm]) -> dict[str, int]:
    """Load every arm's config first, so a bad key fails before any process starts; returns each arm's
    train.processes (the GPUs its jobs take)."""
    return {arm.name: load_config(config, [*overrides, *arm.overrides]).train.processes for arm in arms}


def _job_command(config: Path, overrides: list[str], arm: Arm, seed: int, folder: Path) -> list[str]:
    """The `vision-collapse run` command line of one arm and seed."""
    return [sys.executable, "-m", "vision_collapse", "run", str(config), *overrides, *arm.overrides, f"seed={seed}",
            "log.plots=false", "--out", str(folder)]


def run_arms(
    config: Path,
    overrides: list[str],  # the user's KEY=VALUE overrides, shared by every arm
    arms: list[Arm],
    seeds: list[int],
    out: Path,
    launch: Launch | int,  # how jobs start; an int: that many local processes at once
    log: Callable[[str], None] = print,
) -> None:
    """Run (or resume) every arm and seed into OUT/<arm>/seed_<s>/, then write each arm's aggregate.csv."""
    processes = check_arms(config, overrides, arms)
    launch = Launch(jobs=launch) if isinstance(launch, int) else launch
    out = Path(out)
    (out / rf.ARM_LOGS).mkdir(parents=True, exist_ok=True)
    todo = [Job("_".join(filter(None, (arm.name, f"seed_{s}"))),
                _job_command(config, overrides, arm, s, rf.seed_dir(out / arm.name, s)), processes[arm.name])
            for arm in arms for s in seeds if not (rf.seed_dir(out / arm.name, s) / rf.DONE).is_file()]
    at_once = launch.processes(max(processes.values()))
    where = f"{at_once} at a time" if launch.launcher == "local" else "as a SLURM job array (submitit)"
    log(f"{len(arms)} arm(s) x {len(seeds)} seed(s): {len(todo)} run(s) to do, {where}")
    for arm in arms:
        (out / arm.name).mkdir(parents=True, exist_ok=True)
    failed = run_jobs(todo, out / rf.ARM_LOGS, launch, log)
    for arm in arms:
        if rf.seed_dirs(out / arm.name):
            write_aggregate(out / arm.name)
            if all((rf.seed_dir(out / arm.name, s) / rf.DONE).is_file() for s in seeds):
                rf.mark_done(out / arm.name)
    if failed:
        raise UserError(f"{len(failed)} run(s) failed, e.g. {failed[0]}; see {out / rf.ARM_LOGS}, fix it and re-run "
                        "to resume")


ARM = "arm"  # in arm_table's `minus`: the row's own arm


def difference_column(key: str, minus: tuple[str, str]) -> str:
    """The arm table's column of the paired difference `minus` (minuend, subtrahend; ARM is the row's own arm) of
    the change of `key`: e.g. tail_change_arm_minus_untreated, head_change_as_configured_minus_arm."""
    return f"{key}_change_{minus[0]}_minus_{minus[1]}"


FLAGS = ("head_level", "tail_level", "head_compounding", "tail_compounding")  # per-seed flags, shared across seeds


def seed_changes(run: Path) -> dict | None:
    """One finished seed's change from generation 0 to its last generation: calibrated head and tail shares,
    classes extinct by the judge, and the last generation's chance flags: head and tail against the level and
    compounding chains, and the four combined."""
    rows = rf.read_table(run / rf.SUMMARY)
    if not (run / rf.DONE).is_file() or not rows:
        return None
    first, last = rows[0], rows[-1]

    def change(key: str) -> float:
        return float(last[key]) - float(first[key])

    head_up, tail_down = change("head_share_calibrated") > 0, change("tail_share_calibrated") < 0
    return {"head": change("head_share_calibrated"), "tail": change("tail_share_calibrated"),
            **rarest_toward_head(run, int(last["generation"])),
            "head_absorption": float(last.get("head_absorption", "nan")),
            "unrecognisable_last": float(last["unrecognisable_share"]),  # shares are NaN when too few are recognised
            "toward_mean": float(last.get("toward_head", "nan")),  # over the non-head classes with enough samples
            "head_last": float(last["head_share_calibrated"]), "tail_last": float(last["tail_share_calibrated"]),
            "tail_all_last": float(last.get("tail_share_all", "nan")),  # over every sample, junk included
            "extinct": change("extinct_judged"), "head_up_tail_down": float(head_up and tail_down),
            **{f"{side}_{k}": float(last[f"{side}_{flag}"]) for side in ("head", "tail")
               for k, flag in (("level", "beyond_chance"), ("compounding", "beyond_compounding"))},
            "beyond_chance": float(last["any_beyond_chance"])}  # the four tests combined, of size 5%


def rarest_toward_head(run: Path, generation: int) -> dict:
    """`toward_head` of the class rarest in the real subset at `generation`, and whether it lies above its floor's
    p95 (NaN when the run predates the column or the class has too few samples)."""
    rows = [r for r in rf.read_table(run / rf.METRICS) if int(r["class_index"]) >= 0]
    first = [r for r in rows if int(r["generation"]) == 0]
    if not first or "toward_head" not in first[0]:
        return {"toward_rarest": float("nan"), "toward_rarest_beyond": float("nan")}
    rarest = min(first, key=lambda r: (float(r["train_count"]), -int(r["class_index"])))["class_index"]
    row = next(r for r in rows if int(r["generation"]) == generation and r["class_index"] == rarest)
    value, p95 = float(row["toward_head"]), float(row["toward_head_floor_p95"])
    return {"toward_rarest": value,
            "toward_rarest_beyond": float(value > p95) if np.isfinite(value) and np.isfinite(p95) else float("nan")}


def paired(minuend: dict, subtrahend: dict, key: str) -> dict:
    """Mean and 95% CI over seeds of minuend[s][key] - subtrahend[s][key] (seed -> seed_changes), over the seeds
    both finished."""
    return mean_ci([minuend[s][key] - subtrahend[s][key] for s in minuend
                    if minuend[s] is not None and subtrahend.get(s) is not None])


def model_effect(model: dict, perfect: dict, key: str) -> dict:
    """What the model adds: its change of `key` beyond the perfect generator's through the same pipeline, paired by
    seed (seed -> seed_changes for each), with its 95% interval."""
    return paired(model, perfect, key)


def _paired(changes: dict, minuend: str, subtrahend: str, key: str) -> dict:
    """`paired` of two arms of `changes` (arm -> seed -> seed_changes)."""
    return paired(changes.get(minuend, {}), changes.get(subtrahend, {}), key)


def arm_table(out: Path, arms: list[Arm], seeds: list[int], minus: tuple[str, str] | None = None,
              perfect: str = "") -> list[dict]:
    """One row per arm: mean change and 95% CI of head, tail and extinction across seeds (and the last
    generation's head and tail shares), the share of seeds with head up and tail down and of seeds flagged,
    given `minus` the paired (seed by seed) difference of two changes, and given a `perfect` arm the difference
    from it (what the model adds beyond the pipeline)."""
    changes = {arm.name: {s: seed_changes(rf.seed_dir(Path(out) / arm.name, s)) for s in seeds} for arm in arms}
    rows = []
    for arm in arms:
        mine = {s: c for s, c in changes[arm.name].items() if c is not None}
        row = {"arm": arm.name, "label": arm.label or arm.name, "overrides": " ".join(arm.overrides),
               "seeds": len(mine)}
        for key in ("head", "tail", "extinct"):
            ci = mean_ci([c[key] for c in mine.values()])
            row.update({f"{key}_change": ci["mean"], f"{key}_change_low": ci["ci_low"],
                        f"{key}_change_high": ci["ci_high"]})
        # where the shares ended (to read against the real subset's), the rarest class's move toward the head
        for key in ("head_last", "tail_last", "toward_rarest", "toward_mean", "head_absorption", "unrecognisable_last"):
            ci = mean_ci([c[key] for c in mine.values()])
            row.update({key: ci["mean"], f"{key}_low": ci["ci_low"], f"{key}_high": ci["ci_high"]})
        for key in ("head_up_tail_down", "beyond_chance", "toward_rarest_beyond", *FLAGS):
            values = [c[key] for c in mine.values() if np.isfinite(c[key])]
            row[f"{key}_share"] = float(np.mean(values)) if values else float("nan")
        none = {"mean": np.nan, "ci_low": np.nan, "ci_high": np.nan}
        for key in ("head", "tail"):
            if minus:  # named by what is subtracted from what: readers need no sign convention
                pair = [arm.name if side == ARM else side for side in minus]
                ci = _paired(changes, *pair, key) if arm.name not in (*minus, perfect) else none
                column = difference_column(key, minus)
                row.update({column: ci["mean"], f"{column}_low": ci["ci_low"], f"{column}_high": ci["ci_high"]})
            if perfect:  # what the model adds: this arm's change beyond the perfect generator's, paired by seed
                ci = model_effect(changes[arm.name], changes.get(perfect, {}), key) if arm.name != perfect else none
                row.update({f"model_effect_{key}": ci["mean"], f"model_effect_{key}_low": ci["ci_low"],
                            f"model_effect_{key}_high": ci["ci_high"]})
        rows.append(row)
    return rows
