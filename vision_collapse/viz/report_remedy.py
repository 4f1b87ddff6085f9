"""The page of a `vision-collapse remedy` folder: what each remedy gave back against the untreated arm and what
it cost, the dose curve when there is one, and each arm's verdict."""

from __future__ import annotations

from pathlib import Path

from vision_collapse import run_folder as rf
from vision_collapse.metrics.aggregate import ci_text
from vision_collapse.viz.html import image, page, section, table
from vision_collapse.viz.report_compare import arm_verdicts


def is_remedy(folder: Path) -> bool:
    """Whether `folder` was written by `vision-collapse remedy` (its remedies or its dose arms)."""
    folder = Path(folder)
    return ((folder / rf.REMEDIES).is_file() or (folder / rf.DOSE).is_file()) and not rf.is_run(folder)


def _remedy_section(rows: list[dict]) -> str:
    """The remedy table: change, what it gave back (arm minus untreated, paired by seed) and cost, per arm."""
    header = ["arm", "seeds", "head change", "tail change", "extinct change", "tail flagged (level / compounding)",
              "rarest class toward the head", "gave back to the tail", "and to the head", "gap to the reference",
              "compounding removed", "real images per generation", "wall time per seed, median (s)"]
    body = []
    for r in rows:
        if r["skipped"]:
            body.append([r["arm"], "0", f"skipped: {r['skipped']}"] + [""] * (len(header) - 3))
            continue
        effect = [ci_text(r, k) for k in ("tail_change_arm_minus_untreated", "head_change_arm_minus_untreated")]
        body.append([r["label"], r["seeds"], ci_text(r, "head_change"), ci_text(r, "tail_change"),
                     ci_text(r, "extinct_change"),
                     f"{float(r['tail_level_share']):.0%} / {float(r['tail_compounding_share']):.0%}",
                     ci_text(r, "toward_rarest"), *effect, ci_text(r, "tail_share_gap_to_reference"),
                     ci_text(r, "compounding_removed"),
                     f"{float(r['real_per_generation']):.0f}", f"{float(r['wall_seconds']):.0f}"])
    return section("remedies", "What each remedy gave back",
                   "<p>The config as it is (untreated) and with each remedy that applies to it switched on. Changes "
                   "are calibrated shares from generation 0 to the last, mean [95% interval] over seeds; what a "
                   "remedy gave back is its arm's change minus the untreated arm's, paired by seed; flags are the "
                   "share of seeds beyond the null twin (5% under the null); the cost is the real images each later "
                   "generation trains on and the wall time of a seed. The reference arm trains every generation on fresh "
                   "real images only (no recursion): the level this sampler gives without compounding; compounding "
                   "removed is the share of the untreated arm's last-generation tail drift from it that an arm "
                   "removes, paired by seed.</p>" + table(header, body))


def _dose_section(folder: Path, rows: list[dict]) -> str:
    """The dose table and plot."""
    header = ["dose", "seeds", "tail share, last generation", "real subset", "reference (no recursion)",
              "gap to the reference", "compounding removed", "tail flagged (level)", "P(that many flags | null)",
              "within chance"]
    body = [[f"{r['key']}={r['dose']}", r["seeds"], ci_text(r, "tail_last"), f"{float(r['tail_real']):.3f}",
             ci_text(r, "tail_share_reference"), ci_text(r, "tail_share_gap_to_reference"),
             ci_text(r, "compounding_removed"),
             f"{float(r['tail_level_share']):.0%}", f"{float(r['tail_flag_p']):.3f}",
             "yes" if float(r["within_chance"]) == 1 else "no"] for r in rows]
    plot = image(folder / rf.DOSE_PLOT, "tail share against the dose") if (folder / rf.DOSE_PLOT).is_file() else ""
    return section("dose", "Dose", "<p>Shares are calibrated, over recognised samples. The reference arm is the "
                   "same model and sampler trained every generation on fresh real images only: the level the "
                   "sampler alone gives. Compounding removed: per seed, 1 - (dose - reference) / (first dose - "
                   "reference) at the last generation (1: no compounding left). Within chance: no more seeds "
                   "flagged beyond the level chance chain than a 5% flag gives at p = 0.05 (exact binomial).</p>"
                   + table(header, body) + plot)


def remedy_page(folder: Path) -> str:
    """The whole page of a remedy folder."""
    folder = Path(folder)
    remedies, dose = rf.read_table(folder / rf.REMEDIES), rf.read_table(folder / rf.DOSE)
    parts = []
    if remedies:
        parts.append(_remedy_section(remedies))
        if (folder / rf.REMEDIES_PLOT).is_file():
            parts.append(section("plot", "Each arm's change", image(folder / rf.REMEDIES_PLOT, "head and tail share "
                                                                     "change per arm, with 95% intervals")))
    if dose:
        parts.append(_dose_section(folder, dose))
    parts.append(arm_verdicts(folder, [r for r in remedies if not r["skipped"]] + dose))
    return page(f"vision_collapse remedies: {folder.name}", "".join(parts))
