"""plot and report on a tiny finished run: every plot, a self-contained page, and a real headless browser."""

import re
import shutil
import subprocess

import pytest

from vision_collapse import run_folder as rf
from vision_collapse.cli import main
from vision_collapse.viz.report import warnings

pytestmark = pytest.mark.slow  # these tests run the CLI end to end on tiny runs

PLOTS = ["class_frequency", "per_class_fid", "class_frequency_log", "heatmap_fid", "heatmap_kid", "shares",
         "chance", "fid", "precision_recall"]


@pytest.fixture(scope="module")
def run(make_run):
    return make_run()


def test_plot_writes_every_figure_in_png_and_svg(run):
    assert main(["plot", str(run), "--svg"]) == 0
    for name in PLOTS:
        assert (run / "plots" / f"{name}.png").stat().st_size > 1000, name
        assert (run / "plots" / f"{name}.svg").read_text().lstrip().startswith("<?xml"), name


def test_report_is_self_contained(run):
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    for heading in ("Config", "Judge", "Warnings", "Summary", "Plots", "Grids"):
        assert f"<h2>{heading}</h2>" in page
    assert "strategy: replace" in page  # the resolved config
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:") for s in sources)  # nothing fetched from disk or network
    assert len(re.findall(r"<img ", page)) == len(PLOTS) + 1 + 2  # plots, the mosaic, two generation grids


def test_warnings_name_unreliable_classes_and_fid_at_its_floor(tmp_path):
    rf.atomic_write_text(tmp_path / rf.JUDGE, '{"unreliable_classes": ["7"], "per_class_recall": {"7": 0.61}}')
    rf.write_csv(tmp_path / rf.METRICS, [
        {"generation": 0, "class_index": 0, "class_name": "a", "fid": 12.0, "fid_floor_p95": 15.0},
        {"generation": 0, "class_index": 1, "class_name": "b", "fid": 40.0, "fid_floor_p95": 15.0},
    ])
    found = warnings(tmp_path)
    assert len(found) == 2 and "'7'" in found[0] and "0.61" in found[0] and "class 'a'" in found[1]


BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(BROWSER is None, reason="no Chromium here; .ci/run installs Debian's chromium")
def test_report_renders_in_headless_chromium(run):
    assert main(["report", str(run)]) == 0
    dom = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", (run / "report.html").as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    body = re.search(r'<body data-images="(\d+)" data-decoded="(\d+)"', dom)
    assert body, dom[:500]
    assert int(body[1]) == len(PLOTS) + 3 and body[1] == body[2]  # every embedded picture decoded


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
