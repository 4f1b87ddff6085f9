"""Each cause's switch turns it truly off, and the new samplers and curations do what they say."""

from pathlib import Path

import numpy as np
import pytest
import torch

from vision_collapse.config import LoopConfig, ModelConfig, load_config
from vision_collapse.config.causes import active_causes
from vision_collapse.data.images import LabelledImages
from vision_collapse.errors import UserError
from vision_collapse.loop.labels import choose_one_of_k
from vision_collapse.loop.strategies import sampling_labels
from vision_collapse.metrics.frequencies import apportion
from vision_collapse.metrics.stream import PixelMoments
from vision_collapse.models.gmm import GMMModel
from vision_collapse.null.chains import null_chain
from vision_collapse.null.twin import TwinLoop


def _labelled(counts):
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    images = torch.zeros(len(labels), 1, 2, 2, dtype=torch.uint8)
    return LabelledImages(images, labels, tuple(map(str, range(len(labels)))), tuple(map(str, range(len(counts)))))


def test_original_exact_uses_the_real_counts_with_no_draw():
    real = _labelled([170, 40, 6, 1])
    drifted = _labelled([100, 100, 17, 0])
    for seed in range(20):
        labels = sampling_labels(drifted, real, len(real), "original_exact", np.random.default_rng(seed))
        assert np.bincount(labels.numpy(), minlength=4).tolist() == [170, 40, 6, 1]
    # 'original' still draws: the class of 1 in 217 is lost in about e^-1 of draws, so it shows up in 20 seeds.
    lost = [np.bincount(sampling_labels(drifted, real, len(real), "original", np.random.default_rng(s)).numpy(),
                        minlength=4)[3] == 0 for s in range(20)]
    assert any(lost)


def test_apportion_keeps_the_total_and_the_proportions():
    counts = np.array([170, 40, 6, 1])
    assert apportion(counts, 217).tolist() == [170, 40, 6, 1]
    scaled = apportion(counts, 868)  # four times as many: exactly four times each
    assert scaled.tolist() == [680, 160, 24, 4]
    odd = apportion(counts, 100)
    assert odd.sum() == 100 and np.all(np.abs(odd - counts / counts.sum() * 100) < 1)


def test_null_chain_does_not_move_under_original_exact_unless_curation_draws():
    counts = np.array([50, 30, 20])
    exact = LoopConfig(label_sampling="original_exact")
    sim = null_chain(TwinLoop(counts, 100, exact), 4, 50, np.random.default_rng(0)).tracked
    assert np.allclose(sim, counts / 100)
    assert null_chain(TwinLoop(counts, 100), 4, 50, np.random.default_rng(0)).tracked.std(1).min() > 0
    # 1 of 4 kept by a class-blind filter: a hypergeometric draw of 100 from 400, even with exact labels
    exact_k4 = LoopConfig(label_sampling="original_exact", curation_choice=4)
    curated = null_chain(TwinLoop(counts, 100, exact_k4), 2, 4000,
                         np.random.default_rng(0)).tracked
    expected_sd = np.sqrt(0.5 * 0.5 * (400 - 100) / (400 - 1) / 100)
    assert curated[1, :, 0].std() == pytest.approx(expected_sd, rel=0.05)


def test_gmm_temperature_scales_the_standard_deviation():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 40, (400, 1, 2, 2)) + 128
    images = torch.from_numpy(np.clip(x, 0, 255).astype(np.uint8))
    data = LabelledImages(images, torch.zeros(400, dtype=torch.long), tuple(map(str, range(400))), ("a",))
    stds = {}
    for t in (1.0, 0.5):
        model = GMMModel(ModelConfig(kind="gmm", components=1, temperature=t), 2, 1, 1, conditional=False)
        model.fit(data, None, torch.Generator().manual_seed(0))
        z = model.sample(20000, None, torch.Generator().manual_seed(1)).double()
        stds[t] = z.flatten(1).std(0).mean().item()
    assert stds[0.5] / stds[1.0] == pytest.approx(0.5, abs=0.02)  # a covariance scale would give sqrt(0.5)


def test_gmm_takes_the_full_rank_by_default():
    rng = np.random.default_rng(0)
    mixing = rng.normal(0, 1, (16, 16)) / 4  # correlated pixels, well inside [0, 255]
    images = torch.from_numpy(np.clip(rng.normal(0, 30, (300, 16)) @ mixing + 128, 0, 255).astype(np.uint8)
                              .reshape(300, 1, 4, 4))
    data = LabelledImages(images, torch.zeros(300, dtype=torch.long), tuple(map(str, range(300))), ("a",))
    model = GMMModel(ModelConfig(kind="gmm"), 4, 1, 1, conditional=False)
    model.fit(data, None, torch.Generator().manual_seed(0))
    assert model.params["pca_components"].shape == (16, 16)
    # One full-rank Gaussian reproduces the pixel variance (up to EM's 1/n and the regularisation).
    model = GMMModel(ModelConfig(kind="gmm", components=1), 4, 1, 1, conditional=False)
    model.fit(data, None, torch.Generator().manual_seed(0))
    ratio = PixelMoments().update(model.sample(20000, None, torch.Generator().manual_seed(1))).total_variance() / \
        PixelMoments().update(images).total_variance()
    assert ratio == pytest.approx(1.0, abs=0.03)  # EM's 1/n and uint8 rounding cost a little


def test_pixel_moments_match_numpy_over_batches():
    images = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (101, 3, 4, 4), dtype=np.uint8))
    moments = PixelMoments()
    for part in images.split(17):
        moments.update(part)
    reference = (images.flatten(1).double().numpy() / 255).var(0, ddof=1).sum()
    assert moments.total_variance() == pytest.approx(reference, rel=1e-10)


def test_k_choice_picks_in_proportion_to_confidence():
    n = 40000
    scores = np.where(np.arange(n) % 2 == 0, 0.9, 0.3)
    kept = choose_one_of_k(scores, 2, 1.0, np.random.default_rng(0))
    assert len(kept) == n // 2 and np.all(np.diff(kept) > 0)
    # Random pairs: a quarter are high-high, half mixed (high kept with 0.9 / 1.2 = 0.75), a quarter low-low.
    assert np.mean(scores[kept] == 0.9) == pytest.approx(0.25 + 0.5 * 0.75, abs=0.01)
    cold = choose_one_of_k(scores, 2, 0.01, np.random.default_rng(0))
    assert np.mean(scores[cold] == 0.9) == pytest.approx(0.75, abs=0.01)  # every mixed pair keeps the high one
    hot = choose_one_of_k(scores, 2, 1000.0, np.random.default_rng(0))
    assert np.mean(scores[hot] == 0.9) == pytest.approx(0.5, abs=0.01)  # no preference left


def test_curation_keys_are_checked():
    with pytest.raises(UserError, match="two curations; set one of them to 1"):
        load_config(None, ["loop.curation=0.5", "loop.curation_choice=4"])
    with pytest.raises(UserError, match="loop.reward_temperature must be > 0"):
        load_config(None, ["loop.reward_temperature=0"])
    with pytest.raises(UserError, match="loop.labeller_epochs must be >= 0"):
        load_config(None, ["loop.labeller_epochs=-1"])
    assert load_config(None, ["loop.curation_choice=4"]).loop.oversampling == 4


def test_active_causes_and_their_switches():
    cfg = load_config(None, ["model.kind=gmm", "model.pca_dim=16", "model.guidance_scale=1",
                             "loop.label_source=classifier", "loop.curation_choice=3", "model.temperature=0.8"])
    names = [c.name for c in active_causes(cfg)]
    assert names == ["finite_resampling", "pca_truncation", "temperature", "biased_labels", "curation"]
    for cause in active_causes(cfg):
        off = load_config(None, ["model.kind=gmm", "model.pca_dim=16", "model.guidance_scale=1",
                                 "loop.label_source=classifier", "loop.curation_choice=3", "model.temperature=0.8",
                                 *cause.off])
        assert [c.name for c in active_causes(off)] == [n for n in names if n != cause.name]


def test_vendi_score_counts_distinct_samples():
    from vendi_score import vendi as reference

    from vision_collapse.metrics.within_class import vendi_score

    assert vendi_score(torch.ones(20, 8)) == pytest.approx(1.0)
    assert vendi_score(torch.eye(8)) == pytest.approx(8.0)
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(30, 6)))
    # exp(entropy of the eigenvalues of the normalised cosine kernel), computed here with numpy alone
    unit = x.numpy() / np.linalg.norm(x.numpy(), axis=1, keepdims=True)
    w = np.clip(np.linalg.eigvalsh(unit @ unit.T / len(unit)), 1e-15, None)
    assert vendi_score(x) == pytest.approx(np.exp(-(w * np.log(w)).sum()), rel=1e-6)
    assert vendi_score(x) == pytest.approx(reference.score_X(x.numpy()), rel=1e-6)


def test_copy_detector_flags_copies_and_about_one_percent_of_real_images():
    from vision_collapse.metrics.within_class import CopyDetector, pixel_vectors

    rng = np.random.default_rng(0)
    training = pixel_vectors(torch.from_numpy(rng.integers(0, 256, (300, 1, 4, 4), dtype=np.uint8)))
    held_out = pixel_vectors(torch.from_numpy(rng.integers(0, 256, (1000, 1, 4, 4), dtype=np.uint8)))
    labels = torch.from_numpy(np.arange(1000) % 2)
    detector = CopyDetector.fit(held_out, labels, training, 2)
    assert np.nanmean(detector.real_share) == pytest.approx(0.01, abs=0.002)
    assert detector.memorised(training[:50], training).all()  # exact copies
    fresh = pixel_vectors(torch.from_numpy(rng.integers(0, 256, (2000, 1, 4, 4), dtype=np.uint8)))
    assert detector.memorised(fresh, training).mean() == pytest.approx(0.01, abs=0.006)


def test_memorised_photos_counts_near_copies_of_the_real_subset_whatever_the_training_set():
    from vision_collapse.metrics.within_class import CopyDetector, pixel_vectors, within_class_columns

    rng = np.random.default_rng(1)
    photos = pixel_vectors(torch.from_numpy(rng.integers(0, 256, (200, 1, 4, 4), dtype=np.uint8)))
    held_out = pixel_vectors(torch.from_numpy(rng.integers(0, 256, (600, 1, 4, 4), dtype=np.uint8)))
    copies = CopyDetector.fit(held_out, torch.zeros(600, dtype=torch.long), photos, 1)
    fresh = pixel_vectors(torch.from_numpy(rng.integers(0, 256, (30, 1, 4, 4), dtype=np.uint8)))
    samples = torch.cat([photos[:12] + 0.001, fresh])  # 12 near-copies of photos, 30 new images
    nearest = np.sqrt(((samples.numpy()[:, None] - photos.numpy()[None]) ** 2).sum(-1)).min(1)  # numpy alone
    expected = (nearest < copies.threshold).mean()
    assert expected >= 12 / 42
    later = pixel_vectors(torch.from_numpy(rng.integers(0, 256, (50, 1, 4, 4), dtype=np.uint8)))  # another training set
    cols = within_class_columns(samples, samples, later, copies, 0, {}, None, np.array([0.5]))
    assert cols["memorised_photos"] == pytest.approx(expected)
    nearest_later = np.sqrt(((samples.numpy()[:, None] - later.numpy()[None]) ** 2).sum(-1)).min(1)
    assert cols["memorised_share"] == pytest.approx((nearest_later < copies.threshold).mean())
    none = within_class_columns(samples, samples, later[:0], copies, 0, {}, None, np.array([0.5]))
    assert np.isnan(none["memorised_share"]) and none["memorised_photos"] == pytest.approx(expected)  # generation -1


@pytest.mark.slow
def test_original_exact_carries_the_real_counts_and_within_class_numbers_are_written(make_run):
    from helpers import rows

    run = make_run("loop.label_sampling=original_exact", "eval.cas_epochs=2", name="exact")
    table = rows(run / "metrics.csv")
    real = {r["class_name"]: r["train_count"] for r in table if r["generation"] == "0" and r["class_index"] != "-1"}
    for r in table:
        if r["class_index"] != "-1":
            assert r["sample_count"] == real[r["class_name"]]  # every generation: the real counts, exactly
    summary = rows(run / "summary.csv")
    for s in summary:
        for key in ("variance_ratio", "variance_ratio_train", "vendi", "memorised_share", "memorised_photos", "cas",
                    "cas_real"):
            assert np.isfinite(float(s[key])), key
        assert 0 <= float(s["memorised_share"]) <= 1 and 0 <= float(s["cas"]) <= 1
    assert summary[0]["memorised_photos"] == summary[0]["memorised_share"]  # generation 0 learns the photos
    floors = rows(run / "floors.csv")
    assert all(float(f["vendi_floor_p05"]) <= float(f["vendi_floor_median"]) for f in floors if f["draws"] != "0")


@pytest.mark.slow
def test_attribute_runs_each_cause_off_and_resumes(tmp_path, capsys):
    from vision_collapse.cli import main
    from vision_collapse.metrics.aggregate import mean_ci
    from vision_collapse.studies.arms import InProcess
    from vision_collapse.studies.attribute import attribute

    from helpers import FAST_GMM, rows

    out = tmp_path / "attribution"
    # Labels at the real counts exactly: curation is the one active cause, so two arms of two seeds each, and the
    # pipeline through the perfect generator.
    overrides = [*FAST_GMM, "loop.label_sampling=original_exact"]
    # the runs in this process (launching has its own tests), then the command, which finds them done
    attribute(Path("configs/curated-gmm.yaml"), overrides, [0, 1], out, InProcess())
    argv = ["attribute", "configs/curated-gmm.yaml", *overrides, "--seeds", "0-1", "--jobs", "2", "--out", str(out)]
    capsys.readouterr()
    assert main(argv) == 0
    assert "0 run(s) to do, 2 at a time" in capsys.readouterr().out
    table = {r["arm"]: r for r in rows(out / "attribution.csv")}
    assert list(table) == ["as_configured", "no_curation", "perfect_generator"]
    assert (out / "attribution.png").stat().st_size > 0
    assert "kind: real" in (out / "perfect_generator" / "seed_0" / "config.yaml").read_text()

    def change(arm, seed, key):
        s = rows(out / arm / f"seed_{seed}" / "summary.csv")
        return float(s[-1][key]) - float(s[0][key])

    for arm, row in table.items():
        heads = [change(arm, s, "head_share_calibrated") for s in (0, 1)]
        ci = mean_ci(heads)
        assert float(row["head_change"]) == pytest.approx(ci["mean"])
        assert float(row["head_change_low"]) == pytest.approx(ci["ci_low"])
        if arm not in ("as_configured", "perfect_generator"):
            paired = [change("as_configured", s, "head_share_calibrated") - h for s, h in zip((0, 1), heads)]
            assert float(row["head_change_as_configured_minus_arm"]) == pytest.approx(np.mean(paired))
        if arm != "perfect_generator":  # what the model adds: this arm's change beyond the perfect generator's
            for side in ("head", "tail"):
                paired = [change(arm, s, f"{side}_share_calibrated") - change("perfect_generator", s,
                                                                             f"{side}_share_calibrated") for s in (0, 1)]
                assert float(row[f"model_effect_{side}"]) == pytest.approx(mean_ci(paired)["mean"])
                assert float(row[f"model_effect_{side}_high"]) == pytest.approx(mean_ci(paired)["ci_high"])
    cfg = (out / "no_curation" / "seed_1" / "config.yaml").read_text()
    assert "curation_choice: 1" in cfg and "seed: 1" in cfg
    assert main(["report", str(out)]) == 0  # the attribution page: its table, its plot, each arm's verdict
    page = (out / "report.html").read_text()
    assert page.index('<section id="verdict">') < page.index('<section id="plot">') < page.index('id="arms"')
    change = float(table["no_curation"]["tail_change"])
    assert f"{change:+.3f} [" in page and page.count("<img ") == 1 and page.count("# Verdict: ") == 3
    before = (out / "attribution.csv").read_text()
    capsys.readouterr()
    assert main(argv) == 0  # resumes: nothing left to run, the same table
    assert "0 run(s) to do" in capsys.readouterr().out
    assert (out / "attribution.csv").read_text() == before


def test_attribute_refuses_a_config_without_causes(tmp_path, capsys):
    from vision_collapse.cli import main

    argv = ["attribute", "configs/gmm.yaml", "loop.label_sampling=original_exact", "--out", str(tmp_path / "a")]
    assert main(argv) == 2
    assert "switches on none of the causes" in capsys.readouterr().err


def test_readme_switch_table_is_generated_from_the_causes():

    from vision_collapse.config.causes import END, START, causes_table

    from helpers import block_in

    block = block_in((START, END))
    assert block == causes_table(), "README switch table is stale: python -m vision_collapse.config.causes"


def test_readme_column_tables_are_generated_from_one_source():

    from vision_collapse.metrics.columns import END, START, columns_tables

    from helpers import block_in

    block = block_in((START, END))
    assert block == columns_tables(), "README column tables are stale: python -m vision_collapse.metrics.columns"


@pytest.mark.slow
def test_the_default_curates_one_of_four_toward_the_head(tmp_path):
    from vision_collapse.cli import main

    from helpers import LIGHT_RUN, rows

    out = tmp_path / "quick"
    assert main(["run", "configs/curated-gmm.yaml", *LIGHT_RUN, "loop.generations=1", "judge.epochs=2",
                 "eval.samples_per_class=10", "--out", str(out)]) == 0
    table = [r for r in rows(out / "gen_000" / "metrics.csv") if r["class_index"] != "-1"]
    real = np.array([int(r["train_count"]) for r in table])
    kept = np.array([int(r["sample_count"]) for r in table])
    assert kept.sum() == real.sum()  # one of every four drawn samples is kept
    assert not (out / "gen_000" / "candidates").exists()
    # The labeller leans to the head: the three largest classes keep more than twice the share of their real
    # count that the rarest three keep, and the rarest three keep less than half of it.
    assert kept[:3].sum() / real[:3].sum() > 2 * kept[-3:].sum() / real[-3:].sum()
    assert kept[-3:].sum() < real[-3:].sum() / 2
