"""The run folder: its layout, and files written atomically so a crash never leaves half a file."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from pathlib import Path

import numpy as np
import torch

from vision_collapse.data.images import LabelledImages
from vision_collapse.files import atomic_write_bytes, atomic_write_text  # noqa: F401 (re-exported)

CONFIG = "config.yaml"
METRICS = "metrics.csv"  # one row per (generation, class)
SUMMARY = "summary.csv"  # one row per generation
JUDGE = "judge.json"
DATA = "data.json"  # the real data: dataset, root, classes, counts per split, skipped files
LABELLER = "labeller.pt"  # the pseudo-labeller's weights, when loop.label_source or curation needs one
LABELLER_REPORT = "labeller.json"
DONE = "DONE"  # written last, in the run folder and in each finished generation folder
SAMPLES = "samples"  # folder of shard_00000.npz, shard_00001.npz, ... in sample order
CANDIDATES = "candidates"  # curation's oversampled shards while the generation runs
MANIFEST = "manifest.csv"
GRID = "grid.png"
CONFUSION = "confusion.csv"  # conditioning label x judged label counts of the evaluation samples
MODEL = "model"
CHECKPOINT = "checkpoint.pt"  # training state inside an unfinished generation (train.checkpoint_every)
AGGREGATE = "aggregate.csv"  # multi-seed runs: mean and 95% interval across RUN/seed_<s>/


def generation_dir(run: Path, generation: int) -> Path:
    """RUN/gen_XXX."""
    return Path(run) / f"gen_{generation:03d}"


def seed_dirs(root: Path) -> list[Path]:
    """The RUN/seed_<s> folders holding a run, in seed order."""
    found = [p for p in Path(root).glob("seed_*") if re.fullmatch(r"seed_\d+", p.name) and (p / CONFIG).is_file()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def is_multiseed(root: Path) -> bool:
    """Whether `root` is a multi-seed run folder."""
    return not (Path(root) / CONFIG).is_file() and bool(seed_dirs(root))


def finished_generations(run: Path) -> list[int]:
    """0, 1, ... up to the first generation without a DONE marker."""
    # A generation after a missing one learnt from samples that no longer exist, so it does not count.
    gens = []
    while (generation_dir(run, len(gens)) / DONE).is_file():
        gens.append(len(gens))
    return gens


def atomic_save_png(path: Path, image) -> None:
    """Atomically write a PIL image as PNG."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def atomic_save_dir(path: Path, save) -> None:
    """Call `save(tmp_dir)` and then rename the finished folder to `path`, replacing an old one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    save(tmp)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)


def is_temporary(path: Path) -> bool:
    """Whether `path` is one of our half-written temporaries (`.NAME.tmpPID`)."""
    return bool(re.fullmatch(r"\..+\.tmp\d+", Path(path).name))


def remove_stale_temporaries(run: Path) -> None:
    """Delete the half-written temporaries that a killed run leaves behind (never finished files)."""
    for stale in sorted((p for p in Path(run).rglob(".*.tmp*") if is_temporary(p)), reverse=True):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def format_value(value) -> str:
    """A CSV cell: floats at 8 significant digits so files are readable and stable."""
    if isinstance(value, (float, np.floating)):
        return "nan" if np.isnan(value) else format(float(value), ".8g")
    return str(value)


def write_csv(path: Path, rows: list[dict]) -> None:
    """Atomically write dict rows with the first row's keys as the header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if rows:
        writer.writerow(rows[0].keys())
        for row in rows:
            writer.writerow(format_value(v) for v in row.values())
    atomic_write_text(path, buf.getvalue())


def read_csv(path: Path) -> list[dict]:
    """Rows of a CSV as dicts of strings."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def save_shard(
    gen_dir: Path,
    index: int,  # shard number; shards concatenate in this order
    images: torch.Tensor,
    labels: torch.Tensor,  # the labels carried on
    judged: torch.Tensor,
    conditioning: torch.Tensor | None,
    ids: list[str],
    class_names: tuple[str, ...],
) -> None:
    """Store one shard of samples: uint8 images, labels carried on, the judge's and conditioning labels, ids."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        images=images.numpy(),
        labels=labels.numpy(),
        judged=judged.numpy(),
        conditioning=(conditioning if conditioning is not None else torch.full_like(judged, -1)).numpy(),  # -1: none
        ids=np.array(ids, dtype=str),
        class_names=np.array(class_names),
    )
    atomic_write_bytes(Path(gen_dir) / SAMPLES / f"shard_{index:05d}.npz", buf.getvalue())


def shard_paths(gen_dir: Path) -> list[Path]:
    """A generation's sample shards, in order."""
    return sorted((Path(gen_dir) / SAMPLES).glob("shard_*.npz"))


def has_samples(gen_dir: Path) -> bool:
    """Whether a generation folder holds samples."""
    return bool(shard_paths(gen_dir))


def read_sample_arrays(gen_dir: Path) -> dict[str, np.ndarray]:
    """Every shard's arrays concatenated: images, labels, judged, conditioning, ids, and class_names once."""
    parts = []
    for path in shard_paths(gen_dir):
        with np.load(path) as z:
            parts.append({k: z[k] for k in z.files})
    if not parts:
        raise FileNotFoundError(f"no samples in {Path(gen_dir) / SAMPLES}")
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "class_names"}
    out["class_names"] = parts[0]["class_names"]
    return out


def load_samples(gen_dir: Path) -> tuple[LabelledImages, torch.Tensor]:
    """A generation's samples as written shard by shard: (labelled samples, judged labels)."""
    z = read_sample_arrays(gen_dir)
    samples = LabelledImages(
        torch.from_numpy(z["images"]),
        torch.from_numpy(z["labels"]),
        tuple(str(i) for i in z["ids"]),
        tuple(str(n) for n in z["class_names"]),
    )
    return samples, torch.from_numpy(z["judged"])
