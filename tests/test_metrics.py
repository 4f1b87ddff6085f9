"""KID, PRDC, the noise floors, the prior-matched reference, calibrated frequencies and the unrecognisable bin,
against direct references."""

import itertools

import numpy as np
import pytest
import torch

from vision_collapse.config import EvalConfig, JudgeConfig, load_config
from vision_collapse.data import hash_images, load_real_data
from vision_collapse.errors import UserError
from vision_collapse.metrics.calibration import calibrated_frequencies, confusion_matrix, project_to_simplex
from vision_collapse.metrics.classifier import load_or_train_judge, train_classifier
from vision_collapse.metrics.fid import fid_from_features
from vision_collapse.metrics.floor import class_floors
from vision_collapse.metrics.kid import kid
from vision_collapse.metrics.prdc import prdc
from vision_collapse.metrics.prior import mixture_moments, prior_matched_subset
from vision_collapse.metrics.recognise import Recogniser


def _mmd_unbiased_numpy(x, y):
    """Unbiased MMD^2 with the cubic polynomial kernel, written out with loops' worth of numpy."""
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    m = len(x)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()


def test_kid_matches_numpy_on_full_subsets():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)), rng.normal(0.5, 1.0, size=(40, 6))
    mean, std = kid(torch.from_numpy(y), torch.from_numpy(x), 40, 3, torch.Generator().manual_seed(0))
    assert np.isclose(mean, _mmd_unbiased_numpy(x, y), rtol=1e-9) and std < 1e-9  # every subset is the whole set
    same = kid(torch.from_numpy(rng.normal(size=(400, 6))), torch.from_numpy(rng.normal(size=(400, 6))), 100, 20,
               torch.Generator().manual_seed(0))
    assert abs(same[0]) < 3 * same[1] + 1e-3  # unbiased: about zero for one distribution


def _prdc_numpy(real, fake, k):
    """Precision, recall, density, coverage by explicit loops."""
    def radius(points, i):
        d = sorted(np.linalg.norm(points - points[i], axis=1))
        return d[k]  # d[0] is the point itself

    rr = [radius(real, i) for i in range(len(real))]
    fr = [radius(fake, j) for j in range(len(fake))]
    inside = [[np.linalg.norm(f - r) <= rr[i] for i, r in enumerate(real)] for f in fake]
    precision = np.mean([any(row) for row in inside])
    recall = np.mean([any(np.linalg.norm(r - f) <= fr[j] for j, f in enumerate(fake)) for r in real])
    density = sum(map(sum, inside)) / (k * len(fake))
    coverage = np.mean([min(np.linalg.norm(fake - r, axis=1)) <= rr[i] for i, r in enumerate(real)])
    return precision, recall, density, coverage


@pytest.mark.parametrize("block", [1024, 7])  # 7: distances taken in several uneven blocks
def test_prdc_matches_loops(block, monkeypatch):
    monkeypatch.setattr("vision_collapse.metrics.prdc.BLOCK", block)
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(60, 4)), rng.normal(0.7, 0.6, size=(50, 4))
    got = prdc(torch.from_numpy(real), torch.from_numpy(fake), 5)
    want = _prdc_numpy(real, fake, 5)
    assert np.allclose([got["precision"], got["recall"], got["density"], got["coverage"]], want, atol=1e-12)
    assert np.isnan(prdc(torch.from_numpy(real[:5]), torch.from_numpy(fake), 5)["precision"])


def test_class_floor_p95_is_exceeded_by_about_five_percent_of_fresh_real_draws():
    from vision_collapse.metrics.floor import fid_floor

    rng = np.random.default_rng(2)
    calibration, test = torch.from_numpy(rng.normal(size=(3000, 6))), torch.from_numpy(rng.normal(size=(40, 6)))
    (row,) = class_floors([calibration], [test], 30, 50, 20, 2, torch.Generator().manual_seed(0))
    assert row["draws"] == 50 and row["n"] == 30 and row["fid_floor_median"] < row["fid_floor_p95"]
    band = fid_floor(calibration, test, 30, 1000, torch.Generator().manual_seed(0))  # the same band, more draws
    # Fresh sets from the same distribution, never part of the floor's draws, against the same test images.
    fresh = [fid_from_features(torch.from_numpy(rng.normal(size=(30, 6))), test) for _ in range(1000)]
    above = np.mean(np.array(fresh) > band.p95)
    assert 0.02 <= above <= 0.08  # 5%, within binomial and floor-estimation error
    assert abs(np.mean(np.array(fresh) <= band.median) - 0.5) < 0.06
    (short,) = class_floors([calibration[:20]], [test], 30, 50, 20, 2, torch.Generator().manual_seed(0))
    assert short["n"] == 10 and short["fid_floor_p95"] > short["fid_floor_median"]  # half the images, a real band
    (none,) = class_floors([calibration[:3]], [test], 30, 50, 20, 2, torch.Generator().manual_seed(0))
    assert none["draws"] == 0 and np.isnan(none["fid_floor_p95"])  # one image per draw: no floor at all


def test_mixture_moments_equal_the_moments_of_the_reweighted_set():
    rng = np.random.default_rng(4)
    by_class = [torch.from_numpy(rng.normal(c, 1 + c, size=(n, 3))) for c, n in enumerate((30, 20, 50))]
    counts = np.array([3, 1, 2])  # repeat each class's rows this often: a set with prior proportional to counts * n
    stacked = np.concatenate([np.repeat(x.numpy(), k, axis=0) for x, k in zip(by_class, counts)])
    prior = counts * np.array([30, 20, 50]) / (counts * np.array([30, 20, 50])).sum()
    mean, cov = mixture_moments(by_class, prior)
    assert np.allclose(mean.numpy(), stacked.mean(0)) and np.allclose(cov.numpy(), np.cov(stacked.T, bias=True))
    sub = prior_matched_subset(by_class, np.array([0.5, 0.25, 0.25]), torch.Generator().manual_seed(0), 1000)
    assert len(sub) == 60 and len(torch.unique(sub, dim=0)) == 60  # class 0 runs out first: 30 / 0.5 rows


def test_simplex_projection():
    assert np.allclose(project_to_simplex(np.array([0.5, 0.5, 0.0])), [0.5, 0.5, 0.0])
    assert np.allclose(project_to_simplex(np.array([1.2, -0.1, -0.1])), [1.0, 0.0, 0.0])
    assert np.allclose(project_to_simplex(np.array([0.6, 0.6, -0.5])), [0.5, 0.5, 0.0])
    for v in np.random.default_rng(3).normal(size=(20, 5)):
        q = project_to_simplex(v)
        assert q.min() >= 0 and np.isclose(q.sum(), 1)
        # no point of a fine grid on the simplex is closer to v
        grid = [np.array(p) / 10 for p in itertools.product(range(11), repeat=5) if sum(p) == 10]
        assert np.linalg.norm(q - v) <= min(np.linalg.norm(p - v) for p in grid) + 1e-9


@pytest.fixture(scope="module")
def digits():
    return load_real_data(load_config(None, []).data, 0)


def test_bbse_recovers_a_skewed_prior_that_the_raw_histogram_misses(digits):
    from vision_collapse.data.images import concat

    # A classifier trained on the imbalanced subset leans toward the head; held-out real images (the pool
    # outside the subset, plus the test split) resampled to a tail-heavy prior expose that lean.
    biased = train_classifier(digits.subset, digits.test, JudgeConfig())
    in_subset = set(digits.subset.ids)
    held = concat([digits.pool.subset([i for i, x in enumerate(digits.pool.ids) if x not in in_subset]), digits.test])
    truth, judged = held.labels.numpy(), biased.predict(held.images).labels.numpy()
    confusion = confusion_matrix(truth, judged, 10)
    prior = np.array([0.01, 0.02, 0.03, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3])
    rng = np.random.default_rng(0)
    draw = np.concatenate([rng.choice(np.flatnonzero(truth == c), size=int(p * 20000)) for c, p in enumerate(prior)])
    raw = np.bincount(judged[draw], minlength=10) / len(draw)
    calibrated = calibrated_frequencies(raw, confusion)
    assert np.abs(calibrated - prior).max() < 0.02
    assert np.abs(raw - prior).max() > 0.05
    # and C q reproduces what was observed, up to the projection
    assert np.abs(confusion @ calibrated - raw).max() < 0.02


def _judge(digits, *overrides):
    """The default judge on its own pool (or one with other judge.* settings)."""
    return load_or_train_judge(digits.judge_pool, digits.test, load_config(None, list(overrides)).judge,
                               {"data": hash_images(digits.judge_pool, digits.test)})


def _recogniser(digits, judge, rates):
    """The recogniser as build_reference fits it, and the judge's prediction of the calibration split."""
    from vision_collapse.metrics.evaluate import fit_recogniser

    cal = judge.predict(digits.calibration.images)
    return fit_recogniser(digits, judge, cal, rates), cal


def test_the_recogniser_rejects_blends_and_noise_and_keeps_unseen_real_images(digits):
    from vision_collapse.metrics.junk import recogniser_report

    judge = _judge(digits)
    rates = load_config(None, []).eval.reject_rates
    rec, cal = _recogniser(digits, judge, rates)
    # Fitted on calibration, each criterion rejects its own rate there; together at most their sum.
    on_fit = rec.unrecognisable(cal.probs, cal.features, digits.calibration.images).mean()
    assert max(rates) - 0.005 <= on_fit <= sum(rates) + 0.005
    # Measured on images neither the judge nor the thresholds saw: the test split, and junk made from it.
    report = recogniser_report(rec, judge, digits.test, n=500, seed=3)
    junk = report["junk"]
    # The goal the recogniser is held to: unseen real images kept, noise and 50/50 two-digit blends rejected.
    assert report["held_out_rejected"] <= 0.02
    assert junk["uniform_noise"]["rejected"] >= 0.98
    assert junk["two_class_blend_0.5"]["rejected"] >= 0.90
    assert junk["pixel_shuffle"]["rejected"] >= 0.98 and junk["noise_blend_0.75"]["rejected"] >= 0.98
    assert junk["uniform_noise"]["auroc"] >= 0.99
    # The classes accepted junk is judged as are counted, and add up to what was accepted.
    for entry in junk.values():
        assert sum(entry["accepted_judged_as"].values()) == round(500 * (1 - entry["rejected"]))


def test_without_outlier_exposure_the_judge_passes_most_two_digit_blends(digits):
    from vision_collapse.metrics.junk import recogniser_report

    # The control for the test above: the same judge trained without outlier exposure is blind to blends,
    # so it is the exposure, not the thresholds, that rejects them.
    judge = _judge(digits, "judge.outlier_exposure=0")
    assert judge.outlier_exposure == 0 and _judge(digits).outlier_exposure == 0.5
    rec, _ = _recogniser(digits, judge, load_config(None, []).eval.reject_rates)
    report = recogniser_report(rec, judge, digits.test, n=500, seed=3)
    assert report["junk"]["two_class_blend_0.5"]["rejected"] < 0.6


def test_the_recogniser_is_fitted_on_splits_disjoint_from_the_test_split(digits, monkeypatch):
    from vision_collapse.metrics import evaluate

    ids = {name: set(getattr(digits, name).ids) for name in ("judge_pool", "calibration", "test")}
    assert not ids["test"] & ids["calibration"] and not ids["test"] & ids["judge_pool"]
    assert not ids["calibration"] & ids["judge_pool"]
    seen = {}
    fit = Recogniser.fit

    def spy(probs, features, images, by_class, pixels_by_class, rates):
        seen.update(images=images, bank=sum(len(f) for f in by_class), pixels=sum(len(p) for p in pixels_by_class))
        return fit(probs, features, images, by_class, pixels_by_class, rates)

    monkeypatch.setattr(evaluate.Recogniser, "fit", staticmethod(spy))
    cfg = load_config(None, ["eval.floor_draws=10", "eval.cas_epochs=0"])
    evaluate.build_reference(digits, _judge(digits), None, None, cfg)
    # By construction: the thresholds see the calibration images, the distances the judge pool, nothing else.
    assert seen["images"] is digits.calibration.images
    assert seen["bank"] == seen["pixels"] == len(digits.judge_pool)


def test_features_do_not_depend_on_the_batch_size(digits):
    judge = _judge(digits)
    a = judge.predict(digits.test.images, batch_size=2048)
    b = judge.predict(digits.test.images, batch_size=7)
    assert torch.allclose(a.features, b.features, atol=1e-5) and torch.equal(a.labels, b.labels)
    assert np.isclose(fid_from_features(a.features, a.features[:100]),
                      fid_from_features(b.features, b.features[:100]), rtol=1e-5)


def test_inception_without_weights_is_one_line_not_a_download(tmp_path, monkeypatch):
    from vision_collapse.metrics.backbone import feature_extractor

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(UserError, match="needs the FID InceptionV3 weights .* eval.inception_weights=PATH"):
        feature_extractor(EvalConfig(backbone="inception"), judge=None)
    with pytest.raises(UserError, match="eval.inception_weights"):
        feature_extractor(EvalConfig(backbone="inception", inception_weights=str(tmp_path / "missing.pth")), judge=None)


def test_inception_backbone_runs_from_a_weights_file(tmp_path, monkeypatch):
    from torchmetrics.image.fid import NoTrainInceptionV3

    from vision_collapse.metrics.backbone import feature_extractor

    # No real weights offline: a file that loads, with the state-dict load skipped, exercises the path
    # from uint8 images (grey ones included) to 2048-d pool features.
    weights = tmp_path / "pt_inception.pth"
    torch.save({}, weights)
    monkeypatch.setattr(NoTrainInceptionV3, "load_state_dict", lambda self, state, *a, **k: None)
    torch.manual_seed(0)
    extract = feature_extractor(EvalConfig(backbone="inception", inception_weights=str(weights)), judge=None,
                                batch_size=3)
    grey = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    feats = extract(grey)
    assert feats.shape == (5, 2048) and feats.dtype == torch.float64
    assert torch.allclose(feats, extract(grey.expand(-1, 3, -1, -1)))  # grey is repeated to RGB


def test_training_outliers_are_blends_of_two_classes_in_the_weight_range():
    from vision_collapse.metrics.outliers import BLEND_RANGE, training_outliers

    # Constant images of two classes (-1 for class 0, +1 for class 1): a blend at weight w of a class-0 image with
    # a class-1 partner is the constant 1 - 2w, and of a class-1 image with a class-0 partner 2w - 1.
    x = torch.stack([torch.full((1, 2, 2), v) for v in (-1.0, 1.0, -1.0, 1.0, 1.0)])
    y = torch.tensor([0, 1, 0, 1, 1])
    low, high = BLEND_RANGE
    for seed in range(50):
        out = training_outliers(x, y, torch.Generator().manual_seed(seed))
        flat = out.flatten(1)
        assert (flat == flat[:, :1]).all()  # no noise: every outlier is a blend of two constants
        # A same-class pair never comes back (its blend is the image itself, +-1); every value is a weight in range.
        weights = np.abs(flat[:, 0].numpy() - 1) / 2  # the constant 1 - 2w or 2w - 1 gives w or 1 - w
        assert ((weights >= min(low, 1 - high) - 1e-6) & (weights <= max(high, 1 - low) + 1e-6)).all()
    # Over many draws the count equals the other-class pairs of the permutation, counted independently.
    g = torch.Generator().manual_seed(7)
    expected = (y[torch.randperm(5, generator=g)] != y).sum().item()
    assert len(training_outliers(x, y, torch.Generator().manual_seed(7))) == expected


def test_ci_text_is_the_one_interval_format_for_numbers_and_csv_strings():
    from vision_collapse.metrics.aggregate import ci_text

    row = {"x": 0.1234, "x_low": -0.02, "x_high": 0.2666}
    assert ci_text(row, "x") == "+0.123 [-0.020, +0.267]"
    assert ci_text(row, "x", "") == "0.123 [-0.020, 0.267]"
    assert ci_text({k: str(v) for k, v in row.items()}, "x") == "+0.123 [-0.020, +0.267]"
    assert ci_text({"x": float("nan")}, "x") == ci_text({"x": "nan"}, "x") == ci_text({}, "x") == "–"
