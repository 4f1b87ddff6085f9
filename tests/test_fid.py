"""Per-class FID against an independent scipy computation."""

import numpy as np
import scipy.linalg
import torch

from vision_collapse.metrics.fid import fid_from_features, per_class_fid


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook FID with scipy's general matrix square root."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_global_fid_matches_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 16))
    b = rng.normal(loc=0.3, scale=1.5, size=(300, 16)) @ rng.normal(size=(16, 16)) * 0.5
    ours = fid_from_features(torch.from_numpy(a), torch.from_numpy(b))
    assert abs(ours - scipy_fid(a, b)) <= 1e-6 * abs(scipy_fid(a, b))


def test_per_class_fid_matches_scipy_per_class():
    rng = np.random.default_rng(1)
    classes, dim = 4, 12
    gen_labels = rng.integers(0, classes, size=600)
    real_labels = rng.integers(0, classes, size=500)
    gen = rng.normal(size=(600, dim)) + gen_labels[:, None] * 0.7
    real = rng.normal(scale=1.2, size=(500, dim)) + real_labels[:, None]
    ours = per_class_fid(torch.from_numpy(gen), torch.from_numpy(gen_labels), torch.from_numpy(real),
                         torch.from_numpy(real_labels), classes)
    for c in range(classes):
        ref = scipy_fid(gen[gen_labels == c], real[real_labels == c])
        assert abs(ours[c] - ref) <= 1e-6 * abs(ref)


def test_class_with_too_few_samples_is_nan():
    feats = torch.randn(10, 3, dtype=torch.float64)
    labels = torch.tensor([0] * 9 + [1])
    fids = per_class_fid(feats, labels, feats, labels, 3)
    assert not np.isnan(fids[0]) and np.isnan(fids[1]) and np.isnan(fids[2])


def test_identical_sets_have_zero_fid():
    feats = torch.randn(200, 8, dtype=torch.float64)
    assert abs(fid_from_features(feats, feats)) < 1e-8


def test_fewer_samples_than_dimensions_matches_scipy():
    # The low-rank route (n, m < D): compare with the textbook formula where scipy's sqrtm is still stable.
    rng = np.random.default_rng(5)
    for n, m in [(20, 30), (40, 12), (2, 3)]:
        a = rng.normal(size=(n, 48))
        b = rng.normal(loc=0.2, scale=1.3, size=(m, 48))
        ref = scipy_fid(a, b)
        assert abs(fid_from_features(torch.from_numpy(a), torch.from_numpy(b)) - ref) <= 1e-6 * abs(ref)


def test_distances_to_a_fixed_reference_match_scipy_with_few_and_many_rows():
    from vision_collapse.metrics.fid import FrechetReference

    rng = np.random.default_rng(3)
    mix = rng.normal(size=(12, 12))
    ref = rng.normal(size=(400, 12)) @ mix
    fixed = FrechetReference(torch.from_numpy(ref.mean(0)), torch.from_numpy(np.cov(ref, rowvar=False)))
    for n in (8, 30, 300):  # fewer rows than dimensions, and more
        draw = rng.normal(size=(n, 12)) @ mix * 1.1 + 0.3
        assert np.isclose(fixed.distance(torch.from_numpy(draw)), scipy_fid(draw, ref), rtol=1e-6, atol=1e-8)
