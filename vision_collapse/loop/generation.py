"""One generation: train on its training set, sample the next one, judge and measure the samples."""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch

from vision_collapse.config import ExperimentConfig
from vision_collapse.data.images import LabelledImages
from vision_collapse.errors import UserError
from vision_collapse.loop import run_dir as rd
from vision_collapse.loop.labels import confidence
from vision_collapse.loop.sampling import Shard, curated, draw_shards
from vision_collapse.loop.seeds import generation_seed
from vision_collapse.loop.strategies import sampling_labels
from vision_collapse.metrics.evaluate import EvalSet, Reference, judge_and_features, measure
from vision_collapse.metrics.judge import Prediction
from vision_collapse.metrics.stream import SampleStats
from vision_collapse.models import TrainingDiverged, build_model, load_model
from vision_collapse.models.training import batch_generator
from vision_collapse.runtime import runtime
from vision_collapse.viz.grid import class_grid_of


def manifest_rows(train_set: LabelledImages, label_source: str) -> list[dict]:
    """Provenance of every training item: id, label, who gave the label, and the generation it came from."""
    synthetic_labels = {"none": "judge"}.get(label_source, label_source)
    rows = []
    for item_id, label in zip(train_set.ids, train_set.labels.tolist()):
        real = item_id.startswith("real/")
        rows.append({
            "id": item_id,
            "label": int(label),
            "class_name": train_set.class_names[label],
            "source": "real" if real else item_id.split("/", 1)[0],
            "label_source": "dataset" if real else synthetic_labels,
            "from_generation": -1 if real else int(item_id.split("/", 1)[0][3:]),
        })
    return rows


def train_model(generation: int, train_set: LabelledImages, cfg: ExperimentConfig, run: Path):
    """This generation's fitted model: new weights, or generation g-1's model fine-tuned (loop.init)."""
    _, channels, resolution, _ = train_set.images.shape
    train = cfg.train
    torch.manual_seed(generation_seed(cfg.seed, generation, "init"))  # weight init draws from the global RNG
    if cfg.loop.init == "finetune" and generation > 0:
        model = load_model(rd.generation_dir(run, generation - 1) / rd.MODEL, cfg.model, train_set.num_classes,
                           cfg.conditional)
        train = replace(train, steps=cfg.loop.finetune_steps or train.steps)
    else:
        model = build_model(cfg.model, resolution, channels, train_set.num_classes, cfg.conditional)
    try:
        model.fit(train_set, train, batch_generator(generation_seed(cfg.seed, generation, "train")),
                  desc=f"gen {generation} train", checkpoint=rd.generation_dir(run, generation) / rd.CHECKPOINT)
    except TrainingDiverged as exc:
        raise UserError(f"generation {generation}: {exc}; lower train.lr (now {cfg.train.lr})") from None
    return model


def judging(ref: Reference, cfg: ExperimentConfig) -> Callable[[torch.Tensor, torch.Tensor | None], Shard]:
    """What each process does to the shard it drew: judge it, label it for the next generation, score it."""
    source, curating = cfg.loop.label_source, cfg.loop.curation < 1

    def work(images: torch.Tensor, cond: torch.Tensor | None) -> Shard:
        judged, features = judge_and_features(ref.judge, ref.features, images)
        tagged = ref.labeller.predict(images) if ref.labeller is not None else None
        carried = {"conditioning": cond, "none": judged.labels,
                   "classifier": tagged.labels if tagged is not None else None}[source]
        score = None
        if curating:
            scorer = tagged if cfg.loop.curation_by == "labeller" else judged
            # A conditioning label is what the sample claims to be; without one, any confident class will do.
            score = confidence(scorer.probs, cond if source == "conditioning" else None)
        return Shard(images, cond, carried, judged, features, score)

    return work


def write_samples(
    generation: int,
    model,
    train_set: LabelledImages,
    ref: Reference,
    cfg: ExperimentConfig,
    out: Path,  # the generation's folder
    count: int | None = None,  # samples to keep; None: as many as the real subset, as the loop does
) -> SampleStats | None:
    """Draw the samples (the most confident, when curating), shard by shard into gen_XXX/samples/, and
    return their statistics (main process; None elsewhere)."""
    rt = runtime()
    n = len(ref.real) if count is None else count
    drawn = math.ceil(n / cfg.loop.curation) if cfg.loop.curation < 1 else n  # oversample so curation keeps n
    cond = None
    if cfg.conditional:
        cond = sampling_labels(train_set, ref.real, drawn, cfg.loop.label_sampling,
                               torch.Generator().manual_seed(generation_seed(cfg.seed, generation, "labels")))
    shards = draw_shards(model, drawn, cond, cfg.loop.shard_size,
                         lambda k: generation_seed(cfg.seed, generation, "sample", k), judging(ref, cfg),
                         f"gen {generation} sample")
    if drawn > n:
        shards = curated(shards, n, out / rd.CANDIDATES)
    if not rt.is_main:
        for _ in shards:  # take part in drawing; main writes
            pass
        return None
    shutil.rmtree(out / rd.SAMPLES, ignore_errors=True)  # a killed attempt's shards
    stats = SampleStats(n, train_set.num_classes, ref.recogniser, cfg.eval.max_features, cfg.eval.grid_per_class,
                        0 if cfg.conditional else cfg.eval.samples_per_class,
                        torch.Generator().manual_seed(generation_seed(cfg.seed, generation, "metrics", 1)))
    for k, shard in enumerate(shards):
        ids = [f"gen{generation}/{i}" for i in range(stats.seen, stats.seen + len(shard.images))]
        rd.save_shard(out, k, shard.images, shard.carried, shard.judged.labels, shard.conditioning, ids,
                      train_set.class_names)
        stats.update(shard.images, shard.carried, shard.judged, shard.features)
    return stats


def eval_set(generation: int, model, stats: SampleStats | None, ref: Reference, cfg: ExperimentConfig) -> EvalSet | None:
    """Conditional: eval.samples_per_class fresh samples per class; unconditional: the first samples the judge
    puts in each class. Main process only; None elsewhere."""
    if not cfg.conditional:
        if stats is None:
            return None
        classes, judged, features = stats.eval_parts()
        return EvalSet(classes, None, judged, features)
    classes = torch.arange(ref.real.num_classes).repeat_interleave(cfg.eval.samples_per_class)

    def work(images, cond):
        return Shard(images, cond, cond, *judge_and_features(ref.judge, ref.features, images))

    parts = list(draw_shards(model, len(classes), classes, cfg.loop.shard_size,
                             lambda k: generation_seed(cfg.seed, generation, "eval", k), work,
                             f"gen {generation} eval"))
    if not parts:
        return None
    judged = Prediction(*(torch.cat(t) for t in zip(*(p.judged for p in parts))))
    return EvalSet(classes, classes, judged, torch.cat([p.features for p in parts]))


def run_generation(
    generation: int,
    train_set: LabelledImages,  # what this generation's model learns from
    ref: Reference,
    cfg: ExperimentConfig,
    out: Path,  # this generation's folder, RUN/gen_XXX
    gen0_calibrated=None,  # generation 0's calibrated class frequencies (None while measuring generation 0)
) -> dict | None:
    """Train, sample, judge, measure and write one generation's folder, DONE marker last; its summary row
    on the main process (None on the others, which only share the work)."""
    rt = runtime()
    rt.on_main(lambda: rd.write_csv(out / rd.MANIFEST, manifest_rows(train_set, cfg.loop.label_source)))

    start = time.perf_counter()
    model = train_model(generation, train_set, cfg, out.parent)

    def keep_model():
        rd.atomic_save_dir(out / rd.MODEL, model.save)
        (out / rd.CHECKPOINT).unlink(missing_ok=True)  # the saved model supersedes it

    rt.on_main(keep_model)
    train_seconds = time.perf_counter() - start

    start = time.perf_counter()
    stats = write_samples(generation, model, train_set, ref, cfg, out)
    sample_seconds = time.perf_counter() - start

    start = time.perf_counter()
    evaluated = eval_set(generation, model, stats, ref, cfg)
    seconds = {"train_seconds": train_seconds, "sample_seconds": sample_seconds}
    return rt.on_main(lambda: _measure_and_write(generation, train_set, stats, evaluated, ref, cfg, out,
                                                 gen0_calibrated, seconds, start))


def _measure_and_write(generation, train_set, stats, evaluated, ref, cfg, out, gen0_calibrated, seconds,
                       eval_start) -> dict:
    """The main process's part of a generation: grid, metrics, tables, TensorBoard, DONE last."""
    grid = class_grid_of(stats.firsts, stats.carried, train_set.class_names, cfg.eval.grid_per_class,
                         tuple(train_set.images.shape[2:]))
    rd.atomic_save_png(out / rd.GRID, grid)  # redrawable from samples/
    rng = torch.Generator().manual_seed(generation_seed(cfg.seed, generation, "metrics"))
    rows, summary, confusion = measure(generation, train_set, stats, evaluated, ref, cfg, gen0_calibrated, rng)
    summary.update(**seconds, eval_seconds=time.perf_counter() - eval_start)
    if confusion is not None:
        names = list(train_set.class_names) + ["unrecognisable"]
        rd.write_csv(out / rd.CONFUSION, [{"conditioning": names[c], **dict(zip(names, confusion[c].tolist()))}
                                          for c in range(train_set.num_classes)])
    rd.write_csv(out / rd.METRICS, rows)
    rd.write_csv(out / rd.SUMMARY, [summary])
    if cfg.log.tensorboard:
        from vision_collapse.viz.tensorboard import log_generation

        log_generation(out.parent, generation, summary, rows, grid)
    rd.atomic_write_text(out / rd.DONE, "")
    return summary
