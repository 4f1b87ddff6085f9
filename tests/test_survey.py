"""The mechanism survey's model axis: its model-effect cells are the paired, seed-by-seed differences from the
perfect generator under the same pipeline, recomputed here from each seed's summary.csv; a model or dataset that
does not exist is one line and exit 2, with nothing run."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from helpers import rows

SCRIPT = Path("scripts/survey.py")


def _survey():
    spec = importlib.util.spec_from_file_location("survey", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["survey"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _change(run: Path, key: str) -> float:
    table = rows(run / "summary.csv")
    return float(table[-1][key]) - float(table[0][key])


@pytest.mark.slow
def test_a_tiny_survey_gives_paired_model_effects_against_the_perfect_generator(tmp_path, capsys):
    from vision_collapse.studies.arms import InProcess

    survey = _survey()
    out = tmp_path / "survey"
    sets = ["loop.generations=2", "eval.chance_chains=199", "eval.floor_draws=10", "judge.epochs=2",
            "eval.samples_per_class=10"]
    # the runs in this process (launching has its own tests), then the command, which finds them done
    survey.survey_rows("digits", ["perfect", "gmm"], ["none", "combination"], [0, 1], out, InProcess(), sets, True)
    argv = ["--datasets", "digits", "--models", "perfect,gmm", "--arms", "none,combination", "--seeds", "0-1",
            *(a for o in sets for a in ("--set", o)), "--jobs", "2", "--out", str(out),
            "--write", str(tmp_path / "survey.md")]
    capsys.readouterr()
    assert survey.main(argv) == 0
    assert "0 run(s) to do, 2 at a time" in capsys.readouterr().out
    table = {(r["model"], r["arm"]): r for r in rows(out / "digits" / "survey.csv")}
    assert set(table) == {("perfect", "none"), ("perfect", "combination"), ("gmm", "none"), ("gmm", "combination")}
    for arm, twin in (("none", "none"), ("combination", "combination")):
        row = table[("gmm", arm)]
        assert row["twin"] == twin and row["seeds"] == "2"
        for side in ("head", "tail"):
            diffs = [_change(out / "digits" / "gmm" / arm / f"seed_{s}", f"{side}_share_calibrated")
                     - _change(out / "digits" / "perfect" / twin / f"seed_{s}", f"{side}_share_calibrated")
                     for s in (0, 1)]
            half = stats.t.ppf(0.975, 1) * np.std(diffs, ddof=1) / np.sqrt(2)
            assert float(row[f"model_effect_{side}"]) == pytest.approx(np.mean(diffs), abs=1e-6)
            assert float(row[f"model_effect_{side}_low"]) == pytest.approx(np.mean(diffs) - half, abs=1e-6)
            assert float(row[f"model_effect_{side}_high"]) == pytest.approx(np.mean(diffs) + half, abs=1e-6)
    assert np.isnan(float(table[("perfect", "none")]["model_effect_head"]))
    text = (tmp_path / "survey.md").read_text()
    assert text.startswith("# Mechanism survey") and "python scripts/survey.py --datasets digits" in text
    assert "| Gaussian mixture per class | no cause |" in text and " vs combination |" in text
    # Re-running resumes: nothing left to run, the same table.
    before = (out / "digits" / "survey.csv").read_text()
    assert survey.main(argv) == 0
    assert (out / "digits" / "survey.csv").read_text() == before


@pytest.mark.parametrize("argv, message", [
    (["--models", "gmm,vea"], "unknown survey model 'vea'"),
    (["--datasets", "digitz"], "no survey config for dataset 'digitz'"),
    (["--arms", "curation,nope"], "unknown survey arm 'nope'"),
])
def test_a_survey_model_or_dataset_that_does_not_exist_is_one_line_and_runs_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "survey"
    assert _survey().main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not out.exists()


def test_the_default_is_the_surveys_unconditional_diffusion_at_temperature_0_8():
    """The README reads the default's five seeds from the survey's arm: they must be the same experiment, up to
    the keys an unconditional run without a labeller never reads."""
    import dataclasses

    from vision_collapse.config import load_config

    survey = _survey()
    arm = next(a for a, _ in survey.MODELS["diffusion_uncond"].arms if a.name == "temperature")
    theirs = load_config(Path("configs/survey/digits.yaml"), [*survey.model_overrides("diffusion_uncond"),
                                                              *arm.overrides])
    ours = load_config(Path("configs/quick.yaml"), [])
    unread = {"label_sampling", "labeller_epochs"}
    loop = {k: v for k, v in dataclasses.asdict(ours.loop).items() if k not in unread}
    assert loop == {k: v for k, v in dataclasses.asdict(theirs.loop).items() if k not in unread}
    for section in ("data", "model", "train", "judge", "eval", "log"):
        assert getattr(ours, section) == getattr(theirs, section), section
    assert ours.seed == theirs.seed


@pytest.mark.parametrize("dataset", ["fashion-mnist", "cifar10"])
def test_the_gpu_twins_are_the_defaults_model_arm_and_the_realistic_combination(dataset):
    from vision_collapse.config import load_config

    model = load_config(Path(f"configs/{dataset}-lt-32-model.yaml"), [])
    combination = load_config(Path(f"configs/{dataset}-lt-32-combination.yaml"), [])
    for cfg in (model, combination):
        assert cfg.data.resolution == 32 and cfg.data.perfect_fraction > 0 and cfg.model.temperature == 0.8
        assert cfg.loop.generations == 5 and cfg.model.kind == "diffusion"
    assert not model.conditional and not model.loop.curating
    assert combination.conditional and combination.loop.label_source == "classifier"
    assert combination.loop.curation_choice == 4 and combination.loop.label_sampling == "proportional"
