"""Imbalance profile and subset construction."""

import numpy as np
import pytest
import torch

from vision_collapse.config import DataConfig
from vision_collapse.data.digits import load_digits_split
from vision_collapse.data.images import LabelledImages
from vision_collapse.data.imbalance import build_imbalanced_subset, exp_profile_counts
from vision_collapse.errors import UserError


def test_cifar10_lt_counts():
    assert exp_profile_counts(5000, 100, 10) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


def test_exp_profile_matches_formula():
    expected = [int(np.floor(200 * (1 / 20) ** (c / 6))) for c in range(7)]
    assert exp_profile_counts(200, 20, 7) == expected


def _pool(per_class=30, classes=4):
    labels = torch.arange(classes).repeat_interleave(per_class)
    images = torch.zeros((len(labels), 1, 4, 4), dtype=torch.uint8)
    return LabelledImages(images, labels, tuple(f"real/x/{i}" for i in range(len(labels))), tuple("abcd"[:classes]))


def test_subset_counts_head_and_determinism():
    pool = _pool()
    sub = build_imbalanced_subset(pool, DataConfig(imbalance_factor=10, n_max=20, head="c"), seed=3)
    counts = sub.class_counts()
    assert counts[2] == 20  # the head
    assert sorted(counts.tolist(), reverse=True) == exp_profile_counts(20, 10, 4)
    assert counts.tolist() == [9, 4, 20, 2]  # rank order: c, a, b, d
    again = build_imbalanced_subset(pool, DataConfig(imbalance_factor=10, n_max=20, head="c"), seed=3)
    assert again.ids == sub.ids
    other = build_imbalanced_subset(pool, DataConfig(imbalance_factor=10, n_max=20, head="c"), seed=4)
    assert other.ids != sub.ids


def test_too_few_images_names_the_class():
    with pytest.raises(UserError, match="class 'c' with 0 image"):
        build_imbalanced_subset(_pool(), DataConfig(imbalance_factor=100, n_max=20, head="a"), seed=0)


def test_unknown_head():
    with pytest.raises(UserError, match="data.head"):
        build_imbalanced_subset(_pool(), DataConfig(imbalance_factor=10, n_max=20, head="z"), seed=0)


def test_digits_split_is_disjoint_and_stratified():
    pool, test = load_digits_split(0.2)
    assert len(pool) + len(test) == 1797
    assert not set(pool.ids) & set(test.ids)
    share = test.class_counts() / (test.class_counts() + pool.class_counts())
    assert np.all(np.abs(share - 0.2) < 0.01)
