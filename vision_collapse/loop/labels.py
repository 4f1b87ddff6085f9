"""Who names synthetic images (the pseudo-labeller) and which samples curation keeps."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.data import RealData
from vision_collapse.loop.seeds import generation_seed
from vision_collapse.metrics.backbone import probe_backbone
from vision_collapse.metrics.classifier import (
    Classifier,
    classifier_report,
    keep_classifier,
    load_classifier,
    train_classifier,
)


def needs_labeller(cfg: ExperimentConfig) -> bool:
    """Whether the run uses a pseudo-labeller: for labels, or to rank samples for curation."""
    curating = cfg.loop.curating and cfg.loop.curation_by == "labeller"
    return cfg.loop.label_source == "classifier" or curating


def load_or_train_labeller(run: Path, real: RealData, cfg: ExperimentConfig) -> Classifier:
    """The run's pseudo-labeller: trained once on generation 0's imbalanced subset, kept in the run folder."""
    path = Path(run) / rf.LABELLER
    in_channels, num_classes = real.subset.images.shape[1], real.subset.num_classes
    if path.is_file():
        return load_classifier(path, in_channels, num_classes, cfg.judge, probe_backbone(cfg))
    # Same architecture and recipe as the judge, but it sees only the skewed subset, so its prior leans
    # toward the head class the way a tagger trained on scraped, imbalanced data would.
    recipe = replace(cfg.judge, epochs=cfg.loop.labeller_epochs or cfg.judge.epochs)
    labeller = train_classifier(real.subset, real.test, recipe, generation_seed(cfg.seed, 0, "labeller"), "labeller",
                                probe_backbone(cfg))
    note = "trained on generation 0's imbalanced subset only; measured on the held-out test split"
    rf.write_json(Path(run) / rf.LABELLER_REPORT, classifier_report(labeller, real.subset.class_names, note))
    return keep_classifier(labeller, path, in_channels, num_classes, cfg.judge, probe_backbone(cfg))


def balanced_draw(real: RealData, seed: int):
    """As many images of every class as the scarcest class of the judge pool has, drawn without replacement."""
    pool = real.judge_pool
    labels = pool.labels.numpy()
    per_class = int(np.bincount(labels, minlength=pool.num_classes).min())
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(pool.num_classes)]
    return pool.subset(torch.from_numpy(np.sort(np.concatenate(chosen))))


def load_or_train_expert(run: Path, real: RealData, cfg: ExperimentConfig) -> Classifier:
    """The run's expert for loop.correction: neither the judge nor the labeller, trained once with its own seed on
    a balanced draw of the judge pool (so it does not lean toward the head), kept in the run folder."""
    path = Path(run) / rf.EXPERT
    in_channels, num_classes = real.subset.images.shape[1], real.subset.num_classes
    if path.is_file():
        return load_classifier(path, in_channels, num_classes, cfg.judge, probe_backbone(cfg))
    seed = generation_seed(cfg.seed, 0, "expert")
    train = balanced_draw(real, seed)
    expert = train_classifier(train, real.test, cfg.judge, seed, "expert", probe_backbone(cfg))
    note = (f"trained on a balanced draw of {len(train)} judge-pool images ({len(train) // num_classes} per class) "
            "with its own seed; measured on the held-out test split")
    rf.write_json(Path(run) / rf.EXPERT_REPORT, {**classifier_report(expert, real.subset.class_names, note),
                                                  "seed": seed})
    return keep_classifier(expert, path, in_channels, num_classes, cfg.judge, probe_backbone(cfg))


def confidence(probs: torch.Tensor, labels: torch.Tensor | None) -> np.ndarray:
    """Each sample's score: the probability of its conditioning label, or the top probability without one."""
    if labels is None:
        return probs.max(1).values.numpy()
    return probs.gather(1, labels[:, None]).squeeze(1).numpy()


def curate(scores: np.ndarray, keep: int) -> np.ndarray:
    """Positions of the `keep` highest scores, ties to the earlier sample, in their original order."""
    order = np.argsort(-scores, kind="stable")
    return np.sort(order[:keep])


def choose_one_of_k(scores: np.ndarray, k: int, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Stochastic K-choice (Ferbach et al. 2024): positions of one sample per random K-tuple, chosen with
    probability proportional to exp(log(score) / temperature), in their original order."""
    groups = rng.permutation(len(scores))[: len(scores) // k * k].reshape(-1, k)
    # Random tuples, not consecutive ones: samples are drawn in label order, and the choice must be
    # able to prefer one class over another.
    logits = np.log(np.clip(scores[groups], 1e-12, None)) / temperature
    p = np.exp(logits - logits.max(1, keepdims=True))
    cumulative = np.cumsum(p / p.sum(1, keepdims=True), 1)
    pick = (rng.random((len(groups), 1)) > cumulative).sum(1).clip(max=k - 1)
    return np.sort(groups[np.arange(len(groups)), pick])


def select_curated(scores: np.ndarray, keep: int, loop, rng: np.random.Generator) -> np.ndarray:
    """Positions curation keeps: the top `keep` (loop.curation) or one of every K (loop.curation_choice)."""
    if loop.curation_choice > 1:
        return choose_one_of_k(scores, loop.curation_choice, loop.reward_temperature, rng)[:keep]
    return curate(scores, keep)
