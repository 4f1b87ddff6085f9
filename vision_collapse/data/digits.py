"""scikit-learn's bundled handwritten digits: 1,797 real 8x8 images in 10 classes, no download."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from vision_collapse.data.images import LabelledImages
from vision_collapse.data.source import Source, split_per_class

NAME = "digits"
DEFAULT_ROOT = ""  # embedded in scikit-learn
RESOLUTION, CHANNELS = 8, 1
EMBEDDED = True  # shipped inside a Python package: no data.root, nothing to cache
CAN_DOWNLOAD = False  # data.download=true may fetch it into data.root
LAYOUT = "(embedded in scikit-learn)"
HOW = "bundled with scikit-learn; nothing to download"


def read(root: Path | None, cfg) -> Source:
    """All 1,797 digits, held out per class by data.test_fraction."""
    bunch = load_digits()
    # Digits store ink as 0..16; stretch to the full uint8 range.
    images = torch.from_numpy(np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    names = tuple(str(n) for n in bunch.target_names)
    everything = LabelledImages(images, labels, tuple(f"real/digits/{i}" for i in range(len(labels))), names)
    train, test = split_per_class(everything, cfg.test_fraction)
    return Source(names, train, test)


def survey(root: Path | None) -> dict:
    """Classes and split sizes without decoding (here: the whole set is in memory anyway)."""
    return {"classes": 10, "images": 1797, "split": "data.test_fraction per class"}


def load_digits_split(test_fraction: float) -> tuple[LabelledImages, LabelledImages]:
    """(train pool, held-out test) of the digits."""
    from vision_collapse.config import DataConfig

    source = read(None, DataConfig(test_fraction=test_fraction))
    return source.train, source.test
