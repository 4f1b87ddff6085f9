"""Imbalance profiles and the deterministic imbalanced training subset."""

from __future__ import annotations

import math

import numpy as np

from vision_collapse.data.images import LabelledImages
from vision_collapse.errors import UserError


def exp_profile_counts(n_max: int, imbalance_factor: float, num_classes: int) -> list[int]:
    """CIFAR-LT long-tail counts by rank: n_c = floor(n_max * (1/IF) ** (c / (C - 1)))."""
    if num_classes == 1:
        return [int(n_max)]
    # The 1e-9 guards exact powers (e.g. IF=100 at c=C-1 must give n_max/100, not one less) against rounding.
    return [
        int(math.floor(n_max * (1.0 / imbalance_factor) ** (c / (num_classes - 1)) + 1e-9))
        for c in range(num_classes)
    ]


def class_order(class_names: tuple[str, ...], head: str) -> list[int]:
    """Class indices by rank: the head first, then the rest in class order."""
    if head not in class_names:
        raise UserError(f"data.head={head!r} is not a class; choose one of {', '.join(class_names)}")
    first = class_names.index(head)
    return [first] + [c for c in range(len(class_names)) if c != first]


def build_imbalanced_subset(
    pool: LabelledImages,
    profile: str,  # 'exp' or 'none'
    imbalance_factor: float,  # head count / rarest count for 'exp'
    n_max: int,  # images of the head class; 0 = as many as the scarcest class allows
    head: str,  # name of the head class
    seed: int,  # picks which images of each class are kept
) -> LabelledImages:
    """Draw a class-imbalanced subset of `pool`, the same for the same seed."""
    order = class_order(pool.class_names, head)
    available = pool.class_counts()
    if n_max == 0:
        n_max = int(available.min())  # the largest head size every rank can still satisfy
    counts_by_rank = (
        exp_profile_counts(n_max, imbalance_factor, len(order)) if profile == "exp" else [n_max] * len(order)
    )
    rng = np.random.default_rng(seed)
    labels = pool.labels.numpy()
    chosen = []
    for rank, c in enumerate(order):
        want, name = counts_by_rank[rank], pool.class_names[c]
        if want < 2:
            raise UserError(
                f"imbalance leaves class {name!r} with {want} image(s); lower data.imbalance_factor or raise data.n_max"
            )
        if want > available[c]:
            raise UserError(
                f"class {name!r} needs {want} images but the pool has {available[c]}; lower data.n_max"
            )
        members = np.flatnonzero(labels == c)
        chosen.extend(sorted(rng.choice(members, size=want, replace=False).tolist()))
    return pool.subset(sorted(chosen))
