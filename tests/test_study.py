"""scripts/study.py runs a study one slice at a time, keeps each slice's small tables in results/, never re-runs a
kept slice (even from a new work folder, as on a fresh clone), and tabulates every kept seed from results/ alone."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import FAST_GMM, rows

TINY = ("configs/neutral.yaml", (*FAST_GMM, "loop.generations=1"))


def _study():
    spec = importlib.util.spec_from_file_location("study", Path("scripts/study.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["study"] = module  # its dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_kept_slice_is_never_run_again_and_the_table_covers_every_kept_seed(tmp_path, capsys, monkeypatch):
    study = _study()
    config, overrides = TINY
    part = study.Part("dose", config, overrides, only="keep_real", dose="loop.real_fraction=0,0.5")
    monkeypatch.setitem(study.STUDIES, "tiny", (part,))
    results = tmp_path / "results"
    args = ["tiny", "--results", str(results)]
    assert study.main([*args, "--seeds", "0", "--work", str(tmp_path / "first")]) == 0
    assert "3 run(s) to do" in capsys.readouterr().out  # the reference and two doses
    kept = results / "tiny"
    assert [r["seeds"] for r in rows(kept / "dose.csv")] == ["1", "1"]
    assert not list(kept.rglob("*.pt")) and not list(kept.rglob("*.png")) and not list(kept.rglob("run.json"))
    seed0 = {p: p.read_bytes() for p in kept.glob("*/seed_0/*")}
    # a new work folder, as on a fresh clone: seed 0 comes from results/ and only seed 1 runs
    assert study.main([*args, "--seeds", "0-1", "--work", str(tmp_path / "second")]) == 0
    assert "3 run(s) to do" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in kept.glob("*/seed_0/*")} == seed0
    assert study.main([*args, "--seeds", "0-1", "--work", str(tmp_path / "third")]) == 0
    assert "0 run(s) to do" in capsys.readouterr().out
    table = rows(kept / "dose.csv")
    assert [r["seeds"] for r in table] == ["2", "2"]
    for r in table:  # the table over both kept seeds, from the kept summaries alone
        tails = [float(rows(kept / r["arm"] / f"seed_{s}" / "summary.csv")[-1]["tail_share_calibrated"])
                 for s in (0, 1)]
        assert float(r["tail_last"]) == pytest.approx(np.mean(tails), abs=1e-6)


def test_an_unknown_study_or_part_is_one_line(tmp_path, capsys):
    study = _study()
    assert study.main(["nope", "--results", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().startswith("error: no study 'nope'; known: remedies/digits")
    assert study.main(["remedies/digits", "--part", "nope", "--results", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == ("error: study 'remedies/digits' has no part 'nope'; its parts: "
                                               "dose, remedies")
    assert not list(tmp_path.iterdir())


def test_every_arm_of_every_study_loads_its_config():
    from vision_collapse.config import load_config
    from vision_collapse.config.remedies import why_not
    from vision_collapse.loop.remedy import REFERENCE, chosen_remedies, dose_arms

    study = _study()
    for name, parts in study.STUDIES.items():
        for part in parts:
            config, overrides = Path(part.config), list(part.overrides)
            remedies = chosen_remedies(part.only)
            assert not any(why_not(r, config, overrides) for r in remedies), name
            arms = dose_arms(config, overrides, part.dose, remedies) if part.dose else []
            for on in [REFERENCE.overrides, *(a.overrides for a in arms), *(r.on for r in remedies)]:
                load_config(config, [*overrides, *on])  # raises on a bad key or a combination it refuses
