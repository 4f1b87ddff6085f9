"""One generation: train on its training set, sample and judge the next one, evaluate, measure and write."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.errors import UserError
from vision_collapse.loop.correction import correction_summary
from vision_collapse.loop.sampling import curate_shards, draw_shards
from vision_collapse.loop.seeds import Generation, metrics_seeds
from vision_collapse.loop.strategies import sampling_labels
from vision_collapse.loop.web import web_rows, web_summary
from vision_collapse.metrics.evaluate import EvalSet, Reference, eval_set, measure
from vision_collapse.metrics.stream import SampleStats
from vision_collapse.models import GenerativeModel, TrainingDiverged, build_model, load_model
from vision_collapse.models.neon import neon
from vision_collapse.models.training import batch_generator, training_bar_label
from vision_collapse.null.check import chance_check
from vision_collapse.runtime import runtime


def build_manifest(gen: Generation) -> list[dict]:
    """Provenance of every training item: id, label, who gave the label, and the generation it came from."""
    synthetic_labels = {"none": "judge"}.get(gen.cfg.loop.label_source, gen.cfg.loop.label_source)
    train_set, rows = gen.train_set, []
    for item_id, label in zip(train_set.ids, train_set.labels.tolist()):
        source, from_generation = rf.provenance(item_id)
        rows.append({"id": item_id, "label": int(label), "class_name": train_set.class_names[label], "source": source,
                     "label_source": "dataset" if source == rf.REAL else synthetic_labels,
                     "from_generation": from_generation})
    return rows


def starting_model(run: Path, generation: int, cfg: ExperimentConfig) -> Path | None:
    """The saved model `generation` fine-tunes from (generation - 1's, under loop.init=finetune), or None; one line
    when its weights were not kept (loop.keep_models=last)."""
    if cfg.loop.init != "finetune" or generation == 0:
        return None
    path = rf.generation_dir(run, generation - 1) / rf.MODEL
    if not rf.weights_kept(path):
        raise UserError(f"generation {generation} fine-tunes from generation {generation - 1}'s weights, which "
                        f"were not kept ({path / rf.NOT_KEPT}: loop.keep_models=last keeps only the newest finished "
                        "generation's); recompute only from the newest finished generation on, or start a new run "
                        "with --out NEW_FOLDER")
    return path


def train_model(gen: Generation) -> tuple[GenerativeModel, list[float]]:
    """This generation's fitted model (new weights, or generation g-1's fine-tuned: loop.init) and its loss curve."""
    cfg, data = gen.cfg, gen.train_set
    _, channels, resolution, _ = data.images.shape
    train = cfg.train
    torch.manual_seed(gen.seed("init"))  # weight init draws from the global RNG
    if (start := starting_model(gen.folder.parent, gen.index, cfg)) is not None:
        model = load_model(start, cfg, data.num_classes, gen.perfect)
        train = replace(train, steps=cfg.loop.finetune_steps or train.steps)
    else:
        model = build_model(cfg, resolution, channels, data.num_classes, gen.folder.parent, gen.perfect)
    try:
        with training_bar_label(f"gen {gen.index} train"):
            losses = model.fit(data, train, batch_generator(gen.seed("train")), checkpoint=gen.folder / rf.CHECKPOINT)
        if cfg.loop.neon_weight > 0:  # the generation samples from, and keeps, the extrapolated weights
            model = neon(model, data, train, cfg.loop.neon_weight, cfg.loop.neon_steps, gen.seed("neon"),
                         gen.seed("neon_train"))[0]
    except TrainingDiverged as exc:
        raise UserError(f"generation {gen.index}: {exc}; lower train.lr (now {cfg.train.lr})") from None
    return model, losses


def write_samples(gen: Generation, model: GenerativeModel, ref: Reference, count: int | None = None) -> SampleStats | None:
    """Draw `count` samples (None: as many as the real subset, as the loop does; the most confident when
    curating), shard by shard into gen_XXX/samples/, and return their statistics (main process; None elsewhere)."""
    cfg, n = gen.cfg, len(ref.real) if count is None else count
    drawn = math.ceil(n * cfg.loop.oversampling)  # oversample so curation keeps n
    cond = None
    if cfg.conditional:
        cond = sampling_labels(gen.train_set, ref.real, drawn, cfg.loop.label_sampling,
                               np.random.default_rng(gen.seed("labels")))
    outcomes: list[np.ndarray] = []  # expert correction's, of every drawn sample (before curation keeps some)
    shards = tallied(draw_shards(gen, model, drawn, cond, "sample", ref), outcomes)
    if drawn > n:
        shards = curate_shards(shards, n, gen)
    if not runtime().is_main:
        for _ in shards:  # take part in drawing; main writes
            pass
        return None
    rf.remove_samples(gen.folder)  # a killed attempt's shards
    stats = SampleStats(n, gen.train_set.num_classes, ref.recogniser, cfg.eval.max_features,
                        0 if cfg.conditional else cfg.eval.samples_per_class,
                        torch.Generator().manual_seed(metrics_seeds(gen.cfg.seed, gen.index)[0]))
    for k, shard in enumerate(shards):
        rf.write_shard(gen.folder, k, shard, rf.sample_ids(gen.index, stats.seen, len(shard.images)),
                       gen.train_set.class_names)
        stats.update(shard)
    if cfg.loop.correction != "none":
        stats.extra.update(correction_summary(outcomes))
    return stats


def tallied(shards, outcomes: list[np.ndarray]):
    """The shards as they are, each one's expert-correction outcomes appended to `outcomes` as it passes."""
    for shard in shards:
        if shard.corrections is not None:
            outcomes.append(shard.corrections)
        yield shard


def draw_eval_set(gen: Generation, model: GenerativeModel, stats: SampleStats | None, ref: Reference) -> EvalSet | None:
    """Conditional: eval.samples_per_class fresh samples per class; unconditional: the first recognised samples
    the judge puts in each class. Main process only; None elsewhere."""
    if not gen.cfg.conditional:
        return None if stats is None else eval_set(stats)
    classes = torch.arange(ref.real.num_classes).repeat_interleave(gen.cfg.eval.samples_per_class)
    return eval_set(stats, list(draw_shards(gen, model, len(classes), classes, "eval", ref)))


def measure_and_write(gen: Generation, ref: Reference, stats: SampleStats, evaluated: EvalSet | None,
                      previous: list[list[dict]], seconds: dict, eval_start: float, begun: float, log) -> dict:
    """The main process's part: measure the generation, write its tables, and return its summary row (with the
    seconds of each stage, and of the whole generation since `begun`)."""
    rng = torch.Generator().manual_seed(metrics_seeds(gen.cfg.seed, gen.index)[1])
    samples = rf.load_samples(gen.folder)[0]  # what the next generation learns from: CAS trains on it
    result = measure(gen.index, gen.train_set, stats, evaluated, ref, gen.cfg, rng, samples=samples,
                     chance=chance_check(gen.cfg, ref, previous))
    for line in result.warnings:
        log(f"warning: {line}")
    result.summary.update(stats.extra)  # what the sampling steps report (expert correction)
    if gen.cfg.loop.strategy == "scrape":
        result.summary.update(web_summary(gen.web))
    now = time.perf_counter()
    result.summary.update(**seconds, eval_seconds=now - eval_start, generation_seconds=now - begun)
    rf.write_generation_tables(gen.folder, result.rows, result.summary, result.chance, result.confusion,
                               gen.train_set.class_names)
    return result.summary


def keep_model(gen: Generation, model: GenerativeModel, losses: list[float]) -> None:
    """Save the fitted model into gen_XXX/model/ (it supersedes the training checkpoint) and its loss curve."""
    rf.atomic_save_dir(gen.folder / rf.MODEL, model.save)
    rf.write_csv(gen.folder / rf.TRAIN_LOSS, [{"step": i, "loss": v} for i, v in enumerate(losses)], ["step", "loss"])
    (gen.folder / rf.CHECKPOINT).unlink(missing_ok=True)


def run_generation(gen: Generation, ref: Reference, previous: list[list[dict]] = (), log=print) -> dict | None:
    """Train, sample, judge, measure and write one generation's folder (all but its DONE marker); its summary
    row on the main process, None on the others (which only share the work).

    previous: the class rows (metrics.csv) of generations 0 .. g-1 (what the null chains are checked against).
    """
    rt = runtime()
    begun = time.perf_counter()
    rt.on_main(lambda: rf.write_csv(gen.folder / rf.MANIFEST, build_manifest(gen)))
    if gen.web is not None:
        rt.on_main(lambda: rf.write_csv(gen.folder / rf.WEB, web_rows(gen.web)))

    # -- train ----------------------------------------------------------------------------------------------
    start = time.perf_counter()
    model, losses = train_model(gen)
    rt.on_main(lambda: keep_model(gen, model, losses))
    seconds = {"train_seconds": time.perf_counter() - start}

    # -- sample and judge: the next generation's training set -------------------------------------------------
    start = time.perf_counter()
    stats = write_samples(gen, model, ref)
    seconds["sample_seconds"] = time.perf_counter() - start

    # -- evaluate: a fixed number of samples per class ----------------------------------------------------------
    start = time.perf_counter()
    evaluated = draw_eval_set(gen, model, stats, ref)

    # -- measure and write (main process; a failure there stops every process) -----------------------------------
    return rt.on_main(lambda: measure_and_write(gen, ref, stats, evaluated, list(previous), seconds, start, begun,
                                                log))
