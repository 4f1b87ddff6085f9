"""The `grid` command's pictures for a run folder: mosaic, filmstrip and GIF, written under RUN/grids/."""

from __future__ import annotations

from pathlib import Path

from vision_collapse import run_folder as rf
from vision_collapse.data.images import LabelledImages
from vision_collapse.data.imbalance import unknown_class_message
from vision_collapse.errors import UserError
from vision_collapse.viz.grid import class_grid, filmstrip, gif_bytes, mosaic
from vision_collapse.viz.render import draw_generation_grid


def generation_samples(run: Path) -> list[LabelledImages]:
    """Samples of generations 0, 1, ... as far as they have been written (a partial run included)."""
    out = []
    while rf.has_samples(rf.generation_dir(run, len(out))):
        out.append(rf.load_samples(rf.generation_dir(run, len(out)))[0])
    return out


def draw_grids(
    run: Path,
    class_name: str | None = None,  # a filmstrip of this class instead of the class x generation mosaic
    gif: bool = False,  # also an animated GIF of the per-generation class grids
    real: bool = False,  # put real images of the training subset first
    per_class: int = 0,  # samples per class and generation; 0: eval.grid_per_class
    mosaic_name: str = rf.MOSAIC,  # the mosaic's file under RUN/grids/ (the report writes its own)
) -> list[Path]:
    """Redraw each generation's grid.png and write the requested pictures; returns the pictures' paths."""
    run = Path(run)
    cfg = rf.read_config(run)
    n = per_class or cfg.eval.grid_per_class
    gens = generation_samples(run)
    if not gens:
        raise UserError(f"{str(run)!r} has no samples yet; wait for generation 0 to finish sampling")
    reference = None
    if real:
        from vision_collapse.data import load_real_data

        reference = load_real_data(cfg.data, cfg.seed).subset
    out, paths = run / rf.GRIDS, []
    for g in range(len(gens)):  # each generation's own grid.png, redrawn from its samples
        draw_generation_grid(run, g, cfg.eval.grid_per_class)
    if class_name is not None:
        names = gens[0].class_names
        if class_name not in names:
            raise UserError(unknown_class_message(class_name, names, "--class"))
        paths.append(out / rf.filmstrip_name(class_name))
        rf.atomic_save_png(paths[-1], filmstrip(gens, names.index(class_name), max(n, 8), reference))
    else:
        paths.append(out / mosaic_name)
        rf.atomic_save_png(paths[-1], mosaic(gens, n, reference))
    if gif:
        frames = ([class_grid(reference, n)] if reference is not None else []) + [class_grid(g, n) for g in gens]
        paths.append(out / rf.GENERATIONS_GIF)
        rf.atomic_write_bytes(paths[-1], gif_bytes(frames))
    return paths
