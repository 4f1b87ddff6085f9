"""`vision-collapse attribute`: the config as it is, and for each cause active in it, the same config with that
one cause switched off; the cause's share of the effect is what its arm loses against the full one."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vision_collapse import run_folder as rf
from vision_collapse.config import load_config
from vision_collapse.config.causes import active_causes
from vision_collapse.errors import UserError
from vision_collapse.loop.arms import Arm, arm_table, run_arms

AS_CONFIGURED = "as_configured"  # the arm with every cause of the config on


def attribution_arms(config: Path, overrides: list[str]) -> list[Arm]:
    """The full arm, then one arm per active cause with that cause off."""
    causes = active_causes(load_config(config, overrides))
    if not causes:
        raise UserError(f"{config} switches on none of the causes attribute knows (finite resampling, PCA "
                        "truncation, temperature, guidance, biased labels, curation); there is nothing to attribute")
    return [Arm(AS_CONFIGURED, (), "as configured")] + [
        Arm(f"no_{c.name}", c.off, f"{c.name} off ({' '.join(c.off)})") for c in causes]


def attribute(
    config: Path,
    overrides: list[str],
    seeds: list[int],
    out: Path,  # OUT/<arm>/seed_<s>/ per run, OUT/attribution.csv
    jobs: int,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Run (or resume) every arm over `seeds` and write OUT/attribution.csv; returns its rows."""
    arms = attribution_arms(config, overrides)
    out = Path(out)
    if out.is_dir() and rf.is_run(out):
        raise UserError(f"--out {str(out)!r} holds a run; choose a new folder for the attribution")
    run_arms(config, overrides, arms, seeds, out, jobs, log)
    rows = arm_table(out, arms, seeds, AS_CONFIGURED)
    rf.write_csv(out / rf.ATTRIBUTION, rows)
    return rows
