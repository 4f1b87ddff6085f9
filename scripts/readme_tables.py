"""Regenerate the generated tables of README.md and the docs pages in place (each block in the one file that holds
its markers), never by hand.

    python scripts/readme_tables.py [--survey runs/survey] [--curated runs/curated_attribution] [--dit runs/dit-digits]
                                    [--remedies results/remedies]

Always: the config keys, the column meanings and the cause switches (from the code). With --survey (the OUT of
scripts/survey.py): the default's per-seed table (configs/quick.yaml is the survey's unconditional diffusion arm at
temperature 0.8) beside the perfect generator's, and the survey's model-effect table. With --curated (the folder of
`vision-collapse attribute configs/curated-gmm.yaml --seeds 0-4`): the curated GMM's per-seed and attribution
tables. The remedy and dose tables always, one row group per study folder of --remedies (default: the committed
results/remedies, kept slice by slice by scripts/study.py), so a study not yet there has no rows. The DiT
table always, from --dit (configs/dit-digits.yaml run with --seeds, and the same with model.kind=real into
FOLDER_perfect), by default from the tables kept in results/dit-digits (scripts/keep_results.py), so a fresh
clone regenerates it with no run folder present. Likewise, from results/ alone: the default's five seeds beside
its perfect generator with the judge before outlier exposure (results/default-judge-before) and with today's
(results/default), and what the recogniser rejects per config (results/recogniser, scripts/recogniser_rates.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vision_collapse import run_folder as rf
from vision_collapse.config import causes, doc, remedies
from vision_collapse.metrics import columns
from vision_collapse.metrics.aggregate import ci_columns, ci_text, paired, seed_changes
from vision_collapse.studies.attribute import AS_CONFIGURED, PERFECT

SEEDS = ("<!-- curated-seeds:start -->", "<!-- curated-seeds:end -->")
ATTRIBUTION = ("<!-- curated-attribution:start -->", "<!-- curated-attribution:end -->")
DEFAULT = ("<!-- default-seeds:start -->", "<!-- default-seeds:end -->")
SURVEY = ("<!-- survey:start -->", "<!-- survey:end -->")
REMEDY_RESULTS = ("<!-- remedy-results:start -->", "<!-- remedy-results:end -->")
DOSE_RESULTS = ("<!-- dose-results:start -->", "<!-- dose-results:end -->")
DIT = ("<!-- dit-digits:start -->", "<!-- dit-digits:end -->")
RESULTS = Path("results")  # each study's small tables, committed (scripts/keep_results.py)
RECOGNISER = ("<!-- recogniser:start -->", "<!-- recogniser:end -->")
TRADEOFF = ("<!-- recogniser-tradeoff:start -->", "<!-- recogniser-tradeoff:end -->")
JUNK_KINDS = ("uniform_noise", "pixel_shuffle", "noise_blend_0.5", "two_class_blend_0.25", "two_class_blend_0.5",
              "two_class_blend_0.75", "gmm_temperature_2")
# The default's five seeds and perfect generator with the judge before outlier exposure and with today's.
JUDGE_BEFORE = ("<!-- default-judge-before:start -->", "<!-- default-judge-before:end -->")
JUDGE_AFTER = ("<!-- default-judge-after:start -->", "<!-- default-judge-after:end -->")
RESULT_TABLES = ((DIT, "dit-digits"), (JUDGE_BEFORE, "default-judge-before"), (JUDGE_AFTER, "default"))
DEFAULT_ARM = ("digits", "diffusion_uncond", "temperature")  # configs/quick.yaml (tests/test_survey.py checks it)
DEFAULT_TWIN = ("digits", "perfect", "none_uncond")


def _flag(row: dict, key: str) -> str:
    """'yes' or 'no' for a 1/0 summary flag."""
    return "yes" if float(row[key]) == 1 else "no"


def shift(first: dict, last: dict, side: str) -> str:
    """'first → last [low–high]': a side's calibrated share at generation 0 and at the last generation, with the
    last one's interval (summary rows)."""
    return (f"{float(first[f'{side}_share_calibrated']):.3f} → {float(last[f'{side}_share_calibrated']):.3f} "
            f"[{float(last[f'{side}_calibrated_low']):.3f}–{float(last[f'{side}_calibrated_high']):.3f}]")


def seed_rows(arm: Path, label: str) -> list[str]:
    """One markdown row per finished seed of an arm: calibrated head and tail, their carried shares against the
    level and compounding chains, and extinction."""
    out = []
    for folder in rf.seed_dirs(arm):
        rows = rf.read_table(folder / rf.SUMMARY)
        if not rows or not (folder / rf.DONE).is_file():
            continue
        a, b = rows[0], rows[-1]
        out.append(
            f"| {label} | {folder.name.removeprefix('seed_')} | {shift(a, b, 'head')} | {shift(a, b, 'tail')} | "
            f"{float(b['head_chance_observed']):.3f}: "
            f"{_flag(b, 'head_beyond_chance')} / {_flag(b, 'head_beyond_compounding')} | "
            f"{float(b['tail_chance_observed']):.3f}: {_flag(b, 'tail_beyond_chance')} / "
            f"{_flag(b, 'tail_beyond_compounding')} | {a['extinct_judged']} → {b['extinct_judged']} |")
    return out


def seeds_table(folder: Path) -> str:
    """The default's per-seed table: the configured pipeline and its perfect-generator twin."""
    header = ["| arm | seed | head share, calibrated, gen 0 → 4 [level band at 4] | tail share, calibrated, gen 0 → 4 "
              "[level band at 4] | carried head "
              "at gen 4: level / compounding flag | carried tail at gen 4: level / compounding flag | extinct "
              "(judge), gen 0 → 4 |", "|---|---|---|---|---|---|---|"]
    body = seed_rows(folder / AS_CONFIGURED, "as configured") + seed_rows(folder / PERFECT, "perfect generator")
    return "\n".join([SEEDS[0], *header, *body, SEEDS[1]])


def default_table(survey: Path) -> str:
    """The default's seeds, each against the perfect generator's same seed under the same pipeline: both changes,
    the four chance flags combined, and whether the seed is beyond both nulls (head up and tail down, flagged by
    the combined chance test, and beyond the perfect generator's change on both sides)."""
    mine, twin = survey.joinpath(*DEFAULT_ARM), survey.joinpath(*DEFAULT_TWIN)
    lines = ["| seed | head share, calibrated, gen 0 → 4 [level band at 4] | tail share, calibrated, gen 0 → 4 [level "
             "band at 4] | extinct (judge), gen 0 → 4 | perfect generator: head, tail change | model effect: head, "
             "tail | chance: combined p at 4 | beyond both nulls |", "|---|---|---|---|---|---|---|---|"]
    for folder in rf.seed_dirs(mine):
        a, b = seed_changes(folder), seed_changes(twin / folder.name)
        if a is None or b is None:
            continue
        rows = rf.read_table(folder / rf.SUMMARY)
        first, last = rows[0], rows[-1]
        head, tail = a["head"] - b["head"], a["tail"] - b["tail"]
        beyond = a["head"] > 0 > a["tail"] and a["beyond_chance"] == 1 and head > 0 > tail
        lines.append(
            f"| {folder.name.removeprefix('seed_')} | {shift(first, last, 'head')} | {shift(first, last, 'tail')} | "
            f"{first['extinct_judged']} → {last['extinct_judged']} | "
            f"{b['head']:+.3f}, {b['tail']:+.3f} | {head:+.3f}, {tail:+.3f} | {float(last['chance_combined_p']):.3f} | "
            f"{'yes' if beyond else 'no'} |")
    return "\n".join([DEFAULT[0], *lines, DEFAULT[1]])


def survey_table(survey: Path) -> str:
    """Per dataset, model and arm of the survey that has a perfect twin (and the perfect generator's own arms): head
    and tail change and the model effect, from survey.csv."""
    lines = ["| dataset | model | arm | seeds | head share change | tail share change | model effect: head | model "
             "effect: tail |", "|---|---|---|---|---|---|---|---|"]
    for table in sorted(survey.glob("*/survey.csv")):
        for r in rf.read_table(table):
            if r["seeds"] != "0" and (r["twin"] or r["model"] == "perfect"):  # the rows with a model effect
                lines.append(f"| {table.parent.name} | {r['model']} | {r['arm']} | {r['seeds']} | "
                             f"{ci_text(r, 'head_change')} | {ci_text(r, 'tail_change')} | "
                             f"{ci_text(r, 'model_effect_head')} | "
                             f"{ci_text(r, 'model_effect_tail')} |")
    return "\n".join([SURVEY[0], *lines, SURVEY[1]])


def attribution_table(folder: Path) -> str:
    """The default's attribution table, from attribution.csv."""
    lines = ["| arm | head share change | tail share change | extinct change | head up and tail down | head flagged "
             "(level / compounding) | tail flagged (level / compounding) | switching it off took: head, tail "
             "(paired) | beyond the perfect generator: head, tail (paired) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rf.read_table(folder / rf.ATTRIBUTION):
        lines.append(
            f"| {r['label']} | {ci_text(r, 'head_change')} | {ci_text(r, 'tail_change')} | {ci_text(r, 'extinct_change')} | "
            f"{float(r['head_up_tail_down_share']):.0%} | {float(r['head_level_share']):.0%} / "
            f"{float(r['head_compounding_share']):.0%} | {float(r['tail_level_share']):.0%} / "
            f"{float(r['tail_compounding_share']):.0%} | {ci_text(r, 'head_change_as_configured_minus_arm')}, "
            f"{ci_text(r, 'tail_change_as_configured_minus_arm')} | "
            f"{ci_text(r, 'model_effect_head')}, {ci_text(r, 'model_effect_tail')} |")
    return "\n".join([ATTRIBUTION[0], *lines, ATTRIBUTION[1]])


def remedy_results(folder: Path) -> str:
    """Per dataset (a folder of `vision-collapse remedy` under FOLDER): each arm's tail and head change, what the
    remedy gave back against the untreated arm (paired by seed), the flags and the cost; skipped remedies with
    their reason."""
    lines = ["| study | arm | seeds | tail share change | gave back to the tail | head share change | gave back to "
             "the head | head, tail at the last generation (real subset, mean over seeds) | reference tail (no "
             "recursion) | compounding removed | unrecognisable at the last generation | tail flagged (level / "
             "compounding) | real images per generation | wall time per seed, median (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    skipped = []
    for table in sorted(folder.glob("*/" + rf.REMEDIES)):
        for r in rf.read_table(table):
            if r["skipped"]:
                skipped.append(f"- {table.parent.name}, `{r['arm']}`: skipped, {r['skipped']}.")
                continue
            lines.append(f"| {table.parent.name} | {r['arm']} | {r['seeds']} | {ci_text(r, 'tail_change')} | "
                         f"{ci_text(r, 'tail_change_arm_minus_untreated')} | {ci_text(r, 'head_change')} | "
                         f"{ci_text(r, 'head_change_arm_minus_untreated')} | "
                         f"{float(r['head_last']):.3f}, {float(r['tail_last']):.3f} "
                         f"({float(r.get('head_real', 'nan')):.3f}, {float(r.get('tail_real', 'nan')):.3f}) | "
                         f"{ci_text(r, 'tail_share_reference')} | {ci_text(r, 'compounding_removed')} | "
                         f"{float(r['unrecognisable_last']):.2f} | "
                         f"{float(r['tail_level_share']):.0%} / {float(r['tail_compounding_share']):.0%} | "
                         f"{float(r['real_per_generation']):.0f} | {float(r['wall_seconds']):.0f} |")
    return "\n".join([REMEDY_RESULTS[0], *lines, "", *skipped, REMEDY_RESULTS[1]])


def dose_results(folder: Path) -> str:
    """Per dataset: the tail share at the last generation per dose, against the real subset's, and the smallest
    dose whose seeds are flagged no more often than chance allows."""
    lines = ["| study | dose | seeds | tail share at the last generation | real subset | reference (no recursion) | "
             "gap to the reference | compounding removed | unrecognisable at the last generation | "
             "over every sample: tail, reference | over every sample: compounding removed | tail flagged (level) | "
             "P(that many flags under the null) | within chance |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    sentences = []
    for table in sorted(folder.glob("*/" + rf.DOSE)):
        rows = rf.read_table(table)
        for r in rows:
            lines.append(f"| {table.parent.name} | `{r['key']}={r['dose']}` | {r['seeds']} | {ci_text(r, 'tail_last')} | "
                         f"{float(r['tail_real']):.3f} | {ci_text(r, 'tail_share_reference')} | "
                         f"{ci_text(r, 'tail_share_gap_to_reference')} | "
                         f"{ci_text(r, 'compounding_removed')} | {float(r['unrecognisable_last']):.2f} | "
                         f"{float(r['tail_all_last']):.3f}, {float(r['tail_all_reference']):.3f} | "
                         f"{ci_text(r, 'compounding_removed_all')} | {float(r['tail_level_share']):.0%} | "
                         f"{float(r['tail_flag_p']):.3f} | {'yes' if float(r['within_chance']) == 1 else 'no'} |")
        within = [r for r in rows if float(r["within_chance"]) == 1]
        sentences.append(f"- {table.parent.name}: " + (
            f"the smallest dose within chance of the real subset is `{within[0]['key']}={within[0]['dose']}`."
            if within else "no dose tested brings the tail back within chance of the real subset."))
    return "\n".join([DOSE_RESULTS[0], *lines, "", *sentences, DOSE_RESULTS[1]])


def chain_table(folder: Path, markers: tuple[str, str]) -> str:
    """A chain over seeds (FOLDER, from `run --seeds`) beside its perfect generator (FOLDER_perfect, the same with
    model.kind=real): per seed, the calibrated tail and head from generation 0 to the last, FID at the samples'
    labels and the unrecognisable share; then the model effect (the chain's change minus the perfect generator's,
    paired by seed) with its 95% interval."""
    twin = folder.with_name(folder.name + "_perfect")
    lines = ["| seed | tail share (calibrated) [last generation's level chance band] "
             "| head share (calibrated) [band] | FID at the samples' labels | unrecognisable, "
             "last generation | perfect generator's tail change |", "|---|---|---|---|---|---|"]
    mine, perfect = {}, {}
    for run in rf.seed_dirs(folder):
        rows, seed = rf.read_table(run / rf.SUMMARY), int(run.name.removeprefix("seed_"))
        mine[seed], perfect[seed] = seed_changes(run), seed_changes(rf.seed_dir(twin, seed))
        if mine[seed] is None:
            continue
        a, b = rows[0], rows[-1]
        other = f"{perfect[seed]['tail']:+.3f}" if perfect[seed] else "–"
        lines.append(f"| {seed} | {shift(a, b, 'tail')} | {shift(a, b, 'head')} | "
                     f"{float(a['fid_at_labels']):.1f} → {float(b['fid_at_labels']):.1f} | "
                     f"{float(b['unrecognisable_share']):.2f} | {other} |")
    effect = {side: paired(mine, perfect, side) for side in ("tail", "head")}
    text = ", ".join(f"{side} {ci_text(ci_columns(side, e), side)}" for side, e in effect.items())
    lines += ["", f"- model effect (the chain's change from generation 0 to the last minus the perfect generator's, "
                  f"paired over {effect['tail']['seeds']} seeds, mean [95% interval]): {text}."]
    return "\n".join([markers[0], *lines, markers[1]])


def recogniser_table(folder: Path) -> str:
    """Per config (FOLDER/<config>/judge.json, from scripts/recogniser_rates.py): the share of unseen real test
    images and of each kind of junk made from them that the recogniser rejects."""
    lines = ["| config | unseen real | " + " | ".join(k.replace("_", " ") for k in JUNK_KINDS) + " |",
             "|---" * (len(JUNK_KINDS) + 2) + "|"]
    for path in sorted(folder.glob("*/" + rf.JUDGE)):
        report = rf.read_json(path)["recogniser"]
        lines.append(f"| {path.parent.name} | {report['held_out_rejected']:.3f} | "
                     + " | ".join(f"{report['junk'][k]['rejected']:.3f}" for k in JUNK_KINDS) + " |")
    return "\n".join([RECOGNISER[0], *lines, RECOGNISER[1]])


def tradeoff_table(folder: Path) -> str:
    """Per config (FOLDER/<config>/tradeoff.csv): the share of unseen real images, 50/50 two-class blends and
    uniform noise rejected at each eval.reject_confidence, the other criteria at their defaults."""
    lines = ["| config | eval.reject_confidence | unseen real rejected | 50/50 blends rejected | uniform noise rejected |",
             "|---|---|---|---|---|"]
    for path in sorted(folder.glob("*/tradeoff.csv")):
        for r in rf.read_table(path):
            lines.append(f"| {path.parent.name} | {float(r['reject_confidence']):g} | {float(r['real_rejected']):.3f} "
                         f"| {float(r['two_class_blend_0.5']):.3f} | {float(r['uniform_noise']):.3f} |")
    return "\n".join([TRADEOFF[0], *lines, TRADEOFF[1]])


def replace_block(text: str, markers: tuple[str, str], block: str) -> str:
    """`text` with everything from the start marker to the end marker replaced by `block`."""
    start, end = text.index(markers[0]), text.index(markers[1]) + len(markers[1])
    return text[:start] + block + text[end:]


class Pages:
    """The Markdown files that hold the generated blocks: each block is rewritten in the one file holding its
    start marker, and only changed files are written back."""

    def __init__(self, paths: list[Path]):
        self.texts = {p: p.read_text() for p in paths}
        self.changed: set[Path] = set()

    def put(self, markers: tuple[str, str], block: str) -> None:
        """Replace the block between `markers` in the file holding them; one line when no file does."""
        holding = [p for p, text in self.texts.items() if markers[0] in text]
        if len(holding) != 1:
            raise SystemExit(f"error: {len(holding)} files hold {markers[0]}; exactly one must")
        new = replace_block(self.texts[holding[0]], markers, block)
        if new != self.texts[holding[0]]:
            self.texts[holding[0]] = new
            self.changed.add(holding[0])

    def write(self) -> list[Path]:
        """Write the changed files back; returns them."""
        for path in sorted(self.changed):
            path.write_text(self.texts[path])
        return sorted(self.changed)


def main() -> None:
    """Rewrite the generated blocks of README.md and the docs pages."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survey", type=Path, help="the survey's folder (scripts/survey.py --out)")
    parser.add_argument("--curated", type=Path, help="the curated GMM's attribution folder (5 seeds)")
    parser.add_argument("--remedies", type=Path, default=RESULTS / "remedies",
                        help="a folder of `vision-collapse remedy` folders, one per study (default: the committed "
                             "results/remedies)")
    parser.add_argument("--dit", type=Path, default=RESULTS / "dit-digits",
                        help="configs/dit-digits.yaml's `run --seeds` folder (its twin: FOLDER_perfect), or its kept "
                             "tables (scripts/keep_results.py); default: the committed results/dit-digits")
    parser.add_argument("--pages", type=Path, nargs="*", default=None,
                        help="the Markdown files holding the blocks (default: README.md and docs/*.md)")
    args = parser.parse_args()
    pages = Pages(args.pages or [Path("README.md"), *sorted(Path("docs").glob("*.md"))])
    pages.put((doc.START, doc.END), doc.config_table())
    pages.put((columns.START, columns.END), columns.columns_tables())
    pages.put((causes.START, causes.END), causes.causes_table())
    pages.put((remedies.START, remedies.END), remedies.remedies_table())
    pages.put(REMEDY_RESULTS, remedy_results(args.remedies))
    pages.put(DOSE_RESULTS, dose_results(args.remedies))
    if args.survey:
        pages.put(DEFAULT, default_table(args.survey))
        pages.put(SURVEY, survey_table(args.survey))
    # The studies kept under results/, each with its perfect generator beside it (FOLDER_perfect).
    for markers, name in RESULT_TABLES:
        folder = args.dit if markers == DIT else RESULTS / name
        if folder.is_dir():
            pages.put(markers, chain_table(folder, markers))
    if (RESULTS / "recogniser").is_dir():
        pages.put(RECOGNISER, recogniser_table(RESULTS / "recogniser"))
        pages.put(TRADEOFF, tradeoff_table(RESULTS / "recogniser"))
    if args.curated:
        pages.put(SEEDS, seeds_table(args.curated))
        pages.put(ATTRIBUTION, attribution_table(args.curated))
    for path in pages.write():
        print(f"rewrote the generated tables of {path}")


if __name__ == "__main__":
    main()
