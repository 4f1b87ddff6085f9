"""Who names synthetic images (the pseudo-labeller) and which samples curation keeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.data import RealData
from vision_collapse.loop.seeds import generation_seed
from vision_collapse.metrics.classifier import (
    Classifier,
    classifier_report,
    load_classifier,
    save_classifier,
    train_classifier,
)


def needs_labeller(cfg: ExperimentConfig) -> bool:
    """Whether the run uses a pseudo-labeller: for labels, or to rank samples for curation."""
    curating = cfg.loop.curation < 1 and cfg.loop.curation_by == "labeller"
    return cfg.loop.label_source == "classifier" or curating


def load_or_train_labeller(run: Path, real: RealData, cfg: ExperimentConfig) -> Classifier:
    """The run's pseudo-labeller: trained once on generation 0's imbalanced subset, kept in the run folder."""
    path = Path(run) / rf.LABELLER
    in_channels, num_classes = real.subset.images.shape[1], real.subset.num_classes
    if path.is_file():
        return load_classifier(path, in_channels, num_classes, cfg.judge)
    # Same architecture and recipe as the judge, but it sees only the skewed subset, so its prior leans
    # toward the head class the way a tagger trained on scraped, imbalanced data would.
    labeller = train_classifier(real.subset, real.test, cfg.judge, generation_seed(cfg.seed, 0, "labeller"), "labeller")
    note = "trained on generation 0's imbalanced subset only; measured on the held-out test split"
    rf.write_json(Path(run) / rf.LABELLER_REPORT, classifier_report(labeller, real.subset.class_names, note))
    save_classifier(labeller, path)
    return labeller


def confidence(probs: torch.Tensor, labels: torch.Tensor | None) -> np.ndarray:
    """Each sample's score: the probability of its conditioning label, or the top probability without one."""
    if labels is None:
        return probs.max(1).values.numpy()
    return probs.gather(1, labels[:, None]).squeeze(1).numpy()


def curate(scores: np.ndarray, keep: int) -> np.ndarray:
    """Positions of the `keep` highest scores, ties to the earlier sample, in their original order."""
    order = np.argsort(-scores, kind="stable")
    return np.sort(order[:keep])
