"""The perfect generator (model.kind=real): held-out real images that nothing trained on and that are not the FID
reference; an unconditional one follows its training set's true classes, whatever labels they carry."""

import numpy as np
import pytest
import torch

from vision_collapse import run_folder as rf
from vision_collapse.cli import main
from vision_collapse.config import load_config
from vision_collapse.data import load_real_data
from vision_collapse.data.images import LabelledImages
from vision_collapse.models import build_model

from helpers import LIGHT_RUN, TINY_DIFFUSION, rows

PERFECT = ["model.kind=real", "data.perfect_fraction=0.2"]


def _bytes(images: torch.Tensor) -> set[bytes]:
    return {im.numpy().tobytes() for im in images}


def test_the_held_out_split_is_disjoint_from_everything_trained_or_measured_on():
    cfg = load_config("configs/curated-gmm.yaml", PERFECT)
    real = load_real_data(cfg.data, cfg.seed)
    held = set(real.perfect.ids)
    for part in (real.pool, real.subset, real.judge_pool, real.calibration, real.test):
        assert not held & set(part.ids)
    assert real.info["perfect_counts"] == real.perfect.class_counts().tolist()
    counts = np.array(real.info["perfect_counts"])
    assert counts.min() > 0 and abs(counts.sum() / (counts.sum() + len(real.pool)) - 0.2) < 0.01


def test_an_unconditional_perfect_generator_follows_the_true_classes_not_the_carried_labels():
    cfg = load_config("configs/curated-gmm.yaml", [*PERFECT, "loop.label_source=none", "loop.curation_choice=1"])
    real = load_real_data(cfg.data, cfg.seed)
    model = build_model(cfg, 8, 1, 10, perfect=real.perfect)
    true = torch.tensor([0] * 30 + [3] * 10)
    images = torch.stack([real.perfect.images[torch.nonzero(real.perfect.labels == c)[0, 0]] for c in true])
    wrong = LabelledImages(images, torch.full((40,), 9), tuple(map(str, range(40))), real.perfect.class_names)
    model.fit(wrong, cfg.train, torch.Generator())
    assert np.allclose(model.shares, np.bincount(true.numpy(), minlength=10) / 40)
    drawn = model.sample(4000, None, torch.Generator().manual_seed(0))
    assert _bytes(drawn) <= _bytes(real.perfect.images)
    classes = model.true_classes(LabelledImages(drawn, torch.zeros(4000, dtype=torch.long),
                                                tuple(map(str, range(4000))), real.perfect.class_names))
    assert set(classes.tolist()) == {0, 3} and abs((classes == 0).mean() - 0.75) < 0.03


@pytest.mark.slow
def test_a_perfect_generator_run_samples_only_held_out_images(tmp_path):
    out = tmp_path / "perfect"
    assert main(["run", "configs/curated-gmm.yaml", *PERFECT, "loop.generations=2", "judge.epochs=2",
                 "loop.labeller_epochs=2", "eval.samples_per_class=10", *LIGHT_RUN, "--out", str(out)]) == 0
    cfg = load_config("configs/curated-gmm.yaml", PERFECT)
    real = load_real_data(cfg.data, cfg.seed)
    held = _bytes(real.perfect.images)
    for g in range(2):
        samples = rf.load_samples(rf.generation_dir(out, g))[0]
        assert _bytes(samples.images) <= held
        # every sample shows the class it carries: the perfect generator draws that class's images
        truth = {im.numpy().tobytes(): int(c) for im, c in zip(real.perfect.images, real.perfect.labels)}
        assert all(truth[im.numpy().tobytes()] == int(c) for im, c in zip(samples.images, samples.labels))
    assert rf.read_json(out / rf.DATA)["perfect_counts"] == real.perfect.class_counts().tolist()


@pytest.mark.slow
def test_the_default_runs_beside_its_perfect_twin_and_says_what_the_model_adds(tmp_path, capsys):
    out = tmp_path / "quick"
    assert main(["run", "configs/quick.yaml", *TINY_DIFFUSION, "eval.samples_per_class=10", "--perfect-twin",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    twin = tmp_path / "quick_perfect"
    assert "kind: real" in (twin / "config.yaml").read_text() and "temperature: 1.0" in (twin / "config.yaml").read_text()
    assert (out / rf.DONE).is_file() and (twin / rf.DONE).is_file()

    def change(run, key):
        table = rows(run / "summary.csv")
        return float(table[-1][key]) - float(table[0][key])

    head, twin_head = change(out, "head_share_calibrated"), change(twin, "head_share_calibrated")
    assert (f"head {head:+.3f} against the perfect generator's {twin_head:+.3f} ({head - twin_head:+.3f})"
            in printed), printed
    assert printed.count("# Verdict") == 2  # the model's verdict, then its twin's


def test_the_perfect_generators_memorised_share_is_its_repeat_rate_by_construction():
    """Over the committed DiT study's perfect twin (results/dit-digits_perfect, 5 seeds, conditional): a class
    whose training set holds n draws with replacement from m held-out images has 1 - (1 - 1/m)^n of them among
    its training images, so that share of fresh draws are exact copies. The measured memorised_share follows it:
    the perfect generator's memorisation needs no baseline of its own."""
    from pathlib import Path

    folder = Path("results/dit-digits_perfect")
    cfg = load_config(folder / "seed_0" / "config.yaml")
    held_out = load_real_data(cfg.data, cfg.seed).perfect.class_counts()
    measured, expected = [], []
    for seed in rf.seed_dirs(folder):
        for r in rows(seed / "metrics.csv"):
            if r["generation"] != "0" and r["class_name"].isdigit() and int(r["train_count"]) > 0:
                measured.append(float(r["memorised_share"]))
                expected.append(1 - (1 - 1 / held_out[int(r["class_index"])]) ** int(r["train_count"]))
    assert len(measured) > 150
    assert np.mean(measured) == pytest.approx(np.mean(expected), abs=0.03)
    assert np.corrcoef(measured, expected)[0, 1] > 0.9
