"""loop.filter: what tries to recover provenance on a scraped web before the learner trains on it.

Every filter returns the learner's copies of the web (the watermark's attacks change generated images), which
items it lets through, and its evidence per item.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.data import RealData
from vision_collapse.data import watermark as wm
from vision_collapse.data.images import LabelledImages, concat
from vision_collapse.loop.seeds import generation_seed
from vision_collapse.loop.strategies import draw_index
from vision_collapse.metrics.backbone import probe_backbone
from vision_collapse.metrics.classifier import load_classifier, save_classifier, train_classifier

DETECTOR_CLASSES = ("real", "generated")


def apply_filter(generation: int, web: LabelledImages, synthetic: np.ndarray, reserve: np.ndarray, real: RealData,
                 history: list[LabelledImages], cfg: ExperimentConfig, run: Path
                 ) -> tuple[LabelledImages, np.ndarray, np.ndarray]:
    """(the learner's copies of the web, kept, evidence) under cfg.loop.filter."""
    how, nan = cfg.loop.filter, np.full(len(web), np.nan)
    rng = np.random.default_rng(generation_seed(cfg.seed, generation, "filter"))
    if how == "none":
        return web, np.ones(len(web), bool), nan
    if how == "oracle":
        return web, ~synthetic, nan
    if how == "tag":  # a generated image keeps its tag with probability tag_survival; real images have none
        tagged = synthetic & (rng.random(len(web)) < cfg.loop.tag_survival)
        return web, ~tagged, tagged.astype(float)
    if how == "detector":
        p, threshold = detector_scores(generation, web, reserve, real, history, cfg, run)
        return web, p <= threshold, p
    return _watermark(web, synthetic, cfg, rng)


def _watermark(web: LabelledImages, synthetic: np.ndarray, cfg: ExperimentConfig, rng: np.random.Generator
               ) -> tuple[LabelledImages, np.ndarray, np.ndarray]:
    """Generated images are marked, attacked and posted; every web copy is decoded; the learner gets the
    posted generated images back at its own size."""
    _, channels, resolution, _ = web.images.shape
    size = wm.web_size(resolution, cfg.loop.watermark_upsample)
    copies = wm.to_web(web.images, size)
    gen = np.flatnonzero(synthetic)
    posted = wm.attack(wm.mark([copies[i] for i in gen]), cfg.loop.watermark_attack, rng)
    for i, c in zip(gen, posted):
        copies[i] = c
    errors = wm.bit_errors(copies).astype(float)
    images = web.images.clone()
    if len(gen):
        images[torch.from_numpy(gen)] = wm.from_web(posted, channels, resolution)
    return replace(web, images=images), errors > wm.MAX_BIT_ERRORS, errors


def detector_scores(generation: int, web: LabelledImages, reserve: np.ndarray, real: RealData,
                    history: list[LabelledImages], cfg: ExperimentConfig, run: Path) -> tuple[np.ndarray, float]:
    """(the probability that each web image is generated, the threshold above which it is dropped), from this
    generation's detector (trained once and kept in gen_XXX/, so a resume reuses it)."""
    folder = rf.generation_dir(run, generation)
    path = folder / rf.DETECTOR
    if path.is_file():
        detector = load_classifier(path, web.images.shape[1], 2, cfg.judge, probe_backbone(cfg))
        threshold = float(rf.read_json(folder / rf.DETECTOR_REPORT)["threshold"])
    else:
        train, held_out = _detector_sets(generation, reserve, real, history, cfg)
        recipe = replace(cfg.judge, epochs=cfg.loop.detector_epochs or cfg.judge.epochs)
        detector = train_classifier(train, held_out, recipe, generation_seed(cfg.seed, generation, "detector"),
                                    "detector", probe_backbone(cfg))
        known_real = held_out.subset(np.flatnonzero(held_out.labels.numpy() == 0))
        scores = detector.predict(known_real.images).probs[:, 1].numpy()
        # Drop what scores above all but detector_fpr of known-real images the detector never trained on.
        threshold = float(np.quantile(scores, 1 - cfg.loop.detector_fpr, method="higher"))
        folder.mkdir(parents=True, exist_ok=True)
        rf.write_json(folder / rf.DETECTOR_REPORT, {"threshold": threshold, "heldout_accuracy": detector.accuracy,
                                                    "trained_on": len(train), "held_out": len(held_out)})
        save_classifier(detector, path)
    return detector.predict(web.images).probs[:, 1].numpy(), threshold


def _detector_sets(generation: int, reserve: np.ndarray, real: RealData, history: list[LabelledImages],
                   cfg: ExperimentConfig) -> tuple[LabelledImages, LabelledImages]:
    """(training set, held-out set) of a detector: what a defender could have. Known-real images from the real
    subset, and the samples of the generator's earlier versions (generations 0 .. g-1) kept off the web for
    it; a fifth of each is held out to set the threshold."""
    rng = np.random.default_rng(generation_seed(cfg.seed, generation, "detector", 1))
    known = real.subset.subset(draw_index(len(real.subset), cfg.loop.detector_known_real, rng))
    made = concat(history[:generation]).subset(reserve)

    def as_detector_set(images: LabelledImages, label: int) -> LabelledImages:
        return LabelledImages(images.images, torch.full((len(images),), label), images.ids, DETECTOR_CLASSES)

    parts = [as_detector_set(known, 0), as_detector_set(made, 1)]
    train, held = [], []
    for part in parts:
        order = rng.permutation(len(part))
        cut = len(part) // 5
        held.append(part.subset(np.sort(order[:cut])))
        train.append(part.subset(np.sort(order[cut:])))
    return concat(train), concat(held)
