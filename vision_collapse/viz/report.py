"""RUN/report.html: one self-contained static page that answers "did the minority classes collapse, and why?"
first, then shows the evidence in the order a reader asks for it.

Verdict; caveats; class frequency against chance; per-class quality against its floor; the class x
generation mosaic; per-class cards, rarest first; the tables; the config, folded, last. A multi-seed folder
gets the same page with intervals across seeds; several runs get a comparison page; an `attribute` folder
gets its attribution table and plot.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig, config_to_dict, flatten
from vision_collapse.errors import UserError
from vision_collapse.metrics import columns
from vision_collapse.metrics.classifier import RELIABLE_RECALL
from vision_collapse.viz.cards import class_cards
from vision_collapse.viz.html import details, image, number, page, section, table, transposed
from vision_collapse.viz.verdict import Verdict, run_verdict, write_verdict

FREQUENCY_PLOTS = (("class_frequency", "Class shares of recognised samples by generation"),
                   ("class_chance", "Each class against its own band of neutral drift"),
                   ("chance", "Head and tail share against neutral drift"),
                   ("class_frequency_log", "Calibrated class shares on a log scale: the tail up close"),
                   ("shares", "Head, tail and unrecognisable shares"))
SHOWN_CAVEATS = 4  # caveats shown open; more are folded
QUALITY_PLOTS = (("per_class_fid", "Per-class FID against the real-image floor"),
                 ("fid", "Global FID against the real floor at the same labels"),
                 ("heatmap_fid", "Per-class FID, classes by generations"),
                 ("precision_recall", "Precision, recall, density and coverage"))


def warnings(run: Path) -> list[str]:
    """What a reader should distrust: unreliable judge classes, FIDs at their noise floor, unrecognisable samples."""
    out = []
    judge = rf.read_json(run / rf.JUDGE)
    for name in judge.get("unreliable_classes", []):
        out.append(f"The judge recalls only {judge['per_class_recall'][name]:.2f} of held-out class {name!r} "
                   f"(below {RELIABLE_RECALL}): its frequencies and label fidelity are unreliable.")
    for r in rf.read_table(run / rf.METRICS):
        fid, floor = float(r.get("fid", "nan")), float(r.get("fid_floor_p95", "nan"))
        if math.isfinite(fid) and math.isfinite(floor) and fid <= floor:
            out.append(f"Generation {r['generation']}, class {r['class_name']!r}: FID {fid:.1f} is within the 95th "
                       f"percentile ({floor:.1f}) of unseen real images at the same size; it cannot be told from "
                       "real data.")
    for r in rf.read_table(run / rf.SUMMARY):
        if float(r.get("unrecognisable_share", 0)) > 0.5:
            out.append(f"Generation {r['generation']}: {float(r['unrecognisable_share']):.0%} of samples are "
                       "unrecognisable; class frequencies rest on the rest.")
    return out


def verdict_html(v: Verdict | None) -> str:
    """The verdict section's body: sentences, then the table; each number says which column it comes from."""
    if v is None:
        return "<p>No generation has finished yet.</p>"

    def cell(c) -> str:
        return (f'<td data-column="{c.column}" data-generation="{c.generation}" data-value="{c.value!r}">'
                f"{html.escape(c.text())}</td>")

    head = (f"<tr><th class=label></th><th>generation {v.first_generation}</th><th>generation {v.last_generation}"
            "</th><th>95% band of chance</th><th class=label>reading</th></tr>")
    body = "".join(f"<tr><td class=label>{html.escape(ln.label)}</td>{cell(ln.first)}{cell(ln.last)}"
                   f"<td>{html.escape(ln.band)}</td><td class=label>{html.escape(ln.reading)}</td></tr>"
                   for ln in v.lines)
    sentences = "".join(f"<p>{html.escape(s)}</p>" for s in v.sentences)
    return f'<div class="verdict">{sentences}<table>{head}{body}</table></div>'


def _plots(run: Path, wanted) -> str:
    """The named plots that exist, captioned in words."""
    return "".join(image(run / rf.PLOTS / f"{name}.png", caption) for name, caption in wanted
                   if (run / rf.PLOTS / f"{name}.png").is_file())


def _mosaic(run: Path) -> str:
    """The class x generation mosaic at a size where a sample can be seen, linked to the full-size file."""
    path = run / rf.GRIDS / rf.REPORT_MOSAIC
    if not path.is_file():
        return "<p>(no samples yet)</p>"
    from PIL import Image

    with Image.open(path) as picture:
        width = picture.width
    link = path.relative_to(run.parent if run.name.startswith("seed_") and rf.is_multiseed(run.parent) else run)
    return ('<div class="wide">' + image(path, "Classes by generation: the first samples of each class in every "
                                         "generation (click for the full-size file)", str(link), max(width, 600),
                                         pixelated=True) + "</div>")


def _summary_tables(rows: list[dict]) -> str:
    """summary.csv, one table per column group, generations as columns, meanings as tooltips."""
    if not rows:
        return "<p>(none yet)</p>"
    tips = {c: columns.meaning(c) for c in rows[0]}
    parts = []
    for group in columns.GROUPS:
        mine = [c for c in rows[0] if columns.group_of(c) == group]
        if mine:
            parts.append(f"<h3>{html.escape(group)}</h3>" + transposed(rows, mine, "generation", tips))
    return "".join(parts)


def _metrics_tables(rows: list[dict]) -> str:
    """metrics.csv per generation and class, split into tables of a few columns each, folded."""
    if not rows:
        return ""
    keys = ["generation", "class_name"]
    values = [c for c in rows[0] if c not in keys + ["class_index"]]
    tips = {c: columns.meaning(c, per_class=True) for c in values}
    parts = []
    for start in range(0, len(values), 8):
        chunk = values[start:start + 8]
        parts.append(table(keys + chunk, [[r[k] for k in keys] + [number(r[c]) for c in chunk] for r in rows],
                           tips, label_columns=2))
    return details("metrics.csv: every generation and class", "".join(parts))


def _judge(run: Path) -> str:
    """The judge's held-out quality and per-class recall."""
    judge = rf.read_json(run / rf.JUDGE)
    if not judge:
        return ""
    recall = [[k, f"{v:.3f}"] for k, v in judge["per_class_recall"].items()]
    return (f"<h3>Judge</h3><p>held-out accuracy {judge['heldout_accuracy']:.3f}; {html.escape(judge['note'])}</p>"
            + table(["class", "recall"], recall))


def _config(run: Path) -> str:
    """The keys that differ from the defaults, then the full resolved config one click away."""
    cfg = rf.read_config(run)
    mine, default = flatten(config_to_dict(cfg)), flatten(config_to_dict(ExperimentConfig()))
    changed = [[k, str(v), str(default.get(k, ""))] for k, v in mine.items() if default.get(k) != v]
    single = rf.seed_dirs(run)[0] if rf.is_multiseed(run) else run
    full = details("the full resolved config (config.yaml)", f"<pre>{html.escape((single / rf.CONFIG).read_text())}</pre>")
    body = table(["key", "this run", "default"], changed) if changed else "<p>every key is at its default</p>"
    return details(f"{len(changed)} keys differ from the defaults", body + full)


def _evidence(run: Path, samples: list | None, summary: str) -> list[str]:
    """The sections after the verdict, shared by single runs and multi-seed folders."""
    found = warnings(run) if not rf.is_multiseed(run) else []
    sections = []
    if found:
        items = [f'<p class="warn">{html.escape(w)}</p>' for w in found]
        shown = "".join(items[:SHOWN_CAVEATS])  # the rest folded, so that the evidence stays near the verdict
        rest = details(f"{len(items) - SHOWN_CAVEATS} more", "".join(items[SHOWN_CAVEATS:])) \
            if len(items) > SHOWN_CAVEATS else ""
        sections.append(section("warnings", "Caveats: what to distrust", shown + rest))
    sections += [
        section("frequency", "Class frequency against chance", _plots(run, FREQUENCY_PLOTS)),
        section("quality", "Per-class quality against the real floor", _plots(run, QUALITY_PLOTS)),
        section("mosaic", "Classes by generation", _mosaic(rf.seed_dirs(run)[0] if rf.is_multiseed(run) else run)),
        section("classes", "Class by class, rarest first", class_cards(run, samples)),
        section("tables", "Tables", summary),
        section("config", "Config", _config(run)),
    ]
    return sections


def _flags(row: dict, side: str) -> str:
    """'yes / no': one side's level and compounding flags in a summary row."""
    return " / ".join("yes" if row.get(f"{side}_{k}") == "1" else "no" for k in ("beyond_chance", "beyond_compounding"))


def _seed_table(root: Path) -> str:
    """Per seed: calibrated head and tail at generation 0 and last, whether each is flagged by the level and
    compounding tests, extinct."""
    rows = []
    for single in rf.seed_dirs(root):
        s = rf.read_table(single / rf.SUMMARY)
        if not s:
            continue
        a, b = s[0], s[-1]
        rows.append([f'<a href="{single.name}/{rf.REPORT}">{single.name}</a>'] + [html.escape(x) for x in (
            b["generation"], f"{float(a['head_share_calibrated']):.3f} → {float(b['head_share_calibrated']):.3f}",
            f"{float(a['tail_share_calibrated']):.3f} → {float(b['tail_share_calibrated']):.3f}",
            *(_flags(b, side) for side in ("head", "tail")), f"{b['extinct_labels']} / {b['extinct_judged']}")])
    header = ["seed", "last generation", "head share, calibrated", "tail share, calibrated",
              "head beyond chance (level / compounding)", "tail beyond chance (level / compounding)",
              "extinct (labels / judge)"]
    return table(header, rows, escape=False)


def _aggregate_tables(root: Path) -> str:
    """The run-level rows of aggregate.csv as means, one table per column group."""
    rows = [r for r in rf.read_table(root / rf.AGGREGATE) if r["class_name"] == rf.ALL]
    by_gen: dict[str, dict] = {}
    for r in rows:
        by_gen.setdefault(r["generation"], {"generation": r["generation"]})[r["metric"]] = r["mean"]
    return _summary_tables(list(by_gen.values())) + "<p>Means over seeds; intervals are in aggregate.csv.</p>"


def _samples(run: Path) -> list | None:
    """Every finished generation's samples, for the cards' strips (None when there are none)."""
    from vision_collapse.viz.run_grids import generation_samples

    return generation_samples(run) or None


def _draw(single: Path) -> Verdict | None:
    """Redraw one run's plots and mosaic, write its verdict.md, and return the verdict."""
    from vision_collapse.viz.plots import draw_plots
    from vision_collapse.viz.run_grids import draw_grids

    draw_plots(single)
    if rf.has_samples(rf.generation_dir(single, 0)):
        draw_grids(single, mosaic_name=rf.REPORT_MOSAIC)
    v = run_verdict(single)
    write_verdict(single, v)
    return v


def single_page(run: Path) -> str:
    """The page of one run."""
    parts = [section("verdict", "Verdict", verdict_html(_draw(run)))]
    tables = _summary_tables(rf.read_table(run / rf.SUMMARY)) + _metrics_tables(rf.read_table(run / rf.METRICS))
    parts += _evidence(run, _samples(run), tables + _judge(run))
    return page(f"vision_collapse run: {run.name}", "".join(parts))


def multiseed_page(root: Path) -> str:
    """The page of a multi-seed folder, each seed's own page written beside it."""
    from vision_collapse.viz.plots import draw_plots

    for single in rf.seed_dirs(root):
        rf.atomic_write_text(single / rf.REPORT, single_page(single))
    draw_plots(root)
    v = run_verdict(root)
    write_verdict(root, v)
    parts = [section("verdict", "Verdict", verdict_html(v)),
             section("seeds", "Seed by seed", _seed_table(root))]
    first = rf.seed_dirs(root)[0]
    parts += _evidence(root, _samples(first), _aggregate_tables(root))
    return page(f"vision_collapse run: {root.name}, {len(rf.seed_dirs(root))} seeds", "".join(parts))


def write_report(run: Path) -> Path:
    """Draw the plots, the mosaic and the verdict, then write RUN/report.html (an `attribute` or `remedy` folder:
    its page); returns its path."""
    from vision_collapse.viz.report_compare import attribution_page, is_attribution
    from vision_collapse.viz.report_remedy import is_remedy, remedy_page

    run = Path(run)
    if is_attribution(run):
        text = attribution_page(run)
    elif is_remedy(run):
        text = remedy_page(run)
    else:
        rf.single_runs(run)  # a one-line error for a folder that holds no run
        text = multiseed_page(run) if rf.is_multiseed(run) else single_page(run)
    rf.atomic_write_text(run / rf.REPORT, text)
    return run / rf.REPORT


def write_comparison(runs: list[Path], out: Path | None) -> Path:
    """Write one page comparing `runs` to `out` (default: compare.html beside them); returns its path."""
    import os

    from vision_collapse.viz.report_compare import compare_page

    for run in runs:
        rf.single_runs(run)
    out = Path(out) if out else Path(os.path.commonpath([Path(r).resolve().parent for r in runs])) / rf.COMPARISON
    if out.is_dir():
        raise UserError(f"--out {str(out)!r} is a folder; give the comparison page's file name, e.g. compare.html")
    rf.atomic_write_text(out, compare_page([Path(r) for r in runs]))
    return out
