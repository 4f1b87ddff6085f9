"""The picture commands on tiny finished runs: files, pixel sizes, tile counts, frames, exports, comparisons."""

import csv

import numpy as np
import pytest
from PIL import Image

from vision_collapse import run_folder as rf
from vision_collapse.cli import main
from vision_collapse.viz.grid import HEADER, LABEL_WIDTH, PAD

pytestmark = pytest.mark.slow  # these tests run the CLI end to end on tiny runs


@pytest.fixture(scope="module")
def runs(make_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("viz")
    for name, extra in (("replace", []), ("accumulate", ["loop.strategy=accumulate"])):
        make_run(*extra, name=name).rename(root / name)
    return root


def _samples(run, g):
    z = rf.read_sample_arrays(run / f"gen_00{g}")
    return z["images"], z["labels"]


def test_mosaic_has_a_row_per_class_and_a_strip_per_generation(runs, capsys):
    run = runs / "replace"
    assert main(["grid", str(run), "-n", "3", "--real", "--gif"]) == 0
    picture = Image.open(run / "grids" / "mosaic.png")
    scale, cell = 4, 8 + PAD  # 8x8 digits are upscaled 4x to 32 px
    columns, groups = 3 * 3, 3  # real, gen 0, gen 1
    assert picture.width == LABEL_WIDTH + (columns * cell + PAD + (groups - 1) * 3 * PAD) * scale
    assert picture.height == HEADER + (10 * cell + PAD) * scale
    gif = Image.open(run / "grids" / "generations.gif")
    assert gif.n_frames == 3  # real, then each generation


def test_filmstrip_rows_are_generations(runs):
    run = runs / "replace"
    assert main(["grid", str(run), "--class", "3"]) == 0
    strip = Image.open(run / "grids" / "class_3.png")
    assert strip.height == (2 * (8 + PAD) + PAD) * 4
    assert strip.width == LABEL_WIDTH + (10 * (8 + PAD) + PAD) * 4  # eval.grid_per_class tiles a row
    # the first tile of generation 0's row is its first sample of class 3, upscaled
    images, labels = _samples(run, 0)
    first = images[labels == 3][0, 0]
    x, y = LABEL_WIDTH + PAD * 4, PAD * 4
    tile = np.asarray(strip)[y : y + 32 : 4, x : x + 32 : 4, 0]
    assert np.array_equal(tile, first)


def test_unknown_class_suggests_a_name(runs, capsys):
    assert main(["grid", str(runs / "replace"), "--class", "33"]) == 2
    assert "did you mean '3'" in capsys.readouterr().err


def test_export_writes_imagefolder_pngs(runs, tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["export", str(runs / "replace"), "--generation", "1", str(out)]) == 0
    images, labels = _samples(runs / "replace", 1)
    counts = {d.name: len(list(d.glob("*.png"))) for d in out.iterdir()}
    assert counts == {str(c): int((labels == c).sum()) for c in np.unique(labels)}
    first = sorted((out / str(labels[0])).glob("*.png"))[0]
    assert np.array_equal(np.asarray(Image.open(first)), images[0, 0])
    assert main(["export", str(runs / "replace"), "--generation", "1", str(out)]) == 2  # never over existing files
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["export", str(runs / "replace"), "--generation", "7", str(tmp_path / "x")]) == 2


def test_compare_finds_the_differing_key(runs, tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", str(runs / "replace"), str(runs / "accumulate"), "--metric", "tail_share",
                 "--out", str(out)]) == 0
    assert (out / "compare.png").is_file()
    with open(out / "compare.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["label"] for r in rows} == {"loop.strategy=replace", "loop.strategy=accumulate"}
    with open(runs / "accumulate" / "summary.csv") as fh:
        truth = [float(r["tail_share"]) for r in csv.DictReader(fh)]
    assert [float(r["tail_share"]) for r in rows if r["label"] == "loop.strategy=accumulate"] == truth


def test_compare_marks_a_partial_run(runs, tmp_path):
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(runs / "accumulate", partial)
    shutil.rmtree(partial / "gen_001")  # as a run still going, or stopped, after generation 0
    (partial / "DONE").unlink()
    out = tmp_path / "cmp"
    assert main(["compare", str(runs / "replace"), str(partial), "--metric", "tail_share", "--out", str(out)]) == 0
    with open(out / "compare.csv") as fh:
        labels = {r["label"] for r in csv.DictReader(fh)}
    assert labels == {"loop.strategy=replace", "loop.strategy=accumulate (partial: 1 of 2 generations)"}
