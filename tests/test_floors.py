"""Per-class floors that are what they say: a perfect generator (unseen real images) reads above a class's
fid_floor_p95 in 5% of (class, draw) pairs, on a layout with exactly 50 calibration images per class and on
digits; a class too small for an honest floor is evaluated at a smaller n, never given a zero-width band."""

import numpy as np
import pytest
import torch

from vision_collapse.metrics.fid import fid_from_features
from vision_collapse.metrics.floor import class_floors, class_size, fid_floor, spread_factor

ALPHA = 0.05


def _exceed_rate(worlds) -> tuple[float, int]:
    """Share of (class, draw) pairs whose perfect sample's FID exceeds its class's p95; each world gives per class
    (calibration features, test features, perfect features) drawn fresh and disjoint."""
    above, pairs = 0, 0
    generator = torch.Generator().manual_seed(0)
    for world in worlds:
        for cal, test, perfect in world:
            band = fid_floor(cal, test, 50, 50, generator)
            above += fid_from_features(perfect[: class_size(len(cal), 50)], test) > band.p95
            pairs += 1
    return above / pairs, pairs


def _assert_five_percent(rate: float, pairs: int) -> None:
    se = np.sqrt(ALPHA * (1 - ALPHA) / pairs)
    assert abs(rate - ALPHA) <= 3 * se, f"perfect generator above the p95 in {rate:.3f} of {pairs} pairs"


def test_an_honest_floor_is_wider_than_draws_from_a_small_pool_and_never_zero_width():
    assert class_size(72, 50) == 36 and class_size(50, 50) == 25 and class_size(200, 50) == 50
    assert spread_factor(50, 25) == pytest.approx(2.0)
    # Exactly n calibration images: the old floor drew the same set every time (width 0); now half of them.
    rng = np.random.default_rng(0)
    cal = [torch.from_numpy(rng.normal(size=(50, 4)))]
    row = class_floors(cal, [torch.from_numpy(rng.normal(size=(40, 4)))], 50, 20, 10, 2, torch.Generator())[0]
    assert row["n"] == 25 and row["draw_share"] == 0.5 and row["fid_floor_p95"] > row["fid_floor_median"]


@pytest.mark.slow
def test_a_perfect_generator_exceeds_the_p95_five_percent_of_the_time_with_fifty_calibration_images():
    rng = np.random.default_rng(1)
    dim, classes = 6, 10
    means = rng.normal(scale=2, size=(classes, dim))
    scales = rng.uniform(0.5, 1.5, size=(classes, dim))

    def draw(c, k):
        return torch.from_numpy(means[c] + scales[c] * rng.normal(size=(k, dim)))

    worlds = [[(draw(c, 50), draw(c, 36), draw(c, 25)) for c in range(classes)] for _ in range(100)]
    _assert_five_percent(*_exceed_rate(worlds))


@pytest.mark.slow
def test_a_perfect_generator_exceeds_the_p95_five_percent_of_the_time_on_digits():
    from vision_collapse.config import load_config
    from vision_collapse.data import hash_images, load_real_data
    from vision_collapse.metrics.classifier import load_or_train_judge

    cfg = load_config(None, [])
    real = load_real_data(cfg.data, cfg.seed)
    judge = load_or_train_judge(real.judge_pool, real.test, cfg.judge, {"data": hash_images(real.judge_pool, real.test)})
    # Every digit image the judge never trained on, per class: the calibration and test splits (about 108).
    unseen = torch.cat([judge.predict(real.calibration.images).features, judge.predict(real.test.images).features])
    labels = torch.cat([real.calibration.labels, real.test.labels])
    rng = np.random.default_rng(2)
    worlds = []
    for _ in range(40):  # each world splits every class afresh: test 30, calibration 48, a perfect sample of 24
        world = []
        for c in range(10):
            rows = unseen[labels == c][torch.from_numpy(rng.permutation(int((labels == c).sum())))]
            world.append((rows[30:78], rows[:30], rows[78:102]))
        worlds.append(world)
    _assert_five_percent(*_exceed_rate(worlds))
