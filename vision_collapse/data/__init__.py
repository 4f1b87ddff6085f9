"""Real data: reading each dataset, decoding and caching it, held-out splits and imbalanced subsets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vision_collapse.config import DataConfig
from vision_collapse.data import cifar10, digits, fashion_mnist, imagefolder, oxford_pets, stanford_dogs
from vision_collapse.data.cache import cached_dataset
from vision_collapse.data.images import LabelledImages
from vision_collapse.data.imbalance import build_imbalanced_subset, unknown_class_message
from vision_collapse.data.source import DatasetReader, materialise, split_per_class
from vision_collapse.errors import UserError

CALIBRATION_SEED = 1  # fixed, so runs of every seed share one judge and one calibration split
PERFECT_SEED = 2  # fixed likewise: every seed's perfect generator draws from the same held-out images

READERS: dict[str, DatasetReader] = {
    m.NAME: m for m in (digits, fashion_mnist, cifar10, stanford_dogs, oxford_pets, imagefolder)
}


@dataclass(frozen=True)
class RealData:
    """The real images of one experiment."""

    pool: LabelledImages  # every real training image of the chosen classes (the imbalanced subset is drawn here)
    test: LabelledImages  # held out, never trained on; the FID reference
    subset: LabelledImages  # the imbalanced training set of generation 0
    judge_pool: LabelledImages  # the part of the pool the judge trains on
    calibration: LabelledImages  # the rest: never seen by the judge; floors, confusion and recognition thresholds
    info: dict = field(default_factory=dict)  # where the data came from, for RUN/data.json
    perfect: LabelledImages | None = None  # held out for the perfect generator (data.perfect_fraction); None: none


def dataset_root(cfg: DataConfig) -> Path | None:
    """data.root, or the dataset's default location; an error when a dataset needs one and has none."""
    reader = READERS[cfg.name]
    root = cfg.root or reader.DEFAULT_ROOT
    if not root and not reader.EMBEDDED:
        raise UserError(f"data.root is not set for {cfg.name}: point it at a folder laid out as {reader.LAYOUT}; "
                        f"{reader.HOW}")
    return Path(root).expanduser() if root else None


def load_dataset(cfg: DataConfig) -> tuple[LabelledImages, LabelledImages, dict]:
    """(train pool, held-out test, info) of the whole dataset: embedded ones read directly, others decoded once
    and then read from the cache."""
    reader, root = READERS[cfg.name], dataset_root(cfg)
    if cfg.download and not reader.CAN_DOWNLOAD:
        how = "it is embedded, nothing to download" if reader.EMBEDDED else "download it by hand (see docs/datasets.md)"
        raise UserError(f"data.download=true is not supported for {cfg.name}: {how}; set data.download=false")
    resolution, channels = cfg.resolution or reader.RESOLUTION, cfg.channels or reader.CHANNELS
    info = {"name": cfg.name, "root": str(root) if root else "(embedded)", "resolution": resolution, "channels": channels}
    if reader.EMBEDDED:  # tiny and always at hand: nothing to cache
        train, test, skipped = materialise(reader.read(root, cfg), cfg, resolution, channels)
        return train, test, {**info, "skipped": skipped}
    if root is not None and not root.exists() and not cfg.download:
        raise UserError(f"{cfg.name} not found: {str(root)!r} does not exist; expected {reader.LAYOUT}; {reader.HOW}")
    return cached_dataset(reader, root, cfg, resolution, channels, info)


def select_classes(data: LabelledImages, classes: tuple[str, ...]) -> LabelledImages:
    """Only the named classes, relabelled 0..k-1 in the given order."""
    if not classes:
        return data
    for name in classes:
        if name not in data.class_names:
            raise UserError(unknown_class_message(name, data.class_names, "data.classes"))
    old = [data.class_names.index(n) for n in classes]
    remap = np.full(data.num_classes, -1)
    remap[old] = np.arange(len(old))
    new_labels = remap[data.labels.numpy()]
    keep = np.flatnonzero(new_labels >= 0)
    return LabelledImages(data.images[keep], torch.from_numpy(new_labels[keep]), tuple(data.ids[i] for i in keep),
                          tuple(classes))


def load_real_data(cfg: DataConfig, seed: int) -> RealData:
    """Load the configured dataset, keep data.classes, and draw the imbalanced subset."""
    train, test, info = load_dataset(cfg)
    pool, test = select_classes(train, cfg.classes), select_classes(test, cfg.classes)
    for name, n_train, n_test in zip(pool.class_names, pool.class_counts(), test.class_counts()):
        if n_train == 0:
            raise UserError(f"class {name!r} has no training images in {cfg.name}; drop it with data.classes")
        if n_test == 0:
            raise UserError(f"class {name!r} has no held-out test images; raise data.test_fraction or add images")
    perfect = None
    if cfg.perfect_fraction > 0:  # held out first: nothing below (subset, judge, calibration) ever sees it
        pool, perfect = split_per_class(pool, cfg.perfect_fraction, PERFECT_SEED)
        empty = [n for n, k in zip(pool.class_names, perfect.class_counts()) if k == 0]
        if empty:
            raise UserError(f"data.perfect_fraction={cfg.perfect_fraction} holds out no image of class {empty[0]!r}; "
                            "raise data.perfect_fraction or drop the class with data.classes")
    subset = build_imbalanced_subset(pool, cfg, seed)
    judge_pool, calibration = split_per_class(pool, cfg.calibration_fraction, CALIBRATION_SEED)
    info = {**info, "classes": list(pool.class_names), "pool_counts": pool.class_counts().tolist(),
            "test_counts": test.class_counts().tolist(), "subset_counts": subset.class_counts().tolist(),
            "calibration_counts": calibration.class_counts().tolist()}
    if perfect is not None:
        info["perfect_counts"] = perfect.class_counts().tolist()
    real = RealData(pool, test, subset, judge_pool, calibration, info, perfect)
    return RealData(pool, test, subset, judge_pool, calibration, {**info, "fingerprint": data_fingerprint(real)}, perfect)


def data_fingerprint(real: RealData) -> str:
    """A hash of the judge's pool, the calibration and test splits, the subset and the perfect generator's split:
    what a resume must match."""
    return hash_images(real.judge_pool, real.calibration, real.test, real.subset,
                       *([real.perfect] if real.perfect is not None else []))


def hash_images(*parts: LabelledImages) -> str:
    """A hash of the ids, labels and pixels of some image sets."""
    h = hashlib.sha256()
    for part in parts:
        h.update("\n".join(part.ids).encode())
        h.update(part.labels.numpy().tobytes())
        h.update(part.images.numpy().tobytes())
    return h.hexdigest()
