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
from vision_collapse.metrics.aggregate import ci_columns, mean_ci, seed_changes
from vision_collapse.studies.arms import ARM, Arm, arm_table, run_arms

UNTREATED = "untreated"
GAVE_BACK = (ARM, UNTREATED)  # remedies.csv: each arm's change minus the untreated arm's (what the remedy gave back)
FLAG_RATE = 0.05  # each seed's chance flag fires this often under the null
# The no-recursion level: the same model and sampler trained every generation on fresh real images only (at the
# chain's training-set size, with its label sampling). A sampler's bias (temperature, guidance) acts afresh each
# generation, so this, not the real subset, is the level no remedy can beat; the chain's drift is read from it.
REFERENCE = Arm("reference", ("loop.strategy=fresh", "loop.real_fraction=1"),
                "reference: trained on fresh real images every generation (no recursion)")
REFERENCE_KEYS = {o.partition("=")[0] for o in REFERENCE.overrides}


def chosen_remedies(only: str | None) -> list[Remedy]:
    """The remedies `--only` names (comma-separated), or all of them."""
    return [remedy_named(n.strip()) for n in only.split(",") if n.strip()] if only else list(REMEDIES)


def remedy_arms(remedies: list[Remedy], reasons: dict[str, str], log: Callable[[str], None] = print) -> list[Arm]:
    """The untreated arm, the reference arm, then one arm per remedy that applies; each one that does not (a
    reason in `reasons`) is skipped with its reason."""
    arms = [Arm(UNTREATED, (), "untreated: the config as it is"), REFERENCE]
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


def check_dose_key(key: str, config: Path, overrides: list[str], log: Callable[[str], None] = print) -> None:
    """Say how a dose on a key the reference arm sets combines with it; refuse one whose values would change
    the reference's own level (one shared reference arm would then be wrong for all but one dose)."""
    if key in REFERENCE_KEYS:
        strategy = load_config(config, overrides).loop.strategy
        log(f"the reference arm keeps {' '.join(REFERENCE.overrides)} whatever --dose {key} is; the dose changes "
            f"only the dose arms" + (" (under loop.strategy=fresh, a dose of loop.real_fraction=1 is the reference "
                                     "itself)" if strategy == "fresh" and key == "loop.real_fraction" else ""))
        return
    if key.startswith(("model.", "train.", "loop.label", "loop.init", "loop.finetune", "loop.generations")):
        raise UserError(f"--dose {key} changes the model or sampler, and so the no-recursion level each dose is read "
                        f"against; run one remedy study per value instead (e.g. vision-collapse remedy CONFIG "
                        f"{key}=VALUE --only ...), or dose a key of the remedy itself such as loop.real_fraction")


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


def real_subset_shares(out: Path, arm: Arm, seeds: list[int]) -> dict:
    """The real subset's calibrated head and tail shares, the mean over the arm's finished seeds (each seed draws
    its own subset): what the remedy and dose tables both read the chains against."""
    baselines = [rf.read_table(d / rf.BASELINE)[0] for d in _finished(out, arm, seeds)]
    return {f"{side}_real": mean_ci([float(b[f"{side}_share_calibrated"]) for b in baselines])["mean"]
            for side in ("head", "tail")}


def with_reference(rows: list[dict], out: Path, arms: list[Arm], seeds: list[int], untreated: str) -> list[dict]:
    """`rows` (one per arm) with the reference arm's last-generation head and tail shares, each arm's tail gap to
    it and `compounding_removed`: per seed, 1 - (arm's tail - reference's) / (untreated's tail - reference's), the
    share of the untreated chain's drift from the no-recursion level that the arm removes (1 none left, 0 none
    removed); means with 95% t intervals over the seeds all three finished, paired by seed."""
    finished = {name: {s: c for s in seeds if (c := seed_changes(rf.seed_dir(out / name, s))) is not None}
                for name in {REFERENCE.name, untreated, *(arm.name for arm in arms)}}  # each seed read once
    ref, base = finished[REFERENCE.name], finished[untreated]
    for row, arm in zip(rows, arms):
        mine = finished[arm.name]
        both = [s for s in mine if s in ref]
        three = [s for s in both if s in base]
        columns = {
            "tail_share_reference": [ref[s]["tail_last"] for s in both],
            "head_share_reference": [ref[s]["head_last"] for s in both],
            "tail_all_reference": [ref[s]["tail_all_last"] for s in both],
            "tail_share_gap_to_reference": [mine[s]["tail_last"] - ref[s]["tail_last"] for s in both],
            "compounding_removed": [compounding_removed(mine[s]["tail_last"], base[s]["tail_last"],
                                                        ref[s]["tail_last"]) for s in three],
            # the same over every sample drawn, junk counted as not the tail: still readable when so few samples
            # are recognised that the shares above are NaN
            "tail_all_gap_to_reference": [mine[s]["tail_all_last"] - ref[s]["tail_all_last"] for s in both],
            "compounding_removed_all": [compounding_removed(mine[s]["tail_all_last"], base[s]["tail_all_last"],
                                                            ref[s]["tail_all_last"]) for s in three],
        }
        for key, values in columns.items():
            row.update(ci_columns(key, mean_ci(values)))
        row["tail_all_last"] = mean_ci([c["tail_all_last"] for c in mine.values()])["mean"]
        row.update(real_subset_shares(out, arm, seeds))
    return rows


def compounding_removed(arm: float, untreated: float, reference: float) -> float:
    """1 - (arm - reference) / (untreated - reference); NaN when the untreated chain did not drift."""
    drift = untreated - reference
    return 1 - (arm - reference) / drift if np.isfinite(drift) and drift != 0 else float("nan")


def dose_table(out: Path, arms: list[Arm], seeds: list[int], key: str) -> list[dict]:
    """One row per dose: the tail share at the last generation (mean, 95% CI), its change,
    the share of seeds whose tail is beyond the level chance chain, and how likely that many flags are under
    the null (above 0.05: the tail is within chance of the real subset)."""
    rows = []
    for arm, row in zip(arms, arm_table(out, arms, seeds)):
        p = flag_p(float(row["tail_level_share"]), int(row["seeds"]))
        rows.append({"key": key, "dose": arm.overrides[-1].partition("=")[2], "arm": arm.name, "label": arm.label,
                     "seeds": row["seeds"],
                     **{k: row[k] for k in ("tail_last", "tail_last_low", "tail_last_high", "tail_change",
                                            "tail_change_low", "tail_change_high", "head_last", "tail_level_share",
                                            "unrecognisable_last")},
                     "tail_flag_p": p, "within_chance": float(p > FLAG_RATE) if np.isfinite(p) else float("nan")})
    return rows


def remedy(
    config: Path,
    overrides: list[str],
    seeds: list[int],
    out: Path,  # OUT/<arm>/seed_<s>/ per run, OUT/remedies.csv (or OUT/dose.csv)
    launch,  # how runs start (studies.arms.run_arms): a Launch, an int of local processes, or InProcess
    only: str | None = None,  # comma-separated remedy names; None: every remedy
    dose: str | None = None,  # KEY=V1,V2,...: one arm per value instead of one per remedy
    log: Callable[[str], None] = print,
    run: bool = True,  # False: run nothing, tabulate the seeds already finished (a study's slices, --tables-only)
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
        check_dose_key(parse_dose(dose)[0], config, overrides, log)
        if run:
            run_arms(config, overrides, [REFERENCE, *arms], seeds, out, launch, log)
        # the first dose (e.g. loop.real_fraction=0) is the untreated chain the drift is measured on
        rows = with_reference(dose_table(out, arms, seeds, parse_dose(dose)[0]), out, arms, seeds, arms[0].name)
        rf.write_csv(out / rf.DOSE, rows)
        return rows
    arms = remedy_arms(remedies, reasons, log)
    if run:
        run_arms(config, overrides, arms, seeds, out, launch, log)
    rows = with_costs(arm_table(out, arms, seeds, GAVE_BACK), out, arms, seeds)
    rows = with_reference(rows, out, arms, seeds, UNTREATED)
    rows = [{**r, "skipped": ""} for r in rows]
    empty = dict.fromkeys(rows[0], float("nan"))  # a skipped remedy's row: its reason, no numbers
    rows += [{**empty, "arm": r.name, "label": r.name, "overrides": " ".join(r.on), "seeds": 0,
              "skipped": reasons[r.name]} for r in remedies if reasons[r.name]]
    rf.write_csv(out / rf.REMEDIES, rows)
    return rows
