"""The README's study tables are what scripts/readme_tables.py writes from the tables committed under results/,
so a hand-edited number fails here; and scripts/keep_results.py keeps exactly the small tables."""

import importlib.util
from pathlib import Path

from vision_collapse import run_folder as rf

from helpers import block_in


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, Path("scripts") / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_study_tables_are_regenerated_from_results_alone():
    tables = _script("readme_tables")
    stale = "the generated tables are stale or hand-edited: python scripts/readme_tables.py"
    for markers, name in tables.RESULT_TABLES:
        folder = tables.RESULTS / name
        assert len(rf.seed_dirs(folder)) == 5 and len(rf.seed_dirs(folder.with_name(name + "_perfect"))) == 5, name
        assert block_in(markers) == tables.chain_table(folder, markers), stale
    assert len(list((tables.RESULTS / "recogniser").glob("*/judge.json"))) == 3
    assert block_in(tables.RECOGNISER) == tables.recogniser_table(tables.RESULTS / "recogniser"), stale
    assert block_in(tables.TRADEOFF) == tables.tradeoff_table(tables.RESULTS / "recogniser"), stale
    remedies = tables.RESULTS / "remedies"
    assert (remedies / "digits" / rf.DOSE).is_file()
    assert block_in(tables.REMEDY_RESULTS) == tables.remedy_results(remedies), stale
    assert block_in(tables.DOSE_RESULTS) == tables.dose_results(remedies), stale


def test_keep_results_copies_the_tables_and_nothing_else(make_run, tmp_path):
    keep = _script("keep_results")
    run = make_run("--seeds", "0,1", name="kept")
    out = tmp_path / "results"
    keep.keep(run, out)
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    per_seed = ["DONE", "baseline.csv", "chance.csv", "config.yaml", "floors.csv", "judge.json", "metrics.csv",
                "summary.csv"]
    assert names == sorted(["DONE", "aggregate.csv", *(f"seed_{s}/{n}" for s in (0, 1) for n in per_seed)])
    for name in ("seed_1/summary.csv", "seed_0/metrics.csv", "aggregate.csv"):
        assert (out / name).read_bytes() == (run / name).read_bytes()
    assert rf.seed_dirs(out) == [out / "seed_0", out / "seed_1"]  # readable as the run itself
