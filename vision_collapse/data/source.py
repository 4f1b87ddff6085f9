"""What a dataset reader hands over: decoded arrays, or a list of files to decode, with official splits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from vision_collapse.data.decode import DecodeJob, decode_all
from vision_collapse.data.images import LabelledImages, converted, resized

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


class DatasetReader(Protocol):
    """What each dataset module (digits.py, cifar10.py, ...) declares and provides."""

    NAME: str  # the data.name that selects it
    DEFAULT_ROOT: str  # where it is looked for when data.root is '' ('' means nowhere)
    RESOLUTION: int  # default side length (data.resolution=0)
    CHANNELS: int  # default channel count (data.channels=0)
    EMBEDDED: bool  # shipped inside a Python package: needs no root and no decode cache
    CAN_DOWNLOAD: bool  # data.download=true may fetch it
    LAYOUT: str  # the folder layout it expects, for error messages
    HOW: str  # how to get it, for error messages

    def read(self, root: Path | None, cfg) -> "Source":
        """The dataset's classes and images (arrays or files to decode)."""

    def survey(self, root: Path | None) -> dict:
        """A few facts for `vision-collapse datasets`, cheaply, without decoding."""


def split_per_class(everything: LabelledImages, test_fraction: float,
                    seed: int = SPLIT_SEED) -> tuple[LabelledImages, LabelledImages]:
    """(train, test) with round(test_fraction * n_c) of each class held out, the same every time."""
    rng = np.random.default_rng(seed)
    labels = everything.labels.numpy()
    test = []
    for c in range(everything.num_classes):
        members = np.flatnonzero(labels == c)
        test.extend(rng.choice(members, size=int(round(test_fraction * len(members))), replace=False).tolist())
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test] = True
    return everything.subset(np.flatnonzero(~is_test)), everything.subset(np.flatnonzero(is_test))


def materialise(source: Source, cfg, resolution: int, channels: int) -> tuple[LabelledImages, LabelledImages, list[str]]:
    """(train, test, skipped files) of a source at the requested resolution and channels (cfg: DataConfig)."""
    if source.train is not None:
        parts = [converted(resized(p, resolution), channels) for p in (source.train, source.test)]
        return parts[0], parts[1], []
    skipped: list[str] = []

    def decode(entries, desc):
        images, kept, failed = decode_all([e.job for e in entries], resolution, channels, cfg.skip_corrupt, desc)
        skipped.extend(failed)
        return LabelledImages(torch.from_numpy(images), torch.tensor([entries[i].label for i in kept], dtype=torch.int64),
                              tuple(entries[i].item_id for i in kept), source.class_names)

    train = decode(source.train_files, f"{cfg.name} train")
    if source.test_files is None:
        train, test = split_per_class(train, cfg.test_fraction)
    else:
        test = decode(source.test_files, f"{cfg.name} test")
    return train, test, skipped
