"""Pages over several runs: `vision-collapse report A B ...` compares runs by the config keys in which they
differ; an `attribute` folder renders its attribution table and plot, with each arm's verdict."""

from __future__ import annotations

import html
import tempfile
from pathlib import Path

from vision_collapse import run_folder as rf
from vision_collapse.config import config_to_dict, flatten
from vision_collapse.metrics.aggregate import ci_text
from vision_collapse.viz.compare import compare_runs, run_labels
from vision_collapse.viz.html import details, image, page, section, table
from vision_collapse.viz.verdict import Verdict, run_verdict, to_markdown

ROW_HEADER = ["run", "seeds", "last generation", "head share, calibrated", "tail share, calibrated",
              "head beyond chance", "tail beyond chance", "extinct by labels", "extinct by the judge",
              "FID at own labels"]


def _row(label: str, v: Verdict | None) -> list[str]:
    """One run's verdict numbers as a row of the comparison table."""
    if v is None:
        return [label] + ["not started"] + [""] * (len(ROW_HEADER) - 2)

    def change(key: str) -> str:
        line = v.line(key)
        return f"{line.first.text()} → {line.last.text()}"

    return [label, str(v.seeds), str(v.last_generation), change("head"), change("tail"),
            v.line("head_tracked").reading, v.line("tail_tracked").reading, v.line("extinct_labels").last.text(),
            v.line("extinct_judged").last.text(), change("fid")]


def arm_verdicts(folder: Path, rows: list[dict]) -> str:
    """The verdict section of a folder of arms: each multi-seed arm's verdict."""
    arms = [(r["label"], run_verdict(folder / r["arm"])) for r in rows if rf.is_multiseed(folder / r["arm"])]
    return section("arms", "Each arm's verdict", verdict_blocks(arms))


def verdict_blocks(named: list[tuple[str, Verdict | None]]) -> str:
    """Each verdict's sentences and table, folded, as markdown text."""
    return "".join(details(name, f"<pre>{html.escape(to_markdown(v))}</pre>") for name, v in named if v is not None)


def compare_page(runs: list[Path]) -> str:
    """A page comparing runs: their verdict numbers side by side, head and tail shares overlaid, and the config
    keys in which they differ."""
    keys, labels = run_labels(runs)
    verdicts = [run_verdict(r) for r in runs]
    parts = [section("verdict", "Verdict, run by run",
                     "<p>Runs differ in " + (html.escape(", ".join(keys)) or "nothing but their folders") +
                     ". Shares are calibrated and recognised-only, from generation 0 to the last; a multi-seed "
                     "folder shows mean [95% interval] over its seeds and counts the seeds beyond chance.</p>"
                     + table(ROW_HEADER, [_row(lab, v) for lab, v in zip(labels, verdicts)]))]
    with tempfile.TemporaryDirectory() as tmp:
        figures = []
        for metric, what in (("head_share_calibrated", "head"), ("tail_share_calibrated", "tail")):
            png = compare_runs(runs, metric, Path(tmp), metric)[0]
            figures.append(image(png, f"Calibrated {what} share by generation, one line per run"))
        parts.append(section("frequency", "Head and tail share, run against run", "".join(figures)))
    flat = [flatten(config_to_dict(rf.read_config(r))) for r in runs]
    config_rows = [[k] + [str(f[k]) for f in flat] for k in keys]
    parts.append(section("runs", "Each run's verdict", verdict_blocks(
        [(f"{lab} ({r})", v) for lab, r, v in zip(labels, runs, verdicts)])))
    parts.append(section("config", "Config keys that differ",
                         table(["key"] + [Path(r).name for r in runs], config_rows) if config_rows
                         else "<p>the configs are identical</p>"))
    return page(f"vision_collapse: {len(runs)} runs compared", "".join(parts))


def attribution_page(folder: Path) -> str:
    """An `attribute` folder: per arm the change of head, tail and extinction with 95% intervals, the paired
    effect of switching each cause off, the plot, and each arm's verdict."""
    rows = rf.read_table(folder / rf.ATTRIBUTION)
    header = ["arm", "seeds", "head change", "tail change", "extinct change", "head up and tail down",
              "head flagged (level / compounding)", "tail flagged (level / compounding)",
              "switching it off took from the head", "and from the tail", "beyond the perfect generator: head",
              "and tail"]
    body = [[r["label"], r["seeds"], ci_text(r, "head_change"), ci_text(r, "tail_change"), ci_text(r, "extinct_change"),
             f"{float(r['head_up_tail_down_share']):.0%}",
             *(f"{float(r[side + '_level_share']):.0%} / {float(r[side + '_compounding_share']):.0%}"
               for side in ("head", "tail")),
             *(ci_text(r, key) if key in r else "–"
               for key in ("head_change_as_configured_minus_arm", "tail_change_as_configured_minus_arm", "model_effect_head",
                           "model_effect_tail"))] for r in rows]
    parts = [section("verdict", "Attribution",
                     "<p>The config as it is, the same config with one cause switched off per arm, and its pipeline "
                     "through a perfect generator. Changes are calibrated shares from generation 0 to the last, mean "
                     "[95% interval] over seeds; flags are the share of seeds beyond the null twin (5% under the "
                     "null); the effect columns pair each seed with the full arm's, and each arm with the perfect "
                     "generator's.</p>" + table(header, body))]
    if (folder / rf.ATTRIBUTION_PLOT).is_file():
        parts.append(section("plot", "Each arm's change", image(folder / rf.ATTRIBUTION_PLOT, "head and tail "
                                                                 "share change per arm, with 95% intervals")))
    parts.append(arm_verdicts(folder, rows))
    return page(f"vision_collapse attribution: {folder.name}", "".join(parts))


def is_attribution(folder: Path) -> bool:
    """Whether `folder` was written by `vision-collapse attribute`."""
    return (Path(folder) / rf.ATTRIBUTION).is_file() and not rf.is_run(folder)
