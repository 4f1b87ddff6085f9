"""Miniature copies of real dataset archives, in their exact on-disk layouts, written by the tests."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import savemat

DOG_BREEDS = [("n02085620", "Chihuahua"), ("n02099601", "golden_retriever"), ("n02110958", "pug")]
# Oxford-IIIT Pet's first six CLASS-IDs: cats have capitalised names, dogs lower-case ones.
PET_BREEDS = [("Abyssinian", 1), ("american_bulldog", 2), ("american_pit_bull_terrier", 2), ("basset_hound", 2),
              ("beagle", 2), ("Bengal", 1)]


def _jpeg(path: Path, size: tuple[int, int], colour, box=None, box_colour=(255, 0, 0)) -> None:
    """A flat-coloured JPEG, with an optional differently coloured rectangle."""
    img = Image.new("RGB", size, colour)
    if box is not None:
        img.paste(Image.new("RGB", (box[2] - box[0], box[3] - box[1]), box_colour), box[:2])
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, quality=95)


def stanford_dogs(root: Path, train: tuple[int, ...] = (6, 5, 4), test: tuple[int, ...] = (2, 2, 2)) -> Path:
    """Images/<synset>-<breed>/<synset>_<n>.jpg, Annotation/<same>/<stem> (VOC XML) and the three .mat lists."""
    lists = {"train": ([], []), "test": ([], [])}
    n = 0
    for label, (synset, breed) in enumerate(DOG_BREEDS, start=1):
        folder = f"{synset}-{breed}"
        for split, count in (("train", train[label - 1]), ("test", test[label - 1])):
            for _ in range(count):
                n += 1
                stem = f"{synset}_{1000 + n}"
                box = (10, 8, 30, 28)  # the dog: a red square on a blue background
                _jpeg(root / "Images" / folder / f"{stem}.jpg", (48, 36), (0, 0, 255), box)
                ann = root / "Annotation" / folder / stem
                ann.parent.mkdir(parents=True, exist_ok=True)
                ann.write_text(
                    f"<annotation><folder>{synset}</folder><filename>{stem}</filename><size><width>48</width>"
                    f"<height>36</height><depth>3</depth></size><object><name>{breed}</name><bndbox>"
                    f"<xmin>{box[0]}</xmin><ymin>{box[1]}</ymin><xmax>{box[2]}</xmax><ymax>{box[3]}</ymax>"
                    "</bndbox></object><object><name>x</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>4</xmax>"
                    "<ymax>4</ymax></bndbox></object></annotation>")
                lists[split][0].append(f"{folder}/{stem}.jpg")
                lists[split][1].append(label)
    everything = ([], [])
    for split, (files, labels) in lists.items():
        _savemat_list(root / f"{split}_list.mat", files, labels)
        everything[0].extend(files)
        everything[1].extend(labels)
    _savemat_list(root / "file_list.mat", *everything)
    return root


def _savemat_list(path: Path, files: list[str], labels: list[int]) -> None:
    """A lists.tar .mat file: file_list and annotation_list as N x 1 cell arrays, labels as N x 1 doubles."""
    cells = np.empty((len(files), 1), dtype=object)
    annotations = np.empty((len(files), 1), dtype=object)
    for i, f in enumerate(files):
        cells[i, 0] = np.array([f])
        annotations[i, 0] = np.array([f.rsplit(".", 1)[0]])
    savemat(path, {"file_list": cells, "annotation_list": annotations,
                   "labels": np.array(labels, dtype=np.float64).reshape(-1, 1)})


def oxford_pets(root: Path, per_class: tuple[int, int] = (4, 2)) -> Path:
    """oxford-iiit-pet/images/<Breed>_<n>.jpg and annotations/{trainval,test}.txt ('Image CLASS-ID SPECIES BREED-ID')."""
    base = root / "oxford-iiit-pet"
    lines = {"trainval": [], "test": []}
    breed_ids = {1: 0, 2: 0}
    for class_id, (breed, species) in enumerate(PET_BREEDS, start=1):
        breed_ids[species] += 1
        n = 0
        for split, count in zip(lines, per_class):
            for _ in range(count):
                n += 1
                _jpeg(base / "images" / f"{breed}_{n}.jpg", (40, 50), (class_id * 40, 100, 50))
                lines[split].append(f"{breed}_{n} {class_id} {species} {breed_ids[species]}")
    (base / "annotations").mkdir(parents=True, exist_ok=True)
    for split, rows in lines.items():
        (base / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")
    return root


def cifar10(root: Path, train_per_batch: int = 20, test: int = 30) -> Path:
    """cifar-10-batches-py/ with pickled data_batch_1..5, test_batch and batches.meta."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    for name, n in [*((f"data_batch_{i}", train_per_batch) for i in range(1, 6)), ("test_batch", test)]:
        labels = [int(v) for v in rng.integers(0, 10, n)]
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as fh:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [f"{i}.png".encode() for i in range(n)]}, fh)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [n.encode() for n in names], b"num_cases_per_batch": train_per_batch}, fh)
    return root


def idx_bytes(array: np.ndarray) -> bytes:
    """An array of unsigned bytes in the IDX format."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def fashion_mnist(root: Path, train: int = 60, test: int = 20, gz: bool = True) -> Path:
    """The four IDX files, gzipped in root (as distributed) or plain in root/FashionMNIST/raw (torchvision)."""
    rng = np.random.default_rng(1)
    folder = root if gz else root / "FashionMNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, (n, 28, 28))
        labels = np.arange(n) % 10
        for stem, array in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
            data = idx_bytes(array)
            if gz:
                (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / stem).write_bytes(data)
    return root


def image_folder(root: Path, classes: dict[str, int]) -> Path:
    """root/<class>/<n>.png with `count` small images per class."""
    for c, (name, count) in enumerate(classes.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.new("RGB", (20 + i, 16), (c * 60 % 256, i * 10 % 256, 90)).save(root / name / f"{i}.png")
    return root
