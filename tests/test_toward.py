"""`toward_head` reads t for real features of a class shifted by t of the way to the head, within its floor's spread,
and a perfect generator exceeds the floor's p95 5% of the time; `head_absorption` reads the share of the tail's
lost mass the head took, against proportional renormalisation."""

import numpy as np
import pytest
import torch

from vision_collapse.metrics.toward import head_absorption, toward_head, toward_head_floor

DIM, N_CAL, N_TEST, N = 12, 70, 36, 35


def _world(rng: np.random.Generator):
    """Two Gaussian classes (class c, head): calibration and test features of c, test features of the head."""
    mu_c, mu_h = rng.normal(size=DIM), rng.normal(size=DIM) + 3
    scale = rng.uniform(0.5, 1.5, size=DIM)

    def draw(mu, k):
        return torch.from_numpy(mu + scale * rng.normal(size=(k, DIM)))

    return mu_c, mu_h, draw


def _reference_projection(samples: np.ndarray, own: np.ndarray, head: np.ndarray) -> float:
    """The projection written out with numpy, independently of the library."""
    d = head - own
    return float(np.dot(samples.mean(axis=0) - own, d) / np.dot(d, d))


@pytest.mark.parametrize("t", [0.0, 0.3, 0.7, 1.0])
def test_real_features_shifted_by_t_toward_the_head_read_t_within_the_floors_spread(t):
    rng = np.random.default_rng(int(t * 10))
    mu_c, mu_h, draw = _world(rng)
    own, head = draw(mu_c, N_TEST).mean(0), draw(mu_h, N_TEST).mean(0)
    shifted = draw(mu_c, N) + torch.from_numpy(t * (mu_h - mu_c))
    value = toward_head(shifted, own, head)
    assert value == pytest.approx(_reference_projection(shifted.numpy(), own.numpy(), head.numpy()), abs=1e-12)
    band = toward_head_floor(draw(mu_c, N_CAL), own, head, N, 50, torch.Generator().manual_seed(0))
    spread = band.p95 - band.median
    assert 0 < spread < 0.2
    # p95 - median is 1.645 standard deviations of a perfect generator's value; two-sided 99% is about 1.6 of it.
    assert abs(value - t) <= 1.6 * spread, (value, t, band)


def test_toward_head_is_nan_without_samples_or_direction():
    x = torch.ones(3, DIM, dtype=torch.float64)
    assert np.isnan(toward_head(torch.zeros(0, DIM), x[0], x[1] + 1))
    assert np.isnan(toward_head(x, x[0], x[0]))
    assert toward_head(x, torch.zeros(DIM), x[0]) == pytest.approx(1.0)


@pytest.mark.slow
def test_a_perfect_generator_exceeds_the_toward_head_p95_five_percent_of_the_time():
    rng = np.random.default_rng(7)
    generator = torch.Generator().manual_seed(3)
    above, worlds = 0, 1500
    for _ in range(worlds):
        mu_c, mu_h, draw = _world(rng)
        own, head = draw(mu_c, N_TEST).mean(0), draw(mu_h, N_TEST).mean(0)
        band = toward_head_floor(draw(mu_c, N_CAL), own, head, N, 50, generator)
        above += toward_head(draw(mu_c, N), own, head) > band.p95
    rate, se = above / worlds, np.sqrt(0.05 * 0.95 / worlds)
    assert abs(rate - 0.05) <= 3 * se, f"perfect generator above the p95 in {rate:.3f} of {worlds} worlds"


def test_head_absorption_against_constructed_histograms():
    before = np.array([0.40, 0.20, 0.15, 0.10, 0.09, 0.06])
    head, tail = 0, [4, 5]
    lost = 0.10
    all_to_head = before.copy()
    all_to_head[[4, 5]] -= [0.05, 0.05]
    all_to_head[0] += lost
    # The head took all of it; proportionally it would have taken 0.40 / (1 - 0.15) of it.
    assert head_absorption(before, all_to_head, head, tail) == pytest.approx((1 - 0.15) / 0.40)
    proportional = before.copy()
    proportional[[4, 5]] *= 1 - lost / 0.15
    proportional[:4] *= (1 - proportional[[4, 5]].sum()) / before[:4].sum()
    assert proportional.sum() == pytest.approx(1.0)
    assert head_absorption(before, proportional, head, tail) == pytest.approx(1.0)
    none_to_head = before.copy()
    none_to_head[[4, 5]] -= [0.05, 0.05]
    none_to_head[1] += lost
    assert head_absorption(before, none_to_head, head, tail) == pytest.approx(0.0)
    assert np.isnan(head_absorption(before, before, head, tail))  # the tail lost nothing
