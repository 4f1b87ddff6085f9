"""Measure any set of images exactly like a generation: a folder from another generator, or the real subset.

Class subfolders name the class each image was meant to be (conditional); a flat folder is unconditional and the
judge says what each image is.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator

import torch

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.data.decode import IMAGE_SUFFIXES, DecodeJob, decode_all
from vision_collapse.data.images import LabelledImages
from vision_collapse.errors import UserError
from vision_collapse.loop.seeds import metrics_seeds
from vision_collapse.metrics.evaluate import GenerationResult, Reference, eval_set, judge_and_features, measure
from vision_collapse.metrics.stream import SampleStats, Shard
from vision_collapse.null.check import chance_check

BATCH = 1024  # images judged at a time


def _images_in(folder: Path) -> list[Path]:
    """Image files directly in a folder, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_image_folder(folder: Path, class_names: tuple[str, ...], resolution: int,
                      channels: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(uint8 images at the reference's size, intended labels or None): class subfolders, or one flat folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder of images; pass a folder of class subfolders or of images")
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subfolders:
        unknown = [p.name for p in subfolders if p.name not in class_names]
        if unknown:
            raise UserError(f"subfolder {unknown[0]!r} of {folder} is not a class of the reference "
                            f"({', '.join(class_names)}); rename it, or use a flat folder for unconditional images")
        files = [(f, class_names.index(p.name)) for p in subfolders for f in _images_in(p)]
    else:
        files = [(f, -1) for f in _images_in(folder)]
    if len(files) < 2:
        raise UserError(f"{folder} holds {len(files)} image(s) ({', '.join(IMAGE_SUFFIXES)}); at least 2 are needed")
    images, kept, _ = decode_all([DecodeJob(str(f)) for f, _ in files], resolution, channels, False, "read images")
    labels = torch.tensor([files[i][1] for i in kept]) if subfolders else None
    return torch.from_numpy(images), labels


def judged_batches(images: torch.Tensor, labels: torch.Tensor | None, ref: Reference, size: int) -> Iterator[Shard]:
    """The images in shards of `size`, judged; each carries its intended label, or (unconditional) the judge's."""
    for start in range(0, len(images), size):
        batch = images[start : start + size]
        cond = labels[start : start + size] if labels is not None else None
        judged, features = judge_and_features(ref.judge, ref.features, batch)
        yield Shard(batch, cond, cond if cond is not None else judged.labels, judged, features)


def measure_shards(shards: Iterable[Shard], n: int, conditional: bool, ref: Reference, cfg: ExperimentConfig,
                   seeds: tuple[int, int]) -> GenerationResult:
    """Per-class and global metrics, floors and the chance check of n judged images arriving in shards (with their
    intended labels when `conditional`), as if they were generation 0; seeds: of the feature subset, and of the
    floors, KID and PRDC subsets."""
    cfg = replace(cfg, loop=replace(cfg.loop, label_source="conditioning" if conditional else "none"))
    stats = SampleStats(n, ref.real.num_classes, ref.recogniser, cfg.eval.max_features,
                        0 if conditional else cfg.eval.samples_per_class, torch.Generator().manual_seed(seeds[0]))
    parts = []
    for shard in shards:
        shard = shard if shard.carried is not None else replace(shard, carried=shard.judged.labels)
        stats.update(shard)
        parts.append(shard)
    evaluated = eval_set(stats, parts if conditional else None)  # conditional: every image, for its label
    images = torch.cat([p.images for p in parts])
    labels = evaluated.conditioning if conditional else None
    nothing = LabelledImages(images[:0], torch.zeros(0, dtype=torch.long), (), ref.real.class_names)
    samples = LabelledImages(images, labels, tuple(map(str, range(n))), ref.real.class_names) if conditional else None
    return measure(0, nothing, stats, evaluated, ref, cfg, torch.Generator().manual_seed(seeds[1]), samples=samples,
                   chance=chance_check(cfg, ref, [], samples=n))


def evaluate_images(images: torch.Tensor, labels: torch.Tensor | None, ref: Reference, cfg: ExperimentConfig,
                    seed: int = 0, generation: int | None = None) -> GenerationResult:
    """Per-class and global metrics, floors and the chance check of uint8 images, as if they were generation 0.

    labels: the class each image was meant to be (conditional), or None (unconditional: the judge decides).
    generation: the images are that generation's samples of the run whose config is `cfg`, in their order (its
    export): judged shard by shard and drawn from (feature subset, floors, KID and PRDC subsets) with the seeds
    the run used, so they read its numbers exactly; None: drawn from `seed`.
    """
    seeds, size = (seed, seed + 1), BATCH
    if generation is not None:
        seeds = metrics_seeds(cfg.seed, generation)
        size = cfg.loop.shard_size
    return measure_shards(judged_batches(images, labels, ref, size), len(images), labels is not None, ref, cfg, seeds)


def reference_for(source: Path, out: Path, log=print) -> tuple[ExperimentConfig, Reference]:
    """The config and real reference of a run folder (its own judge and floors) or of a YAML config (a judge and
    floors kept in `out`)."""
    from vision_collapse.config import load_config
    from vision_collapse.data import load_real_data
    from vision_collapse.loop.instrument import floors_in, run_judge
    from vision_collapse.metrics.backbone import feature_extractor
    from vision_collapse.metrics.evaluate import build_reference

    source = Path(source)
    if source.is_dir():
        if not (source / rf.CONFIG).is_file():
            raise UserError(f"{source} is not a run folder (no {rf.CONFIG}); pass a run folder or a YAML config")
        cfg = rf.read_config(source)
    elif source.is_file():
        cfg = load_config(source, [])
    else:
        raise UserError(f"--reference {str(source)!r} does not exist; pass a run folder or a YAML config")
    real = load_real_data(cfg.data, cfg.seed)
    # A run's own judge and floors, so the images are measured exactly as its generations were.
    home = source if source.is_dir() and (source / rf.JUDGE_WEIGHTS).is_file() else out
    home.mkdir(parents=True, exist_ok=True)
    judge, _ = run_judge(home, real, cfg, log)
    log(f"reference: {cfg.data.name}, {real.pool.num_classes} classes; judge held-out accuracy {judge.accuracy:.3f}")
    return cfg, build_reference(real, judge, None, feature_extractor(cfg.eval, judge), cfg, floors_in(home))


def evaluate_folder(images: Path, reference: Path, out: Path, log=print, generation: int | None = None
                    ) -> GenerationResult:
    """Measure a folder of images against a run's or config's real reference and write the tables into `out`;
    `generation`: the images are that generation of the reference run, exported (see `evaluate_images`)."""
    if out.exists() and any(out.iterdir()) and not (out / rf.SUMMARY).is_file() and not (out / rf.FLOORS).is_file():
        raise UserError(f"--out {str(out)!r} already holds other files; choose an empty or new folder")
    if generation is not None and not (rf.generation_dir(reference, generation) / rf.DONE).is_file():
        raise UserError(f"--generation {generation} needs a run folder as --reference that finished that generation "
                        f"({str(reference)!r} did not); pass the run the images were exported from, or leave it out")
    cfg, ref = reference_for(reference, out, log)
    pixels, labels = read_image_folder(images, ref.real.class_names, ref.real.images.shape[-1],
                                       ref.real.images.shape[1])
    result = evaluate_images(pixels, labels, ref, cfg, generation=generation)
    rf.write_generation_tables(out, result.rows, result.summary, result.chance, result.confusion,
                               ref.real.class_names)
    for line in result.warnings:
        log(f"warning: {line}")
    return result
