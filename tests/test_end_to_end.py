"""The CLI end to end on a tiny 16x16 UNet: files, columns, determinism, resume and refusal to overwrite."""

import shutil

import numpy as np
import pytest
from PIL import Image

from vision_collapse import run_folder as rf
from vision_collapse.cli import main

from helpers import LIGHT_EVAL
from helpers import rows as _rows

pytestmark = pytest.mark.slow

TINY = [
    "data.resolution=16",
    "model.channels=[8,16]",
    "model.sampling_steps=3",
    "model.guidance_scale=2",
    "train.steps=15",
    "train.batch_size=16",
    "judge.epochs=2",
    "loop.generations=2",
    *LIGHT_EVAL,
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One finished 2-generation run, shared by the checks below."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["run", "configs/neutral.yaml", *TINY, "--out", str(out)]) == 0
    return out


def test_run_folder_layout(tiny_run):
    for name in ["config.yaml", "run.json", "judge.json", "data.json", "metrics.csv", "summary.csv", "DONE",
                 "plots/class_frequency.png", "plots/per_class_fid.png"]:
        assert (tiny_run / name).is_file(), name
    for g in (0, 1):
        gen = tiny_run / f"gen_{g:03d}"
        for name in ["grid.png", "manifest.csv", "train_loss.csv", "samples/shard_00000.npz", "DONE",
                     "model/model_index.json",
                     "model/unet/config.json", "model/scheduler/scheduler_config.json"]:
            assert (gen / name).is_file(), f"gen {g}: {name}"


def test_metrics_and_summary_columns(tiny_run):
    rows = _rows(tiny_run / "metrics.csv")
    assert len(rows) == 2 * 11  # ten classes and the unrecognisable bin
    assert {"generation", "class_index", "class_name", "train_count", "recognised_count", "unrecognised_count",
            "gen_freq", "gen_freq_calibrated", "calibrated_low", "calibrated_high", "fid", "fid_floor_median",
            "fid_floor_p95", "kid", "kid_std", "kid_floor_p95", "precision", "recall", "density", "coverage",
            "label_fidelity", "to_head", "to_head_real", "eval_count"} <= set(rows[0])
    summary = _rows(tiny_run / "summary.csv")
    assert [s["generation"] for s in summary] == ["0", "1"]
    assert {"generation", "recognised_count", "fid_vs_original", "fid_at_labels", "fid_at_labels_floor_p95",
            "fid_macro", "kid_vs_original", "head_share", "tail_share", "head_share_calibrated",
            "tail_share_calibrated", "unrecognisable_share", "entropy", "kl_real_to_gen", "js_to_real", "tv_to_real",
            "extinct_labels", "extinct_judged", "head_beyond_chance", "tail_chance_p", "train_seconds",
            "sample_seconds"} <= set(summary[0])
    _check_one_denominator(tiny_run)
    for g in (0, 1):
        classes = [r for r in rows if r["generation"] == str(g) and r["class_name"] != "unrecognisable"]
        assert all(r["eval_count"] == "50" for r in classes)  # eval.samples_per_class, drawn per class
        confusion = _rows(tiny_run / f"gen_00{g}" / "confusion.csv")
        assert len(confusion) == 10 and all(sum(int(v) for k, v in r.items() if k != "conditioning") == 50
                                            for r in confusion)
        fidelity = [int(r[r["conditioning"]]) / 50 for r in confusion]
        assert np.allclose(fidelity, [float(r["label_fidelity"]) for r in classes], atol=1e-7)



def _check_one_denominator(run) -> int:
    """Class shares are over recognised samples, the rejected ones counted apart (NaN when none is recognised);
    returns the samples recognised over both generations."""
    rows, summary, seen = _rows(run / "metrics.csv"), _rows(run / "summary.csv"), 0
    for g in (0, 1):
        mine = [r for r in rows if r["generation"] == str(g)]
        classes = [r for r in mine if r["class_name"] != "unrecognisable"]
        lost = [int(r["unrecognised_count"]) for r in mine if r["class_name"] == "unrecognisable"]
        recognised = sum(int(r["recognised_count"]) for r in classes)
        assert recognised == int(summary[g]["recognised_count"])
        assert lost[0] == sum(int(r["unrecognised_count"]) for r in classes)
        assert abs(lost[0] / (lost[0] + recognised) - float(summary[g]["unrecognisable_share"])) < 1e-7
        for r in classes:
            expected = int(r["recognised_count"]) / recognised if recognised else float("nan")
            assert float(r["gen_freq"]) == pytest.approx(expected, rel=1e-6, nan_ok=True)
        if recognised:
            for column in ("gen_freq", "gen_freq_calibrated"):
                assert abs(sum(float(r[column]) for r in classes) - 1) < 1e-6
        seen += recognised
    return seen


@pytest.fixture(scope="module")
def gmm_run(make_run):
    """A finished 2-generation Gaussian-mixture run: samples the judge recognises (a 15-step diffusion model's are
    noise, which the recogniser rejects)."""
    return make_run(name="gmm")


def test_shares_of_a_recognisable_run_are_over_recognised_samples(gmm_run):
    assert _check_one_denominator(gmm_run) > 0


def test_divergences_to_the_real_prior_match_scipy(gmm_run):
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import entropy

    from vision_collapse.metrics.frequencies import FREQ_FLOOR

    rows = [r for r in _rows(gmm_run / "metrics.csv") if r["class_index"] != "-1"]
    p1 = np.array([float(r["gen_freq_calibrated"]) for r in rows if r["generation"] == "1"])
    real = np.array([int(r["train_count"]) for r in rows if r["generation"] == "0"], dtype=float)
    real /= real.sum()  # generation 0 trains on the real subset
    summary = _rows(gmm_run / "summary.csv")[1]
    assert float(summary["kl_real_to_gen"]) == pytest.approx(entropy(real + FREQ_FLOOR, p1 + FREQ_FLOOR), rel=1e-6)
    assert float(summary["js_to_real"]) == pytest.approx(jensenshannon(p1, real) ** 2, rel=1e-6)
    assert float(summary["tv_to_real"]) == pytest.approx(0.5 * np.abs(p1 - real).sum(), rel=1e-6)
    assert float(summary["entropy"]) == pytest.approx(entropy(p1), rel=1e-6)


def test_training_loss_and_session_are_recorded(tiny_run):
    import json

    losses = _rows(tiny_run / "gen_000" / "train_loss.csv")
    assert [int(r["step"]) for r in losses] == list(range(15))  # train.steps
    assert all(np.isfinite(float(r["loss"])) for r in losses)
    session = json.loads((tiny_run / "run.json").read_text())["sessions"][0]
    assert session["precision"] == "fp32" and session["device"] == "cpu" and session["torch"]


def test_generations_replace_and_resample(tiny_run):
    gen0 = _rows(tiny_run / "gen_000" / "manifest.csv")
    gen1 = _rows(tiny_run / "gen_001" / "manifest.csv")
    assert all(r["source"] == "real" for r in gen0) and all(r["source"] == "gen0" for r in gen1)
    assert {(r["label_source"], r["from_generation"]) for r in gen0} == {("dataset", "-1")}
    assert {(r["label_source"], r["from_generation"]) for r in gen1} == {("conditioning", "0")}
    assert len(gen0) == len(gen1)
    z = rf.read_sample_arrays(tiny_run / "gen_000")
    assert z["images"].dtype == np.uint8 and z["images"].shape[1:] == (1, 16, 16)
    # generation 1 trains on exactly generation 0's labelled samples
    assert sorted(int(r["label"]) for r in gen1) == sorted(z["labels"].tolist())
    counts0 = np.bincount([int(r["label"]) for r in gen0], minlength=10)
    metrics = _rows(tiny_run / "metrics.csv")
    gen0 = [r for r in metrics if r["generation"] == "0" and r["class_index"] != "-1"]
    assert [int(r["train_count"]) for r in gen0] == counts0.tolist()


def test_grid_image_has_a_row_per_class(tiny_run):
    picture = Image.open(tiny_run / "gen_000" / "grid.png")
    # 16x16 tiles are upscaled 2x, 2-pixel padding, 10 class rows
    assert picture.height == (10 * (16 + 2) + 2) * 2


def test_same_seed_same_metrics_and_resume(tiny_run, tmp_path):
    again = tmp_path / "again"
    assert main(["run", "configs/neutral.yaml", *TINY, "--out", str(again)]) == 0
    assert (again / "metrics.csv").read_bytes() == (tiny_run / "metrics.csv").read_bytes()
    # lose the second generation as a crash would, then resume by re-running the same command
    shutil.rmtree(again / "gen_001")
    (again / "DONE").unlink()
    assert main(["run", "configs/neutral.yaml", *TINY, "--out", str(again)]) == 0
    assert (again / "metrics.csv").read_bytes() == (tiny_run / "metrics.csv").read_bytes()


def test_different_config_is_refused_and_nothing_changes(tiny_run, capsys):
    before = (tiny_run / "metrics.csv").read_bytes()
    assert main(["run", "configs/neutral.yaml", *TINY, "seed=1", "--out", str(tiny_run)]) == 2
    err = capsys.readouterr().err
    assert "seed: 0 -> 1" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert (tiny_run / "metrics.csv").read_bytes() == before


def test_grid_and_plot_commands_redraw(tiny_run):
    (tiny_run / "plots" / "class_frequency.png").unlink()
    (tiny_run / "gen_001" / "grid.png").unlink()
    assert main(["plot", str(tiny_run)]) == 0
    assert main(["grid", str(tiny_run)]) == 0
    assert (tiny_run / "plots" / "class_frequency.png").is_file()
    assert (tiny_run / "gen_001" / "grid.png").is_file()


def test_dry_run_and_typo(capsys):
    assert main(["run", "configs/neutral.yaml", "loop.generations=8", "--dry-run"]) == 0
    assert "generations: 8" in capsys.readouterr().out
    assert main(["run", "configs/neutral.yaml", "loop.generatons=8"]) == 2
    assert "did you mean 'loop.generations'" in capsys.readouterr().err


def test_not_a_run_folder(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_bad_data_setting_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "bad"
    assert main(["run", "configs/neutral.yaml", "data.head=x", "--out", str(out)]) == 2
    assert "data.head: 'x' is not a class of this dataset; choose one of 0, 1, 2" in capsys.readouterr().err
    assert not out.exists()


def test_unconditional_run_labels_samples_with_the_judge(tmp_path):
    out = tmp_path / "uncond"
    tiny = [t for t in TINY if not t.startswith("model.guidance_scale")]
    assert main(["run", "configs/neutral.yaml", *tiny, "loop.label_source=none", "model.guidance_scale=1",
                 "loop.generations=1", "--out", str(out)]) == 0
    z = rf.read_sample_arrays(out / "gen_000")
    assert (z["labels"] == z["judged"]).all()
    judged_counts = np.bincount(z["judged"], minlength=10)
    rows = [r for r in _rows(out / "metrics.csv") if r["class_name"] != "unrecognisable"]
    assert [int(r["sample_count"]) for r in rows] == judged_counts.tolist()
    assert all(r["label_fidelity"] == "nan" for r in rows)  # no conditioning labels to be faithful to
    assert not (out / "gen_000" / "confusion.csv").exists()


def test_saved_model_loads_in_diffusers_and_reproduces_its_samples(tiny_run):
    import torch
    from diffusers import DDPMPipeline

    from vision_collapse.config import config_from_yaml_text
    from vision_collapse.loop.seeds import generation_seed
    from vision_collapse.models import DiffusionModel

    cfg = config_from_yaml_text((tiny_run / "config.yaml").read_text())
    stock = DDPMPipeline.from_pretrained(tiny_run / "gen_000" / "model")
    assert stock.unet.config.num_class_embeds == 11  # ten digits and the null class
    model = DiffusionModel.load(tiny_run / "gen_000" / "model", cfg.model, num_classes=10, conditional=True)
    z = rf.read_sample_arrays(tiny_run / "gen_000")
    images, labels = z["images"], torch.from_numpy(z["labels"])
    again = model.sample(len(labels), labels, torch.Generator().manual_seed(generation_seed(cfg.seed, 0, "sample")))
    assert np.array_equal(again.numpy(), images)


def test_foreign_folder_is_never_written_or_deleted(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main(["run", "configs/neutral.yaml", *TINY, "--force", "--out", str(out)]) == 2
    assert "holds no run" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_verdict_is_titled_with_the_config_and_seed(tiny_run):
    assert (tiny_run / "verdict.md").read_text().startswith("# Verdict: neutral, seed 0\n")


def test_shares_over_all_samples_match_a_hand_count(tiny_run):
    first = _rows(tiny_run / "gen_000" / "metrics.csv")
    real = [int(r["train_count"]) for r in first if r["class_name"] != "unrecognisable"]
    tail = [int(c) for c in np.argsort(real, kind="stable")[:3]]  # the rarest 30% of 10 classes
    head = int(np.argmax(real))
    for g in (0, 1):
        classes = [r for r in _rows(tiny_run / f"gen_00{g}" / "metrics.csv") if r["class_name"] != "unrecognisable"]
        drawn = sum(int(r["sample_count"]) for r in classes)  # every sample, recognised or not
        summary = _rows(tiny_run / f"gen_00{g}" / "summary.csv")[0]
        assert float(summary["tail_share_all"]) == pytest.approx(
            sum(int(classes[c]["recognised_count"]) for c in tail) / drawn, abs=1e-9)
        assert float(summary["head_share_all"]) == pytest.approx(int(classes[head]["recognised_count"]) / drawn,
                                                                 abs=1e-9)
        kept = 1 - float(summary["unrecognisable_share"])
        assert float(summary["tail_share_calibrated_all"]) == pytest.approx(
            float(summary["tail_share_calibrated"]) * kept, rel=1e-6, nan_ok=True)  # NaN below eval.min_recognised
