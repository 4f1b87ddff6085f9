"""`vision-collapse remedy`: the config as it is (the untreated arm) and, for each remedy that applies to it, the
same config with that remedy switched on, over several seeds; what each remedy gave back (its arm's change
minus the untreated arm's, paired by seed) and what it cost. `--dose` instead runs one key at several values.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import stats

from vision_collapse import run_folder as rf
from vision_collapse.config import load_config
from vision_collapse.config.remedies import REMEDIES, Remedy, remedy_named, why_not
from vision_collapse.errors import UserError
from vision_collapse.loop.arms import Arm, arm_table, run_arms
from vision_collapse.metrics.aggregate import mean_ci

UNTREATED = "untreated"
FLAG_RATE = 0.05  # each seed's chance flag fires this often under the null


def chosen_remedies(only: str | None) -> list[Remedy]:
    """The remedies `--only` names (comma-separated), or all of them."""
    return [remedy_named(n.strip()) for n in only.split(",") if n.strip()] if only else list(REMEDIES)


def remedy_arms(remedies: list[Remedy], reasons: dict[str, str], log: Callable[[str], None] = print) -> list[Arm]:
    """The untreated arm, then one arm per remedy that applies; each one that does not (a reason in `reasons`) is
    skipped with its reason."""
    arms = [Arm(UNTREATED, (), "untreated: the config as it is")]
    for remedy in remedies:
        reason = reasons[remedy.name]
        if reason:
            log(f"skipping {remedy.name}: {reason}")
        else:
            arms.append(Arm(remedy.name, remedy.on, f"{remedy.name} ({' '.join(remedy.on)})"))
    return arms


def parse_dose(text: str) -> tuple[str, list[str]]:
    """KEY=V1,V2,... as (key, values); one line when it is not of that form."""
    key, sep, values = text.partition("=")
    parts = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key.strip() or len(parts) < 2:
        raise UserError(f"--dose {text!r} must be KEY=V1,V2,... with at least two values, e.g. "
                        "--dose loop.real_fraction=0,0.05,0.1,0.2,0.5")
    return key.strip(), parts


def dose_arms(config: Path, overrides: list[str], dose: str, remedies: list[Remedy]) -> list[Arm]:
    """One arm per dose value: the `remedies`' switches (those --only names) with KEY set to the value. An arm
    that is a remedy's own switch is that remedy's arm, so the two share their runs."""
    key, values = parse_dose(dose)
    arms = []
    for value in values:
        base = [o for r in remedies for o in r.on if o.partition("=")[0] != key]
        arm_overrides = (*base, f"{key}={value}")
        load_config(config, [*overrides, *arm_overrides])  # a bad key or value: one line now, before any run
        same = [r for r in remedies if set(r.on) == set(arm_overrides)]
        name = same[0].name if len(remedies) == 1 and same else f"dose_{re.sub(r'[^0-9A-Za-z.+-]', '_', value)}"
        arms.append(Arm(name, arm_overrides, f"{key}={value}"))
    return arms


def seed_cost(run: Path) -> dict:
    """One seed's cost: real images in each generation's training set (mean over generations >= 1; generation 0
    is the real subset) and the wall time of every generation's training, sampling and evaluation."""
    rows = rf.read_table(run / rf.SUMMARY)
    later = [float(r["real_fraction"]) * float(r["train_size"]) for r in rows[1:]]
    seconds = sum(float(r[k]) for r in rows for k in ("train_seconds", "sample_seconds", "eval_seconds"))
    return {"real_per_generation": float(np.mean(later)) if later else float("nan"), "wall_seconds": seconds}


def _finished(out: Path, arm: Arm, seeds: list[int]) -> list[Path]:
    """The arm's finished seed folders."""
    folders = [rf.seed_dir(out / arm.name, s) for s in seeds]
    return [d for d in folders if (d / rf.DONE).is_file()]


def with_costs(rows: list[dict], out: Path, arms: list[Arm], seeds: list[int]) -> list[dict]:
    """`rows` (arm_table's) with each arm's cost over its finished seeds: the mean of real images per generation
    and the median wall time (a seed slowed by a busy machine does not move a median)."""
    for row, arm in zip(rows, arms):
        costs = [seed_cost(d) for d in _finished(out, arm, seeds)]
        for key, middle in (("real_per_generation", np.mean), ("wall_seconds", np.median)):
            row[key] = float(middle([c[key] for c in costs])) if costs else float("nan")
    return rows


def flag_p(share: float, seeds: int) -> float:
    """P(at least this many of `seeds` flagged) when each is flagged with probability FLAG_RATE: how surprising
    the flags are under the null (exact binomial)."""
    if not seeds or not np.isfinite(share):
        return float("nan")
    return float(stats.binom.sf(round(share * seeds) - 1, seeds, FLAG_RATE))


def dose_table(out: Path, arms: list[Arm], seeds: list[int], key: str) -> list[dict]:
    """One row per dose: the tail share at the last generation (mean, 95% CI), the real subset's, its change,
    the share of seeds whose tail is beyond the level chance chain, and how likely that many flags are under
    the null (above 0.05: the tail is within chance of the real subset)."""
    rows = []
    for arm, row in zip(arms, arm_table(out, arms, seeds, arms[0].name)):
        real = [float(rf.read_table(d / rf.BASELINE)[0]["tail_share_calibrated"]) for d in _finished(out, arm, seeds)]
        p = flag_p(float(row["tail_level_share"]), int(row["seeds"]))
        rows.append({"key": key, "dose": arm.overrides[-1].partition("=")[2], "arm": arm.name, "label": arm.label,
                     "seeds": row["seeds"],
                     **{k: row[k] for k in ("tail_last", "tail_last_low", "tail_last_high", "tail_change",
                                            "tail_change_low", "tail_change_high", "head_last", "tail_level_share")},
                     "tail_real": mean_ci(real)["mean"], "tail_flag_p": p, "within_chance": float(p > FLAG_RATE)
                     if np.isfinite(p) else float("nan")})
    return rows


def remedy(
    config: Path,
    overrides: list[str],
    seeds: list[int],
    out: Path,  # OUT/<arm>/seed_<s>/ per run, OUT/remedies.csv (or OUT/dose.csv)
    launch,  # a loop.launch.Launch, or an int: that many local processes at once
    only: str | None = None,  # comma-separated remedy names; None: every remedy
    dose: str | None = None,  # KEY=V1,V2,...: one arm per value instead of one per remedy
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Run (or resume) the arms and write OUT/remedies.csv (or OUT/dose.csv); returns its rows."""
    remedies = chosen_remedies(only)
    out = Path(out)
    if out.is_dir() and rf.is_run(out):
        raise UserError(f"--out {str(out)!r} holds a run; choose a new folder for the remedies")
    if dose:
        remedies = remedies if only else []  # without --only the dose acts on the config as it is
    reasons = {r.name: why_not(r, config, overrides) for r in remedies}  # '' where the remedy applies
    if dose:
        for r in remedies:
            if reasons[r.name]:
                raise UserError(f"--dose on top of {r.name}, which does not apply here: {reasons[r.name]}")
        arms = dose_arms(config, overrides, dose, remedies)
        run_arms(config, overrides, arms, seeds, out, launch, log)
        rows = dose_table(out, arms, seeds, parse_dose(dose)[0])
        rf.write_csv(out / rf.DOSE, rows)
        return rows
    arms = remedy_arms(remedies, reasons, log)
    run_arms(config, overrides, arms, seeds, out, launch, log)
    rows = with_costs(arm_table(out, arms, seeds, UNTREATED, added=True), out, arms, seeds)
    rows = [{**r, "skipped": ""} for r in rows]
    empty = dict.fromkeys(rows[0], float("nan"))  # a skipped remedy's row: its reason, no numbers
    rows += [{**empty, "arm": r.name, "label": r.name, "overrides": " ".join(r.on), "seeds": 0,
              "skipped": reasons[r.name]} for r in remedies if reasons[r.name]]
    rf.write_csv(out / rf.REMEDIES, rows)
    return rows
