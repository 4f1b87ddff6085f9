"""RUN/report.html: one self-contained static page (config, judge, tables, plots, grids, warnings).

Every picture is embedded as a data URI, so the page opens from disk in any browser with no server and no
network.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from vision_collapse import run_folder as rf
from vision_collapse.metrics.classifier import RELIABLE_RECALL

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee;margin:4px 0}pre{background:#f7f7f7;padding:8px}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:6px 10px;margin:4px 0}"""
# After load, record how many embedded pictures decoded, so a headless browser test can check them all.
CHECK = """<script>window.addEventListener('load',()=>{const i=[...document.images];
document.body.dataset.images=i.length;document.body.dataset.decoded=i.filter(x=>x.naturalWidth>0).length;});</script>"""


def _img(path: Path, alt: str) -> str:
    """An <img> with the file embedded."""
    mime = {"png": "image/png", "gif": "image/gif", "svg": "image/svg+xml"}[path.suffix[1:]]
    data = base64.b64encode(path.read_bytes()).decode()
    caption = html.escape(alt)
    return f'<figure><img alt="{caption}" src="data:{mime};base64,{data}"><figcaption>{caption}</figcaption></figure>'


def _table(rows: list[dict], columns: list[str] | None = None) -> str:
    """An HTML table of CSV rows, numbers at 4 significant digits."""
    if not rows:
        return "<p>(none yet)</p>"
    columns = columns or list(rows[0])

    def cell(v: str) -> str:
        try:
            return f"{float(v):.4g}"
        except ValueError:
            return html.escape(v)

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def warnings(run: Path) -> list[str]:
    """What a reader should distrust: unreliable judge classes, FIDs at their noise floor, unrecognisable samples."""
    out = []
    judge = rf.read_json(run / rf.JUDGE)
    for name in judge.get("unreliable_classes", []):
        out.append(f"The judge recalls only {judge['per_class_recall'][name]:.2f} of held-out class {name!r} "
                   f"(below {RELIABLE_RECALL}): its frequencies and label fidelity are unreliable.")
    for r in rf.read_table(run / rf.METRICS):
        fid, floor = float(r.get("fid", "nan")), float(r.get("fid_floor_p95", "nan"))
        if np.isfinite(fid) and np.isfinite(floor) and fid <= floor:
            out.append(f"Generation {r['generation']}, class {r['class_name']!r}: FID {fid:.1f} is within the 95th "
                       f"percentile ({floor:.1f}) of unseen real images at the same size; it cannot be told from "
                       "real data.")
    for r in rf.read_table(run / rf.SUMMARY):
        for side in ("head", "tail"):
            if r.get(f"{side}_beyond_chance") == "1":
                out.append(f"Generation {r['generation']}: the {side} share lies outside the 95% band of neutral "
                           f"drift (p = {float(r[f'{side}_chance_p']):.3f}); chance alone rarely moves it this far.")
        if float(r.get("unrecognisable_share", 0)) > 0.5:
            out.append(f"Generation {r['generation']}: {float(r['unrecognisable_share']):.0%} of samples are "
                       "unrecognisable; class frequencies rest on the rest.")
    return out


def _single_run_sections(run: Path) -> list[str]:
    """Judge quality, summary table, warnings, plots and grids of one run."""
    parts = []
    judge = rf.read_json(run / rf.JUDGE)
    if judge:
        recall = [{"class": k, "recall": str(v)} for k, v in judge["per_class_recall"].items()]
        parts.append(f"<h2>Judge</h2><p>held-out accuracy {judge['heldout_accuracy']:.3f}; "
                     f"{html.escape(judge['note'])}</p>" + _table(recall))
    found = warnings(run)
    parts.append("<h2>Warnings</h2>" + ("".join(f'<p class="warn">{html.escape(w)}</p>' for w in found)
                                         or "<p>none</p>"))
    parts.append("<h2>Summary</h2>" + _table(rf.read_table(run / rf.SUMMARY)))
    parts.append("<h2>Plots</h2>" + "".join(_img(p, p.stem) for p in sorted((run / rf.PLOTS).glob("*.png"))))
    grids = [run / rf.GRIDS / rf.MOSAIC] + [rf.generation_dir(run, g) / rf.GRID for g in rf.finished_generations(run)]
    parts.append("<h2>Grids</h2>" + "".join(_img(p, f"{p.parent.name}/{p.name}") for p in grids if p.is_file()))
    return parts


def write_report(run: Path) -> Path:
    """Draw the plots and the mosaic, then write RUN/report.html; returns its path."""
    from vision_collapse.viz.plots import draw_plots
    from vision_collapse.viz.run_grids import draw_grids

    run = Path(run)
    singles = rf.single_runs(run)
    for single in singles:
        draw_plots(single)
        if rf.has_samples(rf.generation_dir(single, 0)):
            draw_grids(single)
    parts = [f"<h1>vision_collapse run: {html.escape(run.name)}</h1>"]
    config = (singles[0] / rf.CONFIG).read_text()
    parts.append(f"<h2>Config</h2><pre>{html.escape(config)}</pre>")
    if rf.is_multiseed(run):
        draw_plots(run)
        rows = [r for r in rf.read_table(run / rf.AGGREGATE) if r["class_name"] == rf.ALL]
        parts.append(f"<h2>Across {len(singles)} seeds (mean and 95% interval)</h2>"
                     + _table(rows, ["generation", "metric", "seeds", "mean", "ci_low", "ci_high"]))
        plots = sorted((run / rf.PLOTS).glob("*.png"))
        parts.append("<h2>Plots across seeds</h2>" + "".join(_img(p, p.stem) for p in plots))
        for single in singles:
            parts.append(f"<h1>{html.escape(single.name)}</h1>")
            parts += _single_run_sections(single)
    else:
        parts += _single_run_sections(run)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(run.name)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}{CHECK}</body></html>")
    rf.atomic_write_text(run / rf.REPORT, page)
    return run / rf.REPORT
