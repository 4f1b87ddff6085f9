"""Imbalance profiles and the deterministic imbalanced training subset."""

from __future__ import annotations

import difflib
import math

import numpy as np

from vision_collapse.config import DataConfig
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


def step_profile_counts(n_max: int, imbalance_factor: float, num_classes: int) -> list[int]:
    """Step profile by rank: the first floor(C/2) ranks get n_max, the rest floor(n_max / IF)."""
    many = num_classes // 2
    return [n_max] * many + [int(math.floor(n_max / imbalance_factor + 1e-9))] * (num_classes - many)


def dominant_profile_counts(n_max: int, share: float, num_classes: int) -> list[int]:
    """The head (rank 0) holds `share` of the subset; the other classes split the rest evenly."""
    if num_classes == 1:
        return [n_max]
    rest = int(math.floor(n_max * (1 - share) / (share * (num_classes - 1)) + 1e-9))
    return [n_max] + [rest] * (num_classes - 1)


def unknown_class_message(name: str, class_names, key: str) -> str:
    """One line naming an unknown class and the nearest real one."""
    near = difflib.get_close_matches(str(name), list(class_names), n=1, cutoff=0.5)
    if near:
        hint = f"did you mean {near[0]!r}?"
    elif len(class_names) <= 12:
        hint = f"choose one of {', '.join(class_names)}"
    else:
        hint = "`vision-collapse datasets NAME` lists the classes"
    return f"{key}: {name!r} is not a class of this dataset; {hint}"


def class_order(class_names: tuple[str, ...], head: str, order: str = "given", seed: int = 0) -> list[int]:
    """Class indices by rank: the head first, then the rest in class order or shuffled by `seed`."""
    if head and head not in class_names:
        raise UserError(unknown_class_message(head, class_names, "data.head"))
    first = class_names.index(head) if head else 0
    rest = [c for c in range(len(class_names)) if c != first]
    if order == "seeded":
        rest = [rest[i] for i in np.random.default_rng(seed).permutation(len(rest))]
    return [first] + rest


def profile_counts(cfg: DataConfig, names_by_rank: list[str], available_by_rank: np.ndarray) -> list[int]:
    """How many images each rank gets under cfg.imbalance."""
    num = len(names_by_rank)
    if cfg.imbalance == "custom":
        missing = [n for n in names_by_rank if n not in cfg.custom]
        unknown = [n for n in cfg.custom if n not in names_by_rank]
        if unknown:
            raise UserError(unknown_class_message(unknown[0], names_by_rank, "data.custom"))
        if missing:
            raise UserError(f"data.custom gives no count for {', '.join(map(repr, missing))}; "
                            "name every class (or pick classes with data.classes)")
        values = np.array([float(cfg.custom[n]) for n in names_by_rank])
        if abs(values.sum() - 1) > 1e-6 or values.max() > 1:  # counts
            return [int(v) for v in values]
        # Proportions: the largest total every class can supply, capped so the head holds at most n_max.
        positive = values > 0
        total = float(np.min(available_by_rank[positive] / values[positive]))
        if cfg.n_max:
            total = min(total, cfg.n_max / values.max())
        return [int(math.floor(p * total + 1e-9)) for p in values]
    if cfg.imbalance == "dominant":
        n_max = cfg.n_max or _largest_dominant_head(cfg.dominant_share, available_by_rank)
        return dominant_profile_counts(n_max, cfg.dominant_share, num)
    n_max = cfg.n_max or int(available_by_rank.min())  # the largest head size every rank can still satisfy
    if cfg.imbalance == "exp":
        return exp_profile_counts(n_max, cfg.imbalance_factor, num)
    if cfg.imbalance == "step":
        return step_profile_counts(n_max, cfg.imbalance_factor, num)
    return [n_max] * num


def _largest_dominant_head(share: float, available_by_rank: np.ndarray) -> int:
    """The largest head count the pool allows under the dominant profile."""
    if len(available_by_rank) == 1:
        return int(available_by_rank[0])
    per_rest = (1 - share) / (share * (len(available_by_rank) - 1))  # rest count per head image
    return int(min(available_by_rank[0], math.floor(available_by_rank[1:].min() / per_rest + 1e-9)))


def build_imbalanced_subset(
    pool: LabelledImages,
    cfg: DataConfig,  # imbalance, imbalance_factor, n_max, dominant_share, custom, head, order
    seed: int,  # the experiment seed: orders the classes when data.order=seeded
    draw_seed: int | None = None,  # picks which images of each class are kept; None: `seed`
) -> LabelledImages:
    """Draw a class-imbalanced subset of `pool`, the same for the same seeds."""
    order = class_order(pool.class_names, cfg.head, cfg.order, seed)
    available = pool.class_counts()
    names = [pool.class_names[c] for c in order]
    counts_by_rank = profile_counts(cfg, names, available[order])
    rng = np.random.default_rng(seed if draw_seed is None else draw_seed)
    labels = pool.labels.numpy()
    chosen = []
    for rank, c in enumerate(order):
        want, name = counts_by_rank[rank], pool.class_names[c]
        if want < 2:
            raise UserError(f"data.imbalance={cfg.imbalance} leaves class {name!r} with {want} image(s); "
                            "lower data.imbalance_factor, raise data.n_max or change the profile")
        if want > available[c]:
            raise UserError(f"class {name!r} needs {want} images but the pool has {available[c]}; lower data.n_max")
        members = np.flatnonzero(labels == c)
        chosen.extend(sorted(rng.choice(members, size=want, replace=False).tolist()))
    return pool.subset(sorted(chosen))
