"""Which of a pretrained model's classes each dataset class conditions on (model.class_map): by WordNet synset,
by position, or from a CSV; written to RUN/class_map.csv."""

from __future__ import annotations

import csv
import re
from importlib import resources
from pathlib import Path

from vision_collapse.data.images import LabelledImages
from vision_collapse.errors import UserError

SYNSET = re.compile(r"n\d{8}")
CLASS_MAP_FILE = "class_map.csv"


def imagenet_synsets() -> tuple[str, ...]:
    """ImageNet-1k's 1000 WordNet synsets in class-index order (sorted, as every ImageNet-1k model numbers them)."""
    text = resources.files("vision_collapse.models").joinpath("data/imagenet_synsets.txt").read_text()
    return tuple(text.split())


def class_synsets(images: LabelledImages) -> list[str | None]:
    """Each class's WordNet synset, read from the folder its real images came from (real/<dataset>/<folder>/...,
    the folder being 'n02099601-golden_retriever' or 'n02099601'), or from its name; None where there is none."""
    found: list[str | None] = [None] * images.num_classes
    for k, name in enumerate(images.class_names):
        if SYNSET.fullmatch(name.split("-", 1)[0]):
            found[k] = name.split("-", 1)[0]
    for item_id, label in zip(images.ids, images.labels.tolist()):
        parts = item_id.split("/")
        if found[label] is None and len(parts) > 3 and SYNSET.fullmatch(parts[2].split("-", 1)[0]):
            found[label] = parts[2].split("-", 1)[0]
    return found


def read_csv_map(path: Path) -> dict[str, int]:
    """class_name -> model_index from a CSV with those two columns."""
    if not path.is_file():
        raise UserError(f"model.class_map file {str(path)!r} not found; write a CSV with columns class_name,model_index")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"class_name", "model_index"} <= set(reader.fieldnames or ()):
            raise UserError(f"{path} needs the columns class_name,model_index; it has {reader.fieldnames}")
        try:
            return {row["class_name"]: int(row["model_index"]) for row in reader}
        except ValueError as exc:
            raise UserError(f"{path}: model_index must be an integer ({exc})") from None


def resolve_class_map(spec: str, images: LabelledImages, model_classes: int) -> list[int]:
    """The model class of every dataset class under model.class_map=`spec`, checked against the model's
    `model_classes` (its null class, for guidance, is index model_classes)."""
    names = images.class_names
    if spec == "first":
        index = list(range(len(names)))
    elif spec == "synset":
        synsets, known = class_synsets(images), {s: i for i, s in enumerate(imagenet_synsets())}
        missing = [n for n, s in zip(names, synsets) if s is None]
        if missing:
            raise UserError(f"model.class_map=synset needs class folders named by WordNet synset (such as "
                            f"n02099601-golden_retriever), but {', '.join(missing[:3])} is not; use model.class_map=first "
                            "or a FILE.csv of class_name,model_index")
        foreign = [f"{n} ({s})" for n, s in zip(names, synsets) if s not in known]
        if foreign:
            raise UserError(f"model.class_map=synset: {', '.join(foreign[:3])} is not an ImageNet-1k synset; map it "
                            "in a FILE.csv of class_name,model_index")
        index = [known[s] for s in synsets]
    else:
        table = read_csv_map(Path(spec))
        missing = [n for n in names if n not in table]
        if missing:
            raise UserError(f"model.class_map {spec} does not cover {len(missing)} dataset class(es), e.g. "
                            f"{', '.join(missing[:3])}; add a row class_name,model_index for each")
        index = [table[n] for n in names]
    bad = [f"{n} -> {i}" for n, i in zip(names, index) if not 0 <= i < model_classes]
    if bad:
        raise UserError(f"model.class_map gives {', '.join(bad[:3])}, but the model has classes 0..{model_classes - 1} "
                        f"(index {model_classes} is its null class); use indices below {model_classes}")
    return index


def write_class_map(path: Path, names: tuple[str, ...], index: list[int], labels: dict[int, str]) -> None:
    """RUN/class_map.csv: dataset class, its model index, and the model's own name for that index."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["class_index", "class_name", "model_index", "model_label"])
        for k, (name, i) in enumerate(zip(names, index)):
            writer.writerow([k, name, i, labels.get(i, "")])
