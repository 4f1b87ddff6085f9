"""plot and report on tiny finished runs of the default config: every plot with its scale named, a page that opens
with the verdict, and a real headless browser reading the rendered page."""

import contextlib
import html
import io
import json
import re
import shutil
import subprocess

import pytest

from vision_collapse import run_folder as rf
from vision_collapse.cli import main
from vision_collapse.viz.report import warnings

from helpers import rows

pytestmark = pytest.mark.slow  # these tests run the CLI end to end on tiny runs

PLOTS = ["class_frequency", "per_class_fid", "class_frequency_log", "heatmap_fid", "heatmap_kid", "shares",
         "chance", "class_chance", "fid", "precision_recall"]
SECTIONS = ["verdict", "warnings", "frequency", "quality", "mosaic", "classes", "tables", "config"]
DEFAULT = "configs/curated-gmm.yaml"  # the curated GMM (the earlier default), shortened by FAST_GMM


@pytest.fixture(scope="module")
def run(make_run):
    return make_run(config=DEFAULT, name="quick")


@pytest.fixture(scope="module")
def report(run):
    """The single run's report.html, written once by the CLI."""
    assert main(["report", str(run)]) == 0
    return (run / "report.html").read_text()


@pytest.fixture(scope="module")
def seeds(make_run):
    """A two-seed folder, and what `run` printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        folder = make_run("--seeds", "0,1", config=DEFAULT, name="seeds")
    return folder, out.getvalue()


def section_ids(page: str) -> list[str]:
    """The ids of a page's top-level sections, in order."""
    return re.findall(r'<section id="([^"]+)"', page)


def verdict_cells(page: str) -> list[tuple[str, int, float, str]]:
    """(column, generation, value, shown text) of every number in the verdict table."""
    found = re.findall(r'<td data-column="([^"]+)" data-generation="(-?\d+)" data-value="([^"]+)">([^<]*)</td>', page)
    return [(c, int(g), float(v), html.unescape(t)) for c, g, v, t in found]


def test_plot_writes_every_figure_and_every_axis_label_names_its_scale(run, seeds, monkeypatch):
    """Every plot in PNG and SVG; a label says 'log' exactly when its axis (or colour bar) is on a log scale, in
    the plots of one run and of a multi-seed folder."""
    from vision_collapse.viz import plots

    seen = []
    original = plots.save_figure

    def capture(fig, path):
        for ax in fig.axes:
            for axis, label in ((ax.yaxis, ax.get_ylabel()), (ax.xaxis, ax.get_xlabel())):
                if label:
                    seen.append((path.name, label, axis.get_scale()))
        original(fig, path)

    monkeypatch.setattr(plots, "save_figure", capture)
    assert main(["plot", str(run), "--svg"]) == 0
    for name in PLOTS:
        assert (run / "plots" / f"{name}.png").stat().st_size > 1000, name
        assert (run / "plots" / f"{name}.svg").read_text().lstrip().startswith("<?xml"), name
    assert plots.draw_plots(seeds[0])
    assert {name for name, _, _ in seen} >= {f"{p}.png" for p in PLOTS}
    logs = [(n, lab, s) for n, lab, s in seen if s in ("log", "symlog")]
    assert {n for n, _, _ in logs} >= {"class_frequency_log.png", "per_class_fid.png", "heatmap_fid.png"}
    for name, label, scale in seen:
        assert ("log" in label) == (scale in ("log", "symlog")), (name, label, scale)


def test_report_opens_with_the_verdict_and_its_numbers_are_summary_csv(run, report):
    page = report
    ids = section_ids(page)
    assert ids[0] == "verdict" and ids[-1] == "config"
    assert ids == [s for s in SECTIONS if s in ids] and set(SECTIONS) - set(ids) <= {"warnings"}
    summary = {int(r["generation"]): r for r in rows(run / rf.SUMMARY)}
    cells = verdict_cells(page)
    assert {c for c, _, _, _ in cells} >= {"head_share_calibrated", "tail_share_calibrated", "head_chance_observed",
                                            "extinct_labels", "fid_at_labels", "unrecognisable_share"}
    assert {g for _, g, _, _ in cells} == {0, max(summary)}
    for column, generation, value, text in cells:
        truth = float(summary[generation][column])
        assert value == pytest.approx(truth, rel=1e-12, nan_ok=True), column
        assert text.split(" ")[0] in (f"{truth:.3f}", f"{truth:.1f}", f"{truth:.0f}", "n/a"), (column, text)
    verdict = (run / rf.VERDICT).read_text()
    assert verdict.startswith("# Verdict") and "curation (off: loop.curation=1 loop.curation_choice=1)" in verdict
    head = float(summary[max(summary)]["head_share_calibrated"])
    assert f"{head:.3f}" in verdict


def test_report_is_small_static_and_folds_the_config(run, report):
    page = report
    assert len(page.encode()) < 2_000_000
    assert "<script" not in page  # renders without JavaScript
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/") for s in sources)  # every picture embedded
    links = re.findall(r'href="([^"]*)"', page)
    assert links and all((run / link).is_file() for link in links)  # full-size files beside the page
    config = page[page.index('<section id="config">'):]
    assert "<details>" in config and "loop.curation_choice" in config and "full resolved config" in config
    changed = re.findall(r"<tr><td class=label>([a-z_.]+)</td>", config)
    assert "loop.curation_choice" in changed and "data.name" not in changed  # only keys that differ
    tips = re.findall(r'<th class=label title="([^"]+)">tail_share_calibrated</th>', page)
    from vision_collapse.metrics.columns import meaning

    assert tips == [html.escape(meaning("tail_share_calibrated"))]


def test_cards_put_the_rarest_class_first(run, report):
    page = report
    cards = re.findall(r'<div class="card"><h3>([^<]+)</h3>', page)
    first = {r["class_name"]: int(r["train_count"]) for r in rows(run / "gen_000" / "metrics.csv")
             if r["class_index"] != "-1"}
    assert len(cards) == len(first)
    names = [html.unescape(c).split(" · ")[0] for c in cards]
    assert [first[n] for n in names] == sorted(first.values())


def test_warnings_name_unreliable_classes_and_fid_at_its_floor(tmp_path):
    rf.atomic_write_text(tmp_path / rf.JUDGE, '{"unreliable_classes": ["7"], "per_class_recall": {"7": 0.61}}')
    rf.write_csv(tmp_path / rf.METRICS, [
        {"generation": 0, "class_index": 0, "class_name": "a", "fid": 12.0, "fid_floor_p95": 15.0},
        {"generation": 0, "class_index": 1, "class_name": "b", "fid": 40.0, "fid_floor_p95": 15.0},
    ])
    found = warnings(tmp_path)
    assert len(found) == 2 and "'7'" in found[0] and "0.61" in found[0] and "class 'a'" in found[1]


def test_run_prints_and_writes_the_verdict_for_several_seeds(seeds):
    folder, printed = seeds
    text = (folder / rf.VERDICT).read_text()
    assert printed.endswith("\n" + text)  # the last lines `run` printed
    assert text.startswith("# Verdict: seeds, 2 seeds")
    lasts = [rows(folder / f"seed_{s}" / rf.SUMMARY)[-1] for s in (0, 1)]
    beyond = sum(r["tail_beyond_chance"] == "1" for r in lasts)
    assert f"beyond chance in {beyond} of 2 seeds" in text
    mean = sum(float(r["tail_share_calibrated"]) for r in lasts) / 2
    assert f"{mean:.3f} [" in text  # the mean over seeds, with its interval


def test_multiseed_page_links_each_seeds_page(seeds):
    folder = seeds[0]
    assert main(["report", str(folder)]) == 0
    page = (folder / "report.html").read_text()
    assert section_ids(page)[:2] == ["verdict", "seeds"]
    for s in (0, 1):
        assert f'href="seed_{s}/report.html"' in page
        assert section_ids((folder / f"seed_{s}" / "report.html").read_text())[0] == "verdict"
    aggregate = {(int(r["generation"]), r["metric"]): float(r["mean"]) for r in rows(folder / rf.AGGREGATE)
                 if r["class_name"] == rf.ALL}
    for column, generation, value, _ in verdict_cells(page):
        assert value == pytest.approx(aggregate[generation, column], nan_ok=True), column


def test_report_of_several_runs_compares_them(run, seeds, tmp_path, capsys):
    out = tmp_path / "both.html"
    assert main(["report", str(run), str(seeds[0]), "--out", str(out)]) == 0
    page = out.read_text()
    assert section_ids(page)[0] == "verdict"
    head = [float(r["head_share_calibrated"]) for r in rows(run / rf.SUMMARY)]
    assert f"{head[0]:.3f} → {head[-1]:.3f}" in page
    assert page.count("<img ") == 2  # head and tail overlaid
    assert main(["report", str(run), "--out", str(out)]) == 2
    assert "--out names the page comparing several runs" in capsys.readouterr().err


BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
PROBE = """<script>window.addEventListener('load', () => {
  document.querySelectorAll('details').forEach(d => d.open = true);
  const tables = [...document.querySelectorAll('table')];
  const images = [...document.images];
  const probe = {first: document.querySelector('section').id, viewport: window.innerWidth,
    page: document.documentElement.scrollWidth, tables: tables.length,
    widest: Math.max(...tables.map(t => t.getBoundingClientRect().right)),
    images: images.length, loaded: images.filter(i => i.complete && i.naturalWidth > 0).length,
    cells: [...document.querySelectorAll('#verdict td[data-column]')].map(
      td => [td.dataset.column, +td.dataset.generation, td.textContent])};
  const out = document.createElement('pre'); out.id = 'probe'; out.textContent = JSON.stringify(probe);
  document.body.appendChild(out);
});</script>"""


@pytest.mark.skipif(BROWSER is None, reason="no Chromium here; .ci/run installs Debian's chromium")
def test_report_renders_in_headless_chromium(run, report):
    """In the DOM Chromium renders: the verdict first, with summary.csv's numbers; no table wider than the
    window, even with every fold open; every image decoded."""
    probed = run / "probed.html"  # the page plus a measuring script; the page itself has none
    probed.write_text(report.replace("</body>", PROBE + "</body>"))
    dom = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                          "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()],
                         capture_output=True, text=True, timeout=180).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[:500]
    probe = json.loads(html.unescape(found[1]))
    assert probe["first"] == "verdict"
    assert probe["tables"] > 10 and probe["widest"] <= probe["viewport"] and probe["page"] <= probe["viewport"]
    assert probe["images"] >= len(PLOTS) and probe["loaded"] == probe["images"]
    summary = {int(r["generation"]): r for r in rows(run / rf.SUMMARY)}
    assert len(probe["cells"]) >= 12
    for column, generation, text in probe["cells"]:
        truth = float(summary[generation][column])
        assert text.split(" ")[0] in (f"{truth:.3f}", f"{truth:.1f}", f"{truth:.0f}", "n/a"), (column, text)


def test_tensorboard_logs_scalars_and_grids(make_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = make_run("log.tensorboard=true", name="tb")
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    fid = [(e.step, e.value) for e in events.Scalars("summary/fid_vs_original")]
    truth = [(int(r["generation"]), float(r["fid_vs_original"])) for r in rf.read_table(run / rf.SUMMARY)]
    assert [s for s, _ in fid] == [g for g, _ in truth]
    assert all(abs(v - t) <= 1e-4 * abs(t) for (_, v), (_, t) in zip(fid, truth))
    assert [e.step for e in events.Images("grid")] == [0, 1]
    assert not [p for p in (run / "tensorboard").iterdir() if rf.is_temporary(p)]


def test_report_keeps_a_mosaic_that_grid_drew(run):
    assert main(["grid", str(run), "--real", "-n", "4"]) == 0
    drawn = (run / "grids" / "mosaic.png").read_bytes()
    assert main(["report", str(run)]) == 0
    assert (run / "grids" / "mosaic.png").read_bytes() == drawn  # the user's picture, untouched
    assert (run / "grids" / rf.REPORT_MOSAIC).is_file() and rf.REPORT_MOSAIC in (run / "report.html").read_text()
