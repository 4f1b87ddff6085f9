"""The noise floor of a per-class FID: what FID reads between two real samples of the same size."""

from __future__ import annotations

import numpy as np
import torch

from vision_collapse.metrics.fid import fid_from_features


def fid_floor(real: torch.Tensor, n: int, repeats: int, generator: torch.Generator) -> float:
    """Mean FID between two disjoint random halves of `real` features, each min(n, len(real)//2) rows."""
    m = min(n, len(real) // 2)
    if m < 2:
        return float("nan")
    values = []
    for _ in range(repeats):
        perm = torch.randperm(len(real), generator=generator)
        values.append(fid_from_features(real[perm[:m]], real[perm[m : 2 * m]]))
    return float(np.mean(values))
