"""The report's per-class cards, rarest class first: share, quality and diversity against their floors, and
a strip of samples per generation."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from vision_collapse import run_folder as rf
from vision_collapse.viz.grid import filmstrip
from vision_collapse.viz.html import pil_image, table

STRIP = 8  # samples per generation in a card's strip
CARD_WIDTH = 500  # CSS pixels of a card's strip


def _value(rows: dict, generation: int, class_index: int, column: str) -> float:
    """One per-class value, NaN when missing."""
    try:
        return float(rows.get((generation, class_index), {}).get(column, "nan"))
    except ValueError:
        return float("nan")


def per_class_values(run: Path) -> tuple[dict, list[int], list[str], bool]:
    """({(generation, class): {column: value}}, generations, class names, whether values are means over seeds).

    A single run reads metrics.csv; a multi-seed folder reads aggregate.csv's means with '<column>_low/_high'
    holding the 95% interval across seeds."""
    if rf.is_multiseed(run):
        rows: dict = {}
        for r in rf.read_table(run / rf.AGGREGATE):
            if int(r["class_index"]) >= 0:
                cell = rows.setdefault((int(r["generation"]), int(r["class_index"])), {"class_name": r["class_name"]})
                cell.update({r["metric"]: r["mean"], f"{r['metric']}_low": r["ci_low"],
                             f"{r['metric']}_high": r["ci_high"]})
        multi = True
    else:
        rows = {(int(r["generation"]), int(r["class_index"])): r for r in rf.read_table(run / rf.METRICS)
                if int(r["class_index"]) >= 0}
        multi = False
    gens = sorted({g for g, _ in rows})
    names = [n for _, n in sorted({(c, r["class_name"]) for (_, c), r in rows.items()})]
    return rows, gens, names, multi


def _share(rows: dict, g: int, c: int, multi: bool, band: dict | None) -> str:
    """The calibrated share, with its 95% interval across seeds, or (one seed) with the flag of its chance row."""
    v = _value(rows, g, c, "gen_freq_calibrated")
    if not np.isfinite(v):
        return "n/a"
    if multi:
        return f"{v:.3f} [{_value(rows, g, c, 'gen_freq_calibrated_low'):.3f}, " \
               f"{_value(rows, g, c, 'gen_freq_calibrated_high'):.3f}]"
    flag = " *" if band and band["beyond"] == "1" else ""
    return f"{v:.3f}{flag}"


def _against(value: float, floor: float, digits: int = 1) -> str:
    """'value (floor)'."""
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f} ({floor:.{digits}f})" if np.isfinite(floor) else f"{value:.{digits}f}"


def class_cards(run: Path, samples: list | None) -> str:
    """The cards of every class, rarest in the real subset first; `samples` are LabelledImages per generation
    (of the run, or of a multi-seed folder's first seed) for the strips, or None to leave them out."""
    rows, gens, names, multi = per_class_values(run)
    if not gens:
        return "<p>(no finished generation yet)</p>"
    real = np.array([_value(rows, gens[0], c, "train_count") for c in range(len(names))])
    real = real / real.sum() if real.sum() > 0 else real
    # Each class's tracked share against the level chain (Holm-corrected across classes), keyed by class name.
    chance = {} if multi else {(int(r["generation"]), r["quantity"]): r for r in rf.read_table(run / rf.CHANCE)
                               if r.get("test", "level") == "level" and r.get("share", "tracked") == "tracked"}
    cards = []
    for c in np.argsort(real, kind="stable"):
        c = int(c)
        header = ["generation", "calibrated share", "FID (floor p95)", "toward head (floor p95)",
                  "Vendi (floor p05)", "memorised", "CAS"]
        body = [[str(g), _share(rows, g, c, multi, chance.get((g, names[c]))),
                 _against(_value(rows, g, c, "fid"), _value(rows, g, c, "fid_floor_p95")),
                 _against(_value(rows, g, c, "toward_head"), _value(rows, g, c, "toward_head_floor_p95"), 2),
                 _against(_value(rows, g, c, "vendi"), _value(rows, g, c, "vendi_floor_p05"), 2),
                 _against(_value(rows, g, c, "memorised_share"), float("nan"), 2),
                 _against(_value(rows, g, c, "cas"), float("nan"), 2)] for g in gens]
        last = gens[-1]
        carried = _value(rows, last, c, "sample_count")
        gone = " — extinct by labels" if carried == 0 else ""
        title = f"{names[c]} · real share {real[c]:.3f}{gone}"
        strip = ""
        if samples:
            picture = filmstrip(samples, c, STRIP)
            strip = pil_image(picture, f"{names[c]}: the first {STRIP} samples per generation" +
                              (" (first seed)" if multi else ""), width=min(CARD_WIDTH, max(picture.width, 260)))
        note = ("* its tracked share (carried labels, or recognised judgements) beyond chance from the real "
                "subset, Holm-corrected across classes. " if not multi else "mean [95% interval] over seeds. ") + \
            "Floors: unseen real images at the same n. Toward head: 0 at the class's own real mean, 1 at the " \
            "head's (judge features)."
        cards.append(f'<div class="card"><h3>{html.escape(title)}</h3>{table(header, body)}'
                     f'<p style="font-size:11px;margin:0">{html.escape(note)}</p>{strip}</div>')
    return f'<div class="cards">{"".join(cards)}</div>'
