"""Regenerate the README's generated tables in place, never by hand.

    python scripts/readme_tables.py [--attribution runs/quick_attribution]

Always: the config keys, the column meanings and the cause switches (from the code). With --attribution (the
folder of `vision-collapse attribute configs/quick.yaml --seeds 0-4`): the default's per-seed table (its
as-configured arm and perfect-generator arm) and its attribution table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vision_collapse import run_folder as rf
from vision_collapse.config import causes, doc
from vision_collapse.loop.attribute import AS_CONFIGURED, PERFECT
from vision_collapse.metrics import columns

SEEDS = ("<!-- default-seeds:start -->", "<!-- default-seeds:end -->")
ATTRIBUTION = ("<!-- default-attribution:start -->", "<!-- default-attribution:end -->")


def _flag(row: dict, key: str) -> str:
    """'yes' or 'no' for a 1/0 summary flag."""
    return "yes" if float(row[key]) == 1 else "no"


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
            f"| {label} | {folder.name.removeprefix('seed_')} | {float(a['head_share_calibrated']):.3f} → "
            f"{float(b['head_share_calibrated']):.3f} [{float(b['head_calibrated_low']):.3f}–"
            f"{float(b['head_calibrated_high']):.3f}] | {float(a['tail_share_calibrated']):.3f} → "
            f"{float(b['tail_share_calibrated']):.3f} [{float(b['tail_calibrated_low']):.3f}–"
            f"{float(b['tail_calibrated_high']):.3f}] | {float(b['head_chance_observed']):.3f}: "
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


def ci(row: dict, key: str) -> str:
    """'mean [low, high]' of one attribution column, or '–' where it is not defined."""
    if row[key] in ("", "nan"):
        return "–"
    return f"{float(row[key]):+.3f} [{float(row[key + '_low']):+.3f}, {float(row[key + '_high']):+.3f}]"


def attribution_table(folder: Path) -> str:
    """The default's attribution table, from attribution.csv."""
    lines = ["| arm | head share change | tail share change | extinct change | head up and tail down | head flagged "
             "(level / compounding) | tail flagged (level / compounding) | switching it off took: head, tail "
             "(paired) | beyond the perfect generator: head, tail (paired) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rf.read_table(folder / rf.ATTRIBUTION):
        lines.append(
            f"| {r['label']} | {ci(r, 'head_change')} | {ci(r, 'tail_change')} | {ci(r, 'extinct_change')} | "
            f"{float(r['head_up_tail_down_share']):.0%} | {float(r['head_level_share']):.0%} / "
            f"{float(r['head_compounding_share']):.0%} | {float(r['tail_level_share']):.0%} / "
            f"{float(r['tail_compounding_share']):.0%} | {ci(r, 'head_effect')}, {ci(r, 'tail_effect')} | "
            f"{ci(r, 'model_effect_head')}, {ci(r, 'model_effect_tail')} |")
    return "\n".join([ATTRIBUTION[0], *lines, ATTRIBUTION[1]])


def replace_block(text: str, markers: tuple[str, str], block: str) -> str:
    """`text` with everything from the start marker to the end marker replaced by `block`."""
    start, end = text.index(markers[0]), text.index(markers[1]) + len(markers[1])
    return text[:start] + block + text[end:]


def main() -> None:
    """Rewrite README.md's generated blocks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attribution", type=Path, help="the default's attribution folder (5 seeds)")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    args = parser.parse_args()
    text = args.readme.read_text()
    text = replace_block(text, (doc.START, doc.END), doc.config_table())
    text = replace_block(text, (columns.START, columns.END), columns.columns_tables())
    text = replace_block(text, (causes.START, causes.END), causes.causes_table())
    if args.attribution:
        text = replace_block(text, SEEDS, seeds_table(args.attribution))
        text = replace_block(text, ATTRIBUTION, attribution_table(args.attribution))
    args.readme.write_text(text)
    print(f"rewrote the generated tables of {args.readme}")


if __name__ == "__main__":
    main()
