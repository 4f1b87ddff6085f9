"""One generation's samples as PNG files in ImageFolder layout, for other tools (torch-fidelity, clean-fid)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vision_collapse.errors import UserError
from vision_collapse.loop import run_dir as rd


def export_generation(run: Path, generation: int, out: Path) -> int:
    """Write DIR/<class>/<n>.png for every sample of `generation` (by the label it carries); returns the count."""
    path = rd.generation_dir(run, generation) / rd.SAMPLES
    if not path.is_file():
        raise UserError(f"{str(run)!r} has no samples of generation {generation}; "
                        f"pass one of {rd.finished_generations(run) or 'none yet'}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{str(out)!r} exists and is not an empty folder; choose a new or empty folder")
    samples, _ = rd.load_samples(path)
    for i, (image, label) in enumerate(zip(samples.images, samples.labels.tolist())):
        array = image.numpy()
        picture = Image.fromarray(array[0] if array.shape[0] == 1 else np.ascontiguousarray(array.transpose(1, 2, 0)))
        target = out / samples.class_names[label] / f"{i:06d}.png"
        rd.atomic_save_png(target, picture)
    return len(samples)
