"""Stanford Dogs (120 breeds, 20,580 images) exactly as its three archives unpack: Images/, Annotation/
and the .mat lists from lists.tar, with the official train/test split and optional bounding-box crops."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from scipy.io import loadmat

from vision_collapse.data.decode import DecodeJob
from vision_collapse.data.source import FileEntry, Source
from vision_collapse.errors import UserError

NAME = "stanford-dogs"
DEFAULT_ROOT = ""
RESOLUTION, CHANNELS = 64, 3
EMBEDDED = False  # shipped inside a Python package: no data.root, nothing to cache
CAN_DOWNLOAD = False  # data.download=true may fetch it into data.root
LAYOUT = ("ROOT/Images/n02085620-Chihuahua/n02085620_10074.jpg, ROOT/Annotation/n02085620-Chihuahua/n02085620_10074 "
          "and ROOT/train_list.mat, ROOT/test_list.mat")
HOW = ("download images.tar, annotation.tar and lists.tar from http://vision.stanford.edu/aditya86/ImageNetDogs/ "
       "and unpack all three into ROOT")


def breed_name(folder: str) -> str:
    """'n02099601-golden_retriever' -> 'golden_retriever' (the synset id stays in the item ids)."""
    return folder.split("-", 1)[-1].lower()


def _strings(array) -> list[str]:
    """The strings of a MATLAB cell array as scipy loads it (nested object arrays)."""
    out = []
    for item in np.asarray(array, dtype=object).ravel():
        while isinstance(item, np.ndarray):
            item = item.ravel()[0]
        out.append(str(item))
    return out


def read_list(root: Path, split: str) -> tuple[list[str], list[int]]:
    """(files relative to Images/, 1-based labels) of `split` ('train' or 'test')."""
    path = root / f"{split}_list.mat"
    if not (root / "Images").is_dir() or not path.is_file():
        raise UserError(f"stanford-dogs not found in {str(root)!r}: expected {LAYOUT}; {HOW}")
    mat = loadmat(path)
    if "file_list" not in mat or "labels" not in mat:
        raise UserError(f"{path} lacks file_list/labels; it is not lists.tar's {split}_list.mat, re-download lists.tar")
    return _strings(mat["file_list"]), [int(v) for v in np.asarray(mat["labels"]).ravel()]


def bounding_box(root: Path, relative: str) -> tuple[int, int, int, int]:
    """The largest annotated dog box of an image, from its VOC XML (Annotation/<folder>/<stem>, no extension)."""
    path = root / "Annotation" / relative.rsplit(".", 1)[0]
    if not path.is_file():
        raise UserError(f"data.crop=bbox needs {path}; unpack annotation.tar into {str(root)!r} or set data.crop=none")
    boxes = []
    for box in ET.parse(path).getroot().iter("bndbox"):
        x0, y0, x1, y1 = (int(float(box.findtext(k))) for k in ("xmin", "ymin", "xmax", "ymax"))
        boxes.append((x0, y0, x1, y1))
    if not boxes:
        raise UserError(f"{path} has no bounding box; set data.crop=none")
    return max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))


def read(root: Path, cfg) -> Source:
    """The official split; class k is the breed of label k+1, so classes keep the official order."""
    lists = {split: read_list(root, split) for split in ("train", "test")}
    folders: dict[int, str] = {}
    for files, labels in lists.values():
        for f, label in zip(files, labels):
            folders.setdefault(label - 1, f.split("/")[0])
    names = tuple(breed_name(folders[k]) for k in range(len(folders)))
    entries = {}
    for split, (files, labels) in lists.items():
        entries[split] = [
            FileEntry(DecodeJob(str(root / "Images" / f), bounding_box(root, f) if cfg.crop == "bbox" else None),
                      label - 1, f"real/{NAME}/{f}")
            for f, label in zip(files, labels)
        ]
    return Source(names, train_files=entries["train"], test_files=entries["test"])


def survey(root: Path) -> dict:
    """Classes and split sizes from the .mat lists."""
    train, test = read_list(root, "train"), read_list(root, "test")
    return {"classes": len(set(train[1]) | set(test[1])), "train": len(train[0]), "test": len(test[0])}
