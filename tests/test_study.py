"""scripts/study.py runs a study one slice at a time, keeps each slice's small tables in results/, never re-runs a
kept slice (even from a new work folder, as on a fresh clone), and tabulates every kept seed from results/ alone."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from vision_collapse.studies.arms import InProcess

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
    kept = tmp_path / "results" / "tiny"

    def slice_(seeds, work, parts=(part,)):  # the runs in this process: what is tested is the slicing, not launching
        study.run_study(parts, seeds, kept, tmp_path / work, InProcess())

    slice_([0], "first")
    assert "3 run(s) to do" in capsys.readouterr().out  # the reference and two doses
    assert [r["seeds"] for r in rows(kept / "dose.csv")] == ["1", "1"]
    assert not list(kept.rglob("*.pt")) and not list(kept.rglob("*.png")) and not list(kept.rglob("run.json"))
    seed0 = {p: p.read_bytes() for p in kept.glob("*/seed_0/*")}
    # a new work folder, as on a fresh clone: seed 0 comes from results/ and only seed 1 runs
    slice_([0, 1], "second")
    assert "3 run(s) to do" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in kept.glob("*/seed_0/*")} == seed0
    argv = ["tiny", "--results", str(tmp_path / "results"), "--seeds", "0-1", "--work", str(tmp_path / "third")]
    assert study.main(argv) == 0  # the command line, as jobs: nothing left to run
    assert "0 run(s) to do, 1 at a time" in capsys.readouterr().out
    table = rows(kept / "dose.csv")
    assert [r["seeds"] for r in table] == ["2", "2"]
    for r in table:  # the table over both kept seeds, from the kept summaries alone
        tails = [float(rows(kept / r["arm"] / f"seed_{s}" / "summary.csv")[-1]["tail_share_calibrated"])
                 for s in (0, 1)]
        assert float(r["tail_last"]) == pytest.approx(np.mean(tails), abs=1e-6)
    # a part new to the study runs its slice's seeds only, not every seed the other part kept
    more = study.Part("more", config, overrides, only="keep_real", dose="loop.real_fraction=0,0.25")
    slice_([0], "fourth", (more,))
    assert "1 run(s) to do" in capsys.readouterr().out  # dose 0.25 at seed 0 (its reference and dose 0 are kept)
    assert sorted(p.parent.name for p in kept.glob("dose_0.25/seed_*/DONE")) == ["seed_0"]


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
    from vision_collapse.studies.remedy import REFERENCE, chosen_remedies, dose_arms

    study = _study()
    for name, parts in study.STUDIES.items():
        for part in parts:
            config, overrides = Path(part.config), list(part.overrides)
            remedies = chosen_remedies(part.only)
            if part.dose:  # a dose on top of a remedy that does not apply is refused; a remedies table skips it
                assert not any(why_not(r, config, overrides) for r in remedies), name
            remedies = [r for r in remedies if not why_not(r, config, overrides)]
            arms = dose_arms(config, overrides, part.dose, remedies) if part.dose else []
            for on in [REFERENCE.overrides, *(a.overrides for a in arms), *(r.on for r in remedies)]:
                load_config(config, [*overrides, *on])  # raises on a bad key or a combination it refuses


def _last_tail(folder: Path, column: str) -> float:
    return float(rows(folder / "summary.csv")[-1][column])


@pytest.mark.parametrize("column,suffix", [("tail_share_calibrated", ""), ("tail_share_all", "_all")])
@pytest.mark.parametrize("study", ["remedies/digits", "remedies/digits-perfect", "remedies/digits-replicate",
                                   "remedies/digits-t1", "remedies/fashion-mnist"])
def test_compounding_removed_in_the_committed_results_is_an_independent_t_interval(study, column, suffix):
    """Over the real committed per-seed summaries: 1 - (arm - reference) / (untreated - reference) per seed, its
    mean and 95% Student-t interval (scipy), against dose.csv; over recognised samples and over every sample."""
    from scipy import stats

    folder = Path("results") / study
    if not (folder / "dose.csv").is_file():
        pytest.skip(f"{study} has no committed slice yet")
    table = rows(folder / "dose.csv")
    untreated, key = table[0]["arm"], f"compounding_removed{suffix}"
    for row in table:
        removed = []
        for seed in sorted(folder.glob(f"{row['arm']}/seed_*")):
            s = seed.name
            tails = [_last_tail(folder / arm / s, column) for arm in (row["arm"], untreated, "reference")]
            drift = tails[1] - tails[2]
            if drift != 0 and np.isfinite([*tails]).all():  # NaN: too few samples recognised to read a share
                removed.append(1 - (tails[0] - tails[2]) / drift)
        assert int(row["seeds"]) == len(list(folder.glob(f"{row['arm']}/seed_*/DONE")))
        expected = np.mean(removed) if removed else np.nan  # no readable seed: NaN, as the table writes it
        assert float(row[key]) == pytest.approx(expected, rel=1e-6, nan_ok=True)
        if len(removed) > 1:
            half = stats.t.ppf(0.975, len(removed) - 1) * stats.sem(removed)
            assert float(row[f"{key}_low"]) == pytest.approx(np.mean(removed) - half, rel=1e-6)
            assert float(row[f"{key}_high"]) == pytest.approx(np.mean(removed) + half, rel=1e-6)


def test_each_dose_trains_on_its_share_of_real_images_every_generation():
    """The committed dose runs' own tables: generation 0 all real, every later one round(dose x n) / n real."""
    folder = Path("results/remedies/digits")
    if not (folder / "dose.csv").is_file():
        pytest.skip("no committed slice yet")
    for row in rows(folder / "dose.csv"):
        for seed in folder.glob(f"{row['arm']}/seed_*"):
            summary = rows(seed / "summary.csv")
            assert float(summary[0]["real_fraction"]) == 1.0
            for r in summary[1:]:
                n = int(r["train_size"])
                assert float(r["real_fraction"]) == pytest.approx(round(float(row["dose"]) * n) / n, abs=1e-7)


def test_the_untreated_arm_is_the_dose_of_no_real_data_to_the_last_digit():
    """Over the committed digits study: a mix with no real image is the replace loop, so the untreated arm and the
    dose-0 arm, run apart, give the same summaries and per-class tables (wall times aside), seed by seed."""
    folder = Path("results/remedies/digits")
    seeds = [p.parent.name for p in folder.glob("untreated/seed_*/DONE")
             if (folder / "dose_0" / p.parent.name / "DONE").is_file()]
    if not seeds:
        pytest.skip("no seed in both arms yet")
    for seed in seeds:
        for table in ("summary.csv", "metrics.csv"):
            a, b = (rows(folder / arm / seed / table) for arm in ("untreated", "dose_0"))
            drop = [k for k in a[0] if k.endswith("_seconds")]
            assert [{k: v for k, v in r.items() if k not in drop} for r in a] == \
                   [{k: v for k, v in r.items() if k not in drop} for r in b], (seed, table)
