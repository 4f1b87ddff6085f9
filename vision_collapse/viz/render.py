"""What the CLI draws into a run folder as it goes: the loop calls this back before a generation's DONE."""

from __future__ import annotations

from pathlib import Path

from vision_collapse import run_folder as rf
from vision_collapse.viz.grid import class_grid
from vision_collapse.viz.plots import draw_plots


def draw_generation_grid(run: Path, generation: int, per_class: int):
    """Redraw gen_XXX/grid.png from the generation's sample shards, a row per carried label; returns the image."""
    samples, _ = rf.load_samples(rf.generation_dir(run, generation))
    grid = class_grid(samples, per_class)
    rf.atomic_save_png(rf.generation_dir(run, generation) / rf.GRID, grid)
    return grid


def render_generation(run: Path, generation: int) -> None:
    """A generation's grid.png, the run's plots unless log.plots is off, and its TensorBoard events when
    log.tensorboard is set."""
    cfg = rf.read_config(run)
    grid = draw_generation_grid(run, generation, cfg.eval.grid_per_class)
    if cfg.log.plots:
        draw_plots(run)
    if cfg.log.tensorboard:
        from vision_collapse.viz.tensorboard import log_generation

        folder = rf.generation_dir(run, generation)
        log_generation(run, generation, rf.read_table(folder / rf.SUMMARY)[0], rf.read_table(folder / rf.METRICS), grid)
