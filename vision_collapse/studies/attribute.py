"""`vision-collapse attribute`: the config as it is, for each cause active in it the same config with that one
cause switched off (the cause's share of the effect is what its arm loses against the full one), and the same
pipeline through a perfect generator (what the model adds is what the full arm shows beyond it)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig, load_config
from vision_collapse.config.causes import active_causes
from vision_collapse.errors import UserError
from vision_collapse.studies.arms import ARM, Arm, arm_table, run_arms

AS_CONFIGURED = "as_configured"  # the arm with every cause of the config on
TOOK = (AS_CONFIGURED, ARM)  # attribution.csv: the full config's change minus each arm's (what switching it off took)
PERFECT = "perfect_generator"  # the config's pipeline with held-out real images in place of samples
PERFECT_OVERRIDES = ("model.kind=real", "model.guidance_scale=1", "model.temperature=1", "loop.init=scratch")
PERFECT_FRACTION = 0.2  # held out for the perfect generator when the config holds out nothing


def attribution_arms(config: Path, overrides: list[str]) -> list[Arm]:
    """The full arm, then one arm per active cause with that cause off."""
    causes = active_causes(load_config(config, overrides))
    if not causes:
        raise UserError(f"{config} switches on none of the causes attribute knows (finite resampling, PCA "
                        "truncation, temperature, guidance, biased labels, curation); there is nothing to attribute")
    return [Arm(AS_CONFIGURED, (), "as configured")] + [
        Arm(f"no_{c.name}", c.off, f"{c.name} off ({' '.join(c.off)})") for c in causes] + [
        Arm(PERFECT, PERFECT_OVERRIDES, "perfect generator (model.kind=real): the same pipeline, no model error")]


def perfect_twin_config(config: Path, overrides: list[str]) -> ExperimentConfig:
    """The config's pipeline through the perfect generator; one line if the config holds out no images for it."""
    if load_config(config, overrides).data.perfect_fraction <= 0:
        raise UserError(f"--perfect-twin needs held-out images: add data.perfect_fraction={PERFECT_FRACTION} (to "
                        "both runs, so they learn from the same data)")
    return load_config(config, [*overrides, *PERFECT_OVERRIDES])


def shared_overrides(config: Path, overrides: list[str], log: Callable[[str], None]) -> list[str]:
    """The user's overrides, plus a held-out split for the perfect generator when the config has none (every arm
    gets it, so every arm learns from the same data)."""
    if load_config(config, overrides).data.perfect_fraction > 0:
        return list(overrides)
    log(f"data.perfect_fraction={PERFECT_FRACTION} for every arm: the perfect generator's held-out images")
    return [*overrides, f"data.perfect_fraction={PERFECT_FRACTION}"]


def attribute(
    config: Path,
    overrides: list[str],
    seeds: list[int],
    out: Path,  # OUT/<arm>/seed_<s>/ per run, OUT/attribution.csv
    launch,  # how runs start (studies.arms.run_arms): a Launch, an int of local processes, or InProcess
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Run (or resume) every arm over `seeds` and write OUT/attribution.csv; returns its rows."""
    arms = attribution_arms(config, overrides)
    out = Path(out)
    if out.is_dir() and rf.is_run(out):
        raise UserError(f"--out {str(out)!r} holds a run; choose a new folder for the attribution")
    run_arms(config, shared_overrides(config, overrides, log), arms, seeds, out, launch, log)
    rows = arm_table(out, arms, seeds, TOOK, PERFECT)
    rf.write_csv(out / rf.ATTRIBUTION, rows)
    return rows
