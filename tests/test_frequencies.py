"""The headline class-frequency numbers against scipy and hand-computed values."""

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from vision_collapse.metrics import frequencies as fq


def test_shares_of_counts_and_of_nothing():
    assert fq.shares(np.array([3, 1, 0, 4])).tolist() == [0.375, 0.125, 0.0, 0.5]
    assert fq.shares(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]


def test_head_and_tail_by_real_count_ties_in_class_order():
    head, tail = fq.head_and_tail(np.array([40, 90, 5, 90, 2, 7, 30, 1, 12, 3]), 0.3)
    assert head == 1  # 90 twice: the earlier class
    assert tail.tolist() == [4, 7, 9]  # the three rarest: 2, 1 and 3 images
    assert fq.head_and_tail(np.array([5, 1]), 0.01)[1].tolist() == [1]  # at least one tail class


def test_head_and_tail_shares():
    freq = np.array([0.5, 0.2, 0.1, 0.15, 0.05])
    assert fq.head_and_tail_shares(freq, 0, np.array([3, 4])) == pytest.approx((0.5, 0.2))


def test_entropy_matches_scipy_and_ignores_absent_classes():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.dirichlet(np.ones(8))
        p[rng.integers(0, 8)] = 0
        p /= p.sum()
        assert fq.entropy(p) == pytest.approx(scipy_entropy(p), rel=1e-12)
    assert fq.entropy(np.array([1.0, 0, 0])) == 0
    assert fq.entropy(np.full(4, 0.25)) == pytest.approx(np.log(4))


def test_kl_matches_scipy_after_the_floor():
    p, q = np.array([0.7, 0.3, 0.0]), np.array([0.5, 0.25, 0.25])
    floored = lambda v: (v + fq.FREQ_FLOOR) / (v + fq.FREQ_FLOOR).sum()  # noqa: E731
    assert fq.kl_divergence(p, q) == pytest.approx(scipy_entropy(floored(p), floored(q)), rel=1e-12)
    assert fq.kl_divergence(q, q) == pytest.approx(0, abs=1e-15)
    # a class present in p and absent from q costs log(share / floor): large but finite
    assert np.isfinite(fq.kl_divergence(q, p)) and fq.kl_divergence(q, p) > 2


def test_total_variation_by_hand():
    assert fq.total_variation(np.array([0.5, 0.5, 0]), np.array([0.25, 0.25, 0.5])) == pytest.approx(0.5)
    assert fq.total_variation(np.array([1.0, 0]), np.array([0, 1.0])) == 1


def test_js_divergence_matches_scipy_and_stays_finite_when_a_class_vanishes():
    from scipy.spatial.distance import jensenshannon

    p, q = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.25, 0.25, 0.25, 0.25])
    assert fq.js_divergence(p, q) == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-12)
    assert fq.js_divergence(np.array([1.0, 0]), np.array([0, 1.0])) == pytest.approx(np.log(2))
    assert np.isnan(fq.js_divergence(np.full(4, np.nan), q))
