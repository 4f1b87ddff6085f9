"""The decode cache: a dataset decoded once at a resolution and channel count, then read back from disk."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from vision_collapse.config import DataConfig
from vision_collapse.data.decode import TRANSFORM_VERSION
from vision_collapse.data.images import LabelledImages
from vision_collapse.data.source import DatasetReader, materialise
from vision_collapse.files import atomic_torch_save, cache_dir


def listing_digest(root: Path | None) -> str:
    """A hash of the file names, sizes and modification times under root (the cache key's view of the data)."""
    h = hashlib.sha256()
    if root is not None and root.exists():
        for folder, dirs, files in sorted(os.walk(root)):
            dirs.sort()
            for name in sorted(files):
                st = os.stat(os.path.join(folder, name))
                h.update(f"{os.path.relpath(os.path.join(folder, name), root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cached_dataset(reader: DatasetReader, root: Path | None, cfg: DataConfig, resolution: int, channels: int,
                   info: dict) -> tuple[LabelledImages, LabelledImages, dict]:
    """(train, test, info) read from the cache when the same files were decoded the same way, else decoded and cached."""
    key = {"name": cfg.name, "listing": listing_digest(root), "resolution": resolution, "channels": channels,
           "crop": cfg.crop, "species": cfg.species, "skip_corrupt": cfg.skip_corrupt,
           "test_fraction": cfg.test_fraction, "version": TRANSFORM_VERSION}
    path = cache_dir() / f"data-{cfg.name}-{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]}.pt"
    if path.is_file() and not cfg.download:
        state = torch.load(path, map_location="cpu", weights_only=True)
        train, test = (LabelledImages(*state[k]) for k in ("train", "test"))
        return train, test, {**info, "skipped": state["skipped"], "cache": str(path), "cache_hit": True}
    train, test, skipped = materialise(reader.read(root, cfg), cfg, resolution, channels)
    atomic_torch_save({"train": (train.images, train.labels, train.ids, train.class_names),
                       "test": (test.images, test.labels, test.ids, test.class_names), "skipped": skipped}, path)
    return train, test, {**info, "skipped": skipped, "cache": str(path), "cache_hit": False}
