"""Fashion-MNIST from its IDX files: .gz as distributed (and as the Debian package installs them), or
torchvision's FashionMNIST/raw folder."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from vision_collapse.data.images import LabelledImages
from vision_collapse.data.source import Source
from vision_collapse.errors import UserError

NAME = "fashion-mnist"
DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"  # Debian/Ubuntu package dataset-fashion-mnist
RESOLUTION, CHANNELS = 28, 1
EMBEDDED = False  # shipped inside a Python package: no data.root, nothing to cache
CAN_DOWNLOAD = True  # data.download=true may fetch it into data.root
CLASS_NAMES = ("tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot")
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
LAYOUT = ("ROOT/train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
          "t10k-labels-idx1-ubyte.gz (or ROOT/FashionMNIST/raw/ from torchvision)")
HOW = "apt-get install dataset-fashion-mnist, or set data.download=true to fetch it with torchvision into data.root"


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (the MNIST file format), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise UserError(f"{path} is not an IDX file of unsigned bytes; re-download it")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise UserError(f"{path} is truncated ({array.size} of {int(np.prod(shape))} bytes); re-download it")
    return array.reshape(shape)


def _find(root: Path, stem: str) -> Path | None:
    """The file for `stem` in root or root/FashionMNIST/raw, gzipped or not."""
    for folder in (root, root / "FashionMNIST" / "raw"):
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def read(root: Path, cfg) -> Source:
    """The official 60,000 / 10,000 split."""
    if cfg.download:
        import torchvision

        torchvision.datasets.FashionMNIST(str(root), train=True, download=True)
        torchvision.datasets.FashionMNIST(str(root), train=False, download=True)
    parts = {}
    for split, (images_stem, labels_stem) in FILES.items():
        paths = _find(root, images_stem), _find(root, labels_stem)
        if None in paths:
            raise UserError(f"fashion-mnist not found in {str(root)!r}: expected {LAYOUT}; {HOW}")
        images, labels = (read_idx(p) for p in paths)
        ids = tuple(f"real/{NAME}/{split}/{i}" for i in range(len(labels)))
        parts[split] = LabelledImages(torch.from_numpy(images.copy()).unsqueeze(1),
                                      torch.from_numpy(labels.astype(np.int64)), ids, CLASS_NAMES)
    return Source(CLASS_NAMES, parts["train"], parts["test"])


def survey(root: Path) -> dict:
    """Classes and split sizes, from the IDX headers."""
    sizes = {}
    for split, (_, labels_stem) in FILES.items():
        path = _find(root, labels_stem)
        if path is None:
            raise UserError(f"not found: expected {LAYOUT}")
        sizes[split] = len(read_idx(path))
    return {"classes": len(CLASS_NAMES), **sizes}
