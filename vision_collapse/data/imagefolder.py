"""Any folder of class folders, root/<class>/<image>, with a stable class list and a per-class held-out split."""

from __future__ import annotations

from pathlib import Path

from vision_collapse.data.decode import IMAGE_SUFFIXES, DecodeJob
from vision_collapse.data.source import FileEntry, Source
from vision_collapse.errors import UserError

NAME = "imagefolder"
DEFAULT_ROOT = ""
RESOLUTION, CHANNELS = 64, 3
EMBEDDED = False  # shipped inside a Python package: no data.root, nothing to cache
CAN_DOWNLOAD = False  # data.download=true may fetch it into data.root
LAYOUT = f"ROOT/<class name>/<image> with suffixes {', '.join(IMAGE_SUFFIXES)}"
HOW = "point data.root at a folder holding one sub-folder per class"


def class_folders(root: Path) -> list[str]:
    """Every class sub-folder, sorted by name (data.classes picks and orders a subset later)."""
    if not root.is_dir():
        raise UserError(f"imagefolder root {str(root)!r} does not exist: expected {LAYOUT}; {HOW}")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise UserError(f"imagefolder root {str(root)!r} has no class folders: expected {LAYOUT}")
    return found


def read(root: Path, cfg) -> Source:
    """Every image of every class folder; the test split is data.test_fraction of each class."""
    names = class_folders(root)
    entries = []
    for label, name in enumerate(names):
        files = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise UserError(f"class folder {str(root / name)!r} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                            "add images or remove the folder")
        entries += [FileEntry(DecodeJob(str(f)), label, f"real/{NAME}/{f.relative_to(root).as_posix()}") for f in files]
    return Source(tuple(names), train_files=entries, test_files=None)


def survey(root: Path) -> dict:
    """Classes and image count."""
    source = read(root, None)
    return {"classes": len(source.class_names), "images": len(source.train_files), "split": "data.test_fraction per class"}
