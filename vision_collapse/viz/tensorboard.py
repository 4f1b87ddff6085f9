"""Per-generation scalars and grids for TensorBoard (log.tensorboard=true), under RUN/tensorboard/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from vision_collapse import run_folder as rf
from vision_collapse.errors import UserError
from vision_collapse.files import temporary_sibling


def require_tensorboard() -> None:
    """Fail early, with one line, when the optional tensorboard package is missing."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise UserError("log.tensorboard=true needs the tensorboard package: pip install tensorboard, "
                        "or set log.tensorboard=false") from None


def log_generation(run: Path, generation: int, summary: dict, rows: list[dict], grid) -> None:
    """Write one generation's summary scalars, per-class frequencies and grid (table rows as read from CSV) as a
    new event file."""
    from torch.utils.tensorboard import SummaryWriter

    final, name = Path(run) / rf.TENSORBOARD, rf.generation_name(generation)
    tmp = temporary_sibling(final / name)
    shutil.rmtree(tmp, ignore_errors=True)
    writer = SummaryWriter(str(tmp))
    for key, value in summary.items():
        if key != "generation":
            writer.add_scalar(f"summary/{key}", float(value), generation)
    for r in rows:
        writer.add_scalar(f"gen_freq/{r['class_name']}", float(r["gen_freq"]), generation)
    writer.add_image("grid", np.asarray(grid), generation, dataformats="HWC")
    writer.close()
    # Event files are written in place by TensorBoard's writer; renaming the finished file in keeps the run
    # folder free of half-written files. A re-run of the same generation replaces its file.
    for old in final.glob(f"{name}.*"):
        old.unlink()
    for event in tmp.iterdir():
        os.replace(event, final / f"{name}.{event.name}")
    shutil.rmtree(tmp, ignore_errors=True)
