"""The web-scrape loop under each provenance filter, over several seeds: how far does each filter hold off
collapse, and how good is it at finding generated images?

    python scripts/scrape_filters.py [--config configs/scrape.yaml] [--seeds 0-2] [--jobs 2]
                                     [--out runs/scrape_filters] [--write docs/web-scrape.md]

Arms run as parallel processes into OUT/<arm>/seed_<s>/ and resume when re-run. The table gives, per filter,
the mean change of the calibrated head and tail shares from generation 0 to the last with 95% t intervals,
the judge's extinct classes, the head change against the oracle's paired by seed (what lost provenance adds),
and, averaged over generations 1 .. last and seeds, the filter's recall and
precision on generated images, the real images it discarded, and the generated share of what was trained on.
With --write, the table replaces the block between <!-- scrape-filters:start --> and <!-- scrape-filters:end -->.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vision_collapse import run_folder as rf
from vision_collapse.metrics.aggregate import ci_text
from vision_collapse.studies.arms import ARM, Arm, add_arm_options, arm_table, difference_column, run_arms
from vision_collapse.studies.launch import launch_from_args
from vision_collapse.studies.multiseed import parse_seeds

ARMS = [
    Arm("none", ("loop.filter=none",), "none"),
    Arm("tag", ("loop.filter=tag", "loop.tag_survival=0.5"), "tag, half of the tags survive"),
    Arm("detector", ("loop.filter=detector",), "detector at 5% false positives"),
    Arm("watermark", ("loop.filter=watermark",), "watermark"),
    Arm("watermark_jpeg", ("loop.filter=watermark", "loop.watermark_attack=jpeg:75"), "watermark, re-saved as JPEG 75"),
    Arm("oracle", ("loop.filter=oracle",), "oracle (true provenance)"),
]
START, END = "<!-- scrape-filters:start -->", "<!-- scrape-filters:end -->"
WEB = ("filter_recall", "filter_precision", "real_discarded", "leaked_synthetic_share")


def web_means(folder: Path, seeds: list[int]) -> dict[str, float]:
    """Each web column's mean over generations 1 .. last and over the finished seeds."""
    values: dict[str, list[float]] = {k: [] for k in WEB}
    for s in seeds:
        run = rf.seed_dir(folder, s)
        if (run / rf.DONE).is_file():
            for row in rf.read_table(run / rf.SUMMARY)[1:]:
                for k in WEB:
                    values[k].append(float(row[k]))
    return {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in values.items()}


def against_oracle(row: dict) -> str:
    """This arm's head change minus the oracle's, seed by seed, with its interval ('–' for the oracle)."""
    return ci_text(row, difference_column("head", (ARM, "oracle")))


def markdown(rows: list[dict], web: dict[str, dict], command: str) -> str:
    """The comparison table between its markers."""
    lines = [START, "", f"Made by `{command}`.", "",
             "| filter | seeds | head share change [95% CI] | tail share change [95% CI] | extinct (judge) change | "
             "head change against the oracle's, paired by seed | recall | precision | real discarded | "
             "generated share trained on |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        w = web[r["arm"]]
        if not r["seeds"]:
            lines.append(f"| {r['label']} | 0 | not run yet: re-run the command to resume |" + " |" * 7)
            continue
        lines.append(f"| {r['label']} | {r['seeds']} | {ci_text(r, 'head_change')} | {ci_text(r, 'tail_change')} | "
                     f"{ci_text(r, 'extinct_change')} | {against_oracle(r)} | "
                     + " | ".join(f"{w[k]:.2f}" if np.isfinite(w[k]) else "–" for k in WEB) + " |")
    return "\n".join(lines + ["", END])


def main() -> None:
    """Run every filter's arm, print the table and optionally write it into a Markdown file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("configs/scrape.yaml"))
    add_arm_options(parser, "0-2", "runs/scrape_filters")
    parser.add_argument("--write", type=Path, help="replace the table's block in this Markdown file")
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)
    if not args.tables_only:
        run_arms(args.config, [], ARMS, seeds, args.out, launch_from_args(args))
    rows = arm_table(args.out, ARMS, seeds, (ARM, "oracle"))
    web = {arm.name: web_means(args.out / arm.name, seeds) for arm in ARMS}
    text = markdown(rows, web, f"python scripts/scrape_filters.py --seeds {args.seeds}")
    print(text)
    if args.write:
        page = args.write.read_text()
        if START not in page or END not in page:
            raise SystemExit(f"error: {args.write} has no {START} ... {END} block to replace")
        args.write.write_text(page[:page.index(START)] + text + page[page.index(END) + len(END):])


if __name__ == "__main__":
    main()
