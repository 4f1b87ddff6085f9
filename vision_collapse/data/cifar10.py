"""CIFAR-10 from the python archive's folder (cifar-10-batches-py), as torchvision unpacks it."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from vision_collapse.data.images import LabelledImages
from vision_collapse.data.source import Source
from vision_collapse.errors import UserError

NAME = "cifar10"
DEFAULT_ROOT = ""
RESOLUTION, CHANNELS = 32, 3
EMBEDDED = False  # shipped inside a Python package: no data.root, nothing to cache
CAN_DOWNLOAD = True  # data.download=true may fetch it into data.root
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
LAYOUT = f"ROOT/{FOLDER}/data_batch_1..5, test_batch, batches.meta"
HOW = "unpack cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html into ROOT, or set data.download=true"


def _unpickle(path: Path) -> dict:
    """One batch file (a pickled dict with bytes keys)."""
    with open(path, "rb") as fh:
        return pickle.load(fh, encoding="bytes")


def _folder(root: Path) -> Path:
    """ROOT/cifar-10-batches-py, or a one-line error saying what was expected."""
    folder = root / FOLDER
    needed = [*TRAIN_BATCHES, "test_batch", "batches.meta"]
    if not all((folder / name).is_file() for name in needed):
        raise UserError(f"cifar10 not found in {str(root)!r}: expected {LAYOUT}; {HOW}")
    return folder


def read(root: Path, cfg) -> Source:
    """The official 50,000 / 10,000 split."""
    if cfg.download:
        import torchvision

        torchvision.datasets.CIFAR10(str(root), train=True, download=True)  # fetches and checks the archive
    folder = _folder(root)
    names = tuple(n.decode() for n in _unpickle(folder / "batches.meta")[b"label_names"])
    parts = {}
    for split, batches in (("train", TRAIN_BATCHES), ("test", ("test_batch",))):
        dicts = [_unpickle(folder / b) for b in batches]
        images = np.concatenate([d[b"data"] for d in dicts]).reshape(-1, 3, 32, 32)
        labels = np.concatenate([d[b"labels"] for d in dicts]).astype(np.int64)
        ids = tuple(f"real/{NAME}/{split}/{i}" for i in range(len(labels)))
        parts[split] = LabelledImages(torch.from_numpy(images), torch.from_numpy(labels), ids, names)
    return Source(names, parts["train"], parts["test"])


def survey(root: Path) -> dict:
    """Classes and split sizes."""
    from vision_collapse.config import DataConfig

    source = read(root, DataConfig(name=NAME))
    return {"classes": len(source.class_names), "train": len(source.train), "test": len(source.test)}
