"""The one arm runner: several variants ("arms") of one config, each over several seeds, run as jobs of a launcher
or one at a time in this process; and what changed from generation 0 to the last in each, with 95% intervals
across seeds.

Each arm is a multi-seed folder OUT/<arm>/seed_<s>/ of normal runs, so `report`, `plot` and `grid` read it,
and re-running the same command resumes every unfinished seed. `run --seeds` is one arm named '' (OUT/seed_<s>/),
and `run --perfect-twin` two single runs (OUT/<arm>/, no seeds).
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
from vision_collapse.loop.experiment import AfterGeneration, run_experiment
from vision_collapse.metrics.aggregate import FLAGS, ci_columns, mean_ci, model_effect, paired, seed_changes
from vision_collapse.runtime import runtime
from vision_collapse.studies.launch import Job, Launch, add_launch_options, run_jobs
from vision_collapse.studies.multiseed import write_aggregate


@dataclass(frozen=True)
class Arm:
    """One variant of the config."""

    name: str  # its folder under OUT
    overrides: tuple[str, ...] = ()  # KEY=VALUE applied after the config's own overrides
    label: str = ""  # what it is, for tables and plots; the name when empty


@dataclass(frozen=True)
class InProcess:
    """Runs one at a time in this process (`vision-collapse run`): their output streams to the terminal, a finished
    run made with another config is refused unless `force`, and grids and plots are drawn as they go."""

    force: bool = False  # start a run's folder over when it holds another config
    after_generation: AfterGeneration | None = None  # called for each run's generations
    after_aggregate: Callable[[Path], None] | None = None  # called with OUT/<arm> after each aggregate.csv rewrite
    name: str = ""  # the config's name, recorded in each run.json (an arm with a label adds it in brackets)


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


def _job_command(config: Path | None, overrides: list[str], arm: Arm, seed: int | None, folder: Path) -> list[str]:
    """The `vision-collapse run` command line of one arm and seed (None: the config's)."""
    return [sys.executable, "-m", "vision_collapse", "run", *([] if config is None else [str(config)]), *overrides,
            *arm.overrides, *([] if seed is None else [f"seed={seed}"]), "log.plots=false", "--out", str(folder)]


def run_folder(out: Path, arm: Arm, seed: int | None) -> Path:
    """Where one arm's run of `seed` goes: OUT/<arm>/seed_<s>/, or OUT/<arm>/ for a single run (seed None)."""
    return Path(out) / arm.name if seed is None else rf.seed_dir(Path(out) / arm.name, seed)


def _runs_per_arm(seeds: list[int] | None) -> list[int | None]:
    """The seeds each arm runs; [None] (one single run) when `seeds` is None, and none for an empty list."""
    return [None] if seeds is None else list(seeds)


def run_arms(
    config: Path | None,  # None: the built-in defaults
    overrides: list[str],  # the user's KEY=VALUE overrides, shared by every arm
    arms: list[Arm],
    seeds: list[int] | None,  # None: one single run per arm, at the config's seed
    out: Path,
    launch: Launch | int | InProcess,  # how runs start: a launcher's jobs, an int: that many local processes at
    # once, or InProcess: one at a time in this process
    log: Callable[[str], None] = print,
) -> None:
    """Run (or resume) every arm and seed into run_folder(OUT, arm, seed), then write each arm's aggregate.csv."""
    processes = check_arms(config, overrides, arms)
    out = Path(out)
    if isinstance(launch, InProcess):
        _run_here(config, overrides, arms, seeds, out, launch, log)
        return
    todo = [(arm, s) for arm in arms for s in _runs_per_arm(seeds) if not (run_folder(out, arm, s) / rf.DONE).is_file()]
    launch = Launch(jobs=launch) if isinstance(launch, int) else launch
    (out / rf.ARM_LOGS).mkdir(parents=True, exist_ok=True)
    at_once = launch.processes(max(processes.values()))
    log(_to_do(arms, seeds, todo, f"{at_once} at a time" if launch.launcher == "local"
               else "as a SLURM job array (submitit)"))
    todo = [Job("_".join(filter(None, (arm.name, "" if s is None else f"seed_{s}"))),
                _job_command(config, overrides, arm, s, run_folder(out, arm, s)), processes[arm.name])
            for arm, s in todo]
    for arm in arms:
        (out / arm.name).mkdir(parents=True, exist_ok=True)
    failed = run_jobs(todo, out / rf.ARM_LOGS, launch, log)
    for arm in arms:
        if seeds is not None and rf.seed_dirs(out / arm.name):
            _aggregate(out / arm.name, seeds)
    if failed:
        raise UserError(f"{len(failed)} run(s) failed, e.g. {failed[0]}; see {out / rf.ARM_LOGS}, fix it and re-run "
                        "to resume")


def _to_do(arms: list[Arm], seeds: list[int] | None, todo: list, where: str) -> str:
    """The line saying how many runs are left and how they start."""
    return f"{len(arms)} arm(s) x {len(_runs_per_arm(seeds))} seed(s): {len(todo)} run(s) to do, {where}"


def _aggregate(root: Path, seeds: list[int], after: Callable[[Path], None] | None = None) -> None:
    """Rewrite ROOT/aggregate.csv (then call `after` with ROOT), and mark ROOT done once every seed is."""
    write_aggregate(root)
    if after is not None:
        after(root)
    if all((rf.seed_dir(root, s) / rf.DONE).is_file() for s in seeds):
        rf.mark_done(root)


def _run_here(config: Path | None, overrides: list[str], arms: list[Arm], seeds: list[int] | None, out: Path,
              here: InProcess, log: Callable[[str], None]) -> None:
    """run_arms in this process, one run at a time: every rank of a DDP launch runs each run together, and only
    the main one writes the aggregates."""
    rt = runtime()
    runs = [(arm, s, load_config(config, [*overrides, *arm.overrides, *([] if s is None else [f"seed={s}"])]))
            for arm in arms for s in _runs_per_arm(seeds)]
    # a finished run is not entered again, as a job would not be started: a study's kept seed holds only its small
    # files, and stays exactly as kept; one made with another config still gets run_experiment's refusal (or --force)
    todo = [(arm, s) for arm, s, cfg in runs if here.force or not rf.finished_with(run_folder(out, arm, s), cfg)]
    if rt.is_main:
        log(_to_do(arms, seeds, todo, "one at a time in this process"))
    for arm, s, cfg in runs:
        folder = run_folder(out, arm, s)
        if rt.is_main and s is not None:
            log(f"seed {s} -> {folder}")
        if (arm, s) in todo:
            run_experiment(cfg, folder, here.force, log, here.after_generation,
                           f"{here.name} ({arm.label})" if arm.label else here.name)
        if s is not None:
            rt.on_main(lambda: _aggregate(out / arm.name, seeds, here.after_aggregate))


ARM = "arm"  # in arm_table's `minus`: the row's own arm


def difference_column(key: str, minus: tuple[str, str]) -> str:
    """The arm table's column of the paired difference `minus` (minuend, subtrahend; ARM is the row's own arm) of
    the change of `key`: e.g. tail_change_arm_minus_untreated, head_change_as_configured_minus_arm."""
    return f"{key}_change_{minus[0]}_minus_{minus[1]}"


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
            row.update(ci_columns(f"{key}_change", mean_ci([c[key] for c in mine.values()])))
        # where the shares ended (to read against the real subset's), the rarest class's move toward the head
        for key in ("head_last", "tail_last", "toward_rarest", "toward_mean", "head_absorption", "unrecognisable_last"):
            row.update(ci_columns(key, mean_ci([c[key] for c in mine.values()])))
        for key in ("head_up_tail_down", "beyond_chance", "toward_rarest_beyond", *FLAGS):
            values = [c[key] for c in mine.values() if np.isfinite(c[key])]
            row[f"{key}_share"] = float(np.mean(values)) if values else float("nan")
        none = mean_ci([])  # no seeds: NaN mean and interval
        for key in ("head", "tail"):
            if minus:  # named by what is subtracted from what: readers need no sign convention
                pair = [arm.name if side == ARM else side for side in minus]
                ci = _paired(changes, *pair, key) if arm.name not in (*minus, perfect) else none
                row.update(ci_columns(difference_column(key, minus), ci))
            if perfect:  # what the model adds: this arm's change beyond the perfect generator's, paired by seed
                ci = model_effect(changes[arm.name], changes.get(perfect, {}), key) if arm.name != perfect else none
                row.update(ci_columns(f"model_effect_{key}", ci))
        rows.append(row)
    return rows
