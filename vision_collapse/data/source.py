"""What a dataset reader hands over: decoded arrays, or a list of files to decode, with official splits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vision_collapse.data.decode import DecodeJob
from vision_collapse.data.images import LabelledImages

SPLIT_SEED = 12345  # fixed, so a per-class held-out split (and the cached judge) is shared by every experiment seed


@dataclass(frozen=True)
class FileEntry:
    """One image file of a dataset."""

    job: DecodeJob
    label: int
    item_id: str  # 'real/<dataset>/<relative path>'


@dataclass(frozen=True)
class Source:
    """A dataset as read from disk: either arrays (train/test) or files to decode (train/test entries)."""

    class_names: tuple[str, ...]
    train: LabelledImages | None = None
    test: LabelledImages | None = None
    train_files: list[FileEntry] = field(default_factory=list)
    test_files: list[FileEntry] | None = None  # None: no official split; hold out data.test_fraction per class


def split_per_class(everything: LabelledImages, test_fraction: float) -> tuple[LabelledImages, LabelledImages]:
    """(train, test) with round(test_fraction * n_c) of each class held out, the same every time."""
    rng = np.random.default_rng(SPLIT_SEED)
    labels = everything.labels.numpy()
    test = []
    for c in range(everything.num_classes):
        members = np.flatnonzero(labels == c)
        test.extend(rng.choice(members, size=int(round(test_fraction * len(members))), replace=False).tolist())
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test] = True
    return everything.subset(np.flatnonzero(~is_test)), everything.subset(np.flatnonzero(is_test))
