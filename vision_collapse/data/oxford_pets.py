"""Oxford-IIIT Pet (37 breeds: 25 dogs, 12 cats) through torchvision, with the official trainval/test split."""

from __future__ import annotations

from pathlib import Path

from vision_collapse.data.decode import DecodeJob
from vision_collapse.data.source import FileEntry, Source
from vision_collapse.errors import UserError

NAME = "oxford-pets"
DEFAULT_ROOT = ""
RESOLUTION, CHANNELS = 64, 3
EMBEDDED = False  # shipped inside a Python package: no data.root, nothing to cache
CAN_DOWNLOAD = True  # data.download=true may fetch it into data.root
LAYOUT = "ROOT/oxford-iiit-pet/images/*.jpg and ROOT/oxford-iiit-pet/annotations/trainval.txt, test.txt"
HOW = ("download images.tar.gz and annotations.tar.gz from https://www.robots.ox.ac.uk/~vgg/data/pets/ and unpack "
       "them into ROOT/oxford-iiit-pet, or set data.download=true")
SPECIES = {"cat": 0, "dog": 1}  # torchvision's binary-category: 0 cat, 1 dog


def _dataset(root: Path, split: str, download: bool):
    """torchvision's OxfordIIITPet for one split, or a one-line error saying what was expected."""
    from torchvision.datasets import OxfordIIITPet

    try:
        return OxfordIIITPet(str(root), split=split, target_types="category", download=download)
    except (RuntimeError, FileNotFoundError, ValueError):
        raise UserError(f"oxford-pets not found in {str(root)!r}: expected {LAYOUT}; {HOW}") from None


def read(root: Path, cfg) -> Source:
    """Both splits; classes in the official CLASS-ID order, optionally only one species (data.species)."""
    sets = {split: _dataset(root, split, cfg.download) for split in ("trainval", "test")}
    # torchvision orders classes by CLASS-ID (case-insensitive alphabetical), which is the official order;
    # names become config-friendly 'american_bulldog'. Decoding needs the paths, which it keeps privately.
    all_names = [n.lower().replace(" ", "_") for n in sets["trainval"].classes]
    species_of = {}
    for ds in sets.values():
        for label, species in zip(ds._labels, ds._bin_labels):
            species_of[label] = species
    keep = [c for c in range(len(all_names)) if cfg.species == "all" or species_of.get(c) == SPECIES[cfg.species]]
    new_index = {c: i for i, c in enumerate(keep)}
    entries = {}
    for split, ds in sets.items():
        entries[split] = [
            FileEntry(DecodeJob(str(path)), new_index[label], f"real/{NAME}/images/{Path(path).name}")
            for path, label in zip(ds._images, ds._labels) if label in new_index
        ]
    return Source(tuple(all_names[c] for c in keep), train_files=entries["trainval"], test_files=entries["test"])


def survey(root: Path) -> dict:
    """Classes and split sizes from the annotation lists."""
    sets = {split: _dataset(root, split, False) for split in ("trainval", "test")}
    return {"classes": len(sets["trainval"].classes), "train": len(sets["trainval"]), "test": len(sets["test"])}
