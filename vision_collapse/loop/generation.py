"""One generation: train on its training set, sample the next one, judge and measure the samples."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from vision_collapse.config import ExperimentConfig
from vision_collapse.data.images import LabelledImages
from vision_collapse.errors import UserError
from vision_collapse.loop import run_dir as rd
from vision_collapse.loop.labels import confidence, curate
from vision_collapse.loop.seeds import generation_seed
from vision_collapse.loop.strategies import sampling_labels
from vision_collapse.metrics.evaluate import EvalSet, Reference, judge_and_features, measure
from vision_collapse.models import TrainingDiverged, build_model, load_model
from vision_collapse.viz.grid import class_grid


@dataclass(frozen=True)
class GenerationResult:
    """A finished generation's tables and its labelled samples (the next training set)."""

    class_rows: list[dict]
    summary: dict
    samples: LabelledImages


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
        model.fit(train_set, train, torch.Generator().manual_seed(generation_seed(cfg.seed, generation, "train")),
                  desc=f"gen {generation} train", checkpoint=rd.generation_dir(run, generation) / rd.CHECKPOINT)
    except TrainingDiverged as exc:
        raise UserError(f"generation {generation}: {exc}; lower train.lr (now {cfg.train.lr})") from None
    return model


def draw_samples(generation: int, model, train_set: LabelledImages, ref: Reference, cfg: ExperimentConfig):
    """(images, conditioning labels or None): as many as the real subset, the most confident when curating."""
    n = len(ref.real)
    drawn = math.ceil(n / cfg.loop.curation) if cfg.loop.curation < 1 else n  # oversample so curation keeps n
    cond = None
    if cfg.conditional:
        cond = sampling_labels(train_set, ref.real, drawn, cfg.loop.label_sampling,
                               torch.Generator().manual_seed(generation_seed(cfg.seed, generation, "labels")))
    images = model.sample(drawn, cond, torch.Generator().manual_seed(generation_seed(cfg.seed, generation, "sample")),
                          desc=f"gen {generation} sample")
    if drawn > n:
        scorer = ref.labeller if cfg.loop.curation_by == "labeller" else ref.judge
        # A conditioning label is what the sample claims to be; without one, any confident class will do.
        claimed = cond if cfg.loop.label_source == "conditioning" else None
        keep = torch.from_numpy(curate(confidence(scorer.predict(images).probs, claimed), n))
        images, cond = images[keep], (None if cond is None else cond[keep])
    return images, cond


def eval_set(generation: int, model, samples: LabelledImages, judged, features, ref: Reference,
             cfg: ExperimentConfig) -> EvalSet:
    """Conditional: eval.samples_per_class fresh samples per class; unconditional: the samples, by judged class."""
    if not cfg.conditional:
        return EvalSet(judged.labels, None, judged, features)
    classes = torch.arange(samples.num_classes).repeat_interleave(cfg.eval.samples_per_class)
    images = model.sample(len(classes), classes,
                          torch.Generator().manual_seed(generation_seed(cfg.seed, generation, "eval")),
                          desc=f"gen {generation} eval")
    return EvalSet(classes, classes, *judge_and_features(ref.judge, ref.features, images))


def run_generation(
    generation: int,
    train_set: LabelledImages,  # what this generation's model learns from
    ref: Reference,
    cfg: ExperimentConfig,
    out: Path,  # this generation's folder, RUN/gen_XXX
    gen0_calibrated=None,  # generation 0's calibrated class frequencies (None while measuring generation 0)
) -> GenerationResult:
    """Train, sample, judge, measure and write one generation's folder, DONE marker last."""
    out.mkdir(parents=True, exist_ok=True)
    rd.write_csv(out / rd.MANIFEST, manifest_rows(train_set, cfg.loop.label_source))

    start = time.perf_counter()
    model = train_model(generation, train_set, cfg, out.parent)
    rd.atomic_save_dir(out / rd.MODEL, model.save)
    (out / rd.CHECKPOINT).unlink(missing_ok=True)  # the saved model supersedes it
    train_seconds = time.perf_counter() - start

    start = time.perf_counter()
    images, cond = draw_samples(generation, model, train_set, ref, cfg)
    sample_seconds = time.perf_counter() - start

    judged, features = judge_and_features(ref.judge, ref.features, images)
    # The label each sample carries into the next generation (loop.label_source).
    labels = {"conditioning": cond, "none": judged.labels,
              "classifier": ref.labeller.predict(images).labels if ref.labeller else None}[cfg.loop.label_source]
    ids = tuple(f"gen{generation}/{i}" for i in range(len(images)))
    samples = LabelledImages(images, labels, ids, train_set.class_names)
    rd.save_samples(out / rd.SAMPLES, samples, judged.labels, cond)
    rd.atomic_save_png(out / rd.GRID, class_grid(samples, cfg.eval.grid_per_class))  # redrawable from samples.npz

    start = time.perf_counter()
    evaluated = eval_set(generation, model, samples, judged, features, ref, cfg)
    rng = torch.Generator().manual_seed(generation_seed(cfg.seed, generation, "metrics"))
    rows, summary, confusion = measure(generation, train_set, samples, judged, features, evaluated, ref, cfg,
                                       gen0_calibrated, rng)
    summary.update(train_seconds=train_seconds, sample_seconds=sample_seconds,
                   eval_seconds=time.perf_counter() - start)
    if confusion is not None:
        names = list(samples.class_names) + ["unrecognisable"]
        rd.write_csv(out / rd.CONFUSION, [{"conditioning": names[c], **dict(zip(names, confusion[c].tolist()))}
                                          for c in range(samples.num_classes)])
    rd.write_csv(out / rd.METRICS, rows)
    rd.write_csv(out / rd.SUMMARY, [summary])
    if cfg.log.tensorboard:
        from vision_collapse.viz.tensorboard import log_generation

        log_generation(out.parent, generation, summary, rows, class_grid(samples, cfg.eval.grid_per_class))
    rd.atomic_write_text(out / rd.DONE, "")
    return GenerationResult(rows, summary, samples)
