"""scikit-learn's bundled handwritten digits: 1,797 real 8x8 images in 10 classes, no download."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits

from vision_collapse.data.images import LabelledImages

SPLIT_SEED = 12345  # fixed, so the held-out split (and the cached judge) is shared by every experiment seed


def load_digits_split(test_fraction: float) -> tuple[LabelledImages, LabelledImages]:
    """Return (train pool, held-out test), split per class so each class keeps `test_fraction` for testing."""
    bunch = load_digits()
    # Digits store ink as 0..16; stretch to the full uint8 range.
    images = torch.from_numpy(np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    names = tuple(str(n) for n in bunch.target_names)
    everything = LabelledImages(images, labels, tuple(f"real/digits/{i}" for i in range(len(labels))), names)
    rng = np.random.default_rng(SPLIT_SEED)
    test = []
    for c in range(len(names)):
        members = np.flatnonzero(bunch.target == c)
        test.extend(rng.choice(members, size=int(round(test_fraction * len(members))), replace=False).tolist())
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test] = True
    return everything.subset(np.flatnonzero(~is_test)), everything.subset(np.flatnonzero(is_test))
