"""One generation's samples as PNG files in ImageFolder layout, for other tools (torch-fidelity, clean-fid)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vision_collapse import run_folder as rf
from vision_collapse.errors import UserError


def export_generation(run: Path, generation: int, out: Path) -> int:
    """Write DIR/<class>/<n>.png for every sample of `generation` (by the label it carries), or DIR/<n>.png for an
    unconditional run, whose samples were meant as no class; returns the count."""
    gen_dir = rf.generation_dir(run, generation)
    if not rf.has_samples(gen_dir):
        raise UserError(f"{str(run)!r} has no samples of generation {generation}; "
                        f"pass one of {rf.finished_generations(run) or 'none yet'}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{str(out)!r} exists and is not an empty folder; choose a new or empty folder")
    # An unconditional run's labels are the judge's bookkeeping; as class folders, `evaluate` would take them for
    # the classes the samples were meant to be and match FID to that mix instead of the judge's recognised one.
    flat = not rf.read_config(run).conditional
    count = 0
    for shard in rf.shard_paths(gen_dir):  # one shard in memory at a time
        with np.load(shard) as z:
            images, labels, names = z["images"], z["labels"], [str(n) for n in z["class_names"]]
        for image, label in zip(images, labels.tolist()):
            picture = Image.fromarray(image[0] if image.shape[0] == 1 else np.ascontiguousarray(image.transpose(1, 2, 0)))
            rf.atomic_save_png(out / ("" if flat else names[label]) / f"{count:06d}.png", picture)
            count += 1
    return count
