"""Everything measured about one generation, per class and overall, against a reference computed once per run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from vision_collapse import run_folder as rf
from vision_collapse.config import ExperimentConfig
from vision_collapse.data.images import LabelledImages
from vision_collapse.metrics import frequencies as fq
from vision_collapse.metrics.calibration import calibrated_frequencies, confusion_matrix
from vision_collapse.metrics.classifier import Classifier, Prediction
from vision_collapse.metrics.fid import frechet_distance, gaussian_stats, per_class_fid
from vision_collapse.metrics.floor import fid_floor
from vision_collapse.metrics.kid import kid
from vision_collapse.metrics.prdc import prdc
from vision_collapse.metrics.recognise import Recogniser
from vision_collapse.metrics.stream import SampleStats


@dataclass(frozen=True)
class Reference:
    """What every generation is measured against; computed once per run."""

    real: LabelledImages  # the generation-0 imbalanced subset
    judge: Classifier
    features: Callable[[torch.Tensor], torch.Tensor] | None  # images -> backbone features; None: the judge's
    test_features: torch.Tensor  # backbone features of the held-out real test images
    test_labels: torch.Tensor
    backbone_by_class: list[torch.Tensor]  # backbone features of every real image (pool and test) of each class
    confusion: np.ndarray  # judge's P(judged i | true j) on the held-out test images
    recogniser: Recogniser
    labeller: Classifier | None = None  # the pseudo-labeller, when the config asks for one


@dataclass(frozen=True)
class EvalSet:
    """The samples per-class quality is measured on."""

    classes: torch.Tensor  # the class each sample stands for (conditioning label, or the judge's label)
    conditioning: torch.Tensor | None  # conditioning labels, for label fidelity; None when unconditional
    judged: Prediction
    features: torch.Tensor  # backbone features


def judge_and_features(judge: Classifier, features, images: torch.Tensor) -> tuple[Prediction, torch.Tensor]:
    """The judge's prediction and the backbone features of images: one pass when `features` is None (the judge's)."""
    judged = judge.predict(images)
    return judged, judged.features if features is None else features(images)


def build_reference(real, judge: Classifier, labeller: Classifier | None, features, cfg: ExperimentConfig) -> Reference:
    """Test features, per-class real features, the judge's confusion and the recognition thresholds.

    `features` maps images to backbone features, or is None when the judge itself is the backbone.
    """
    test_pred, test_feats = judge_and_features(judge, features, real.test.images)
    pool_pred, pool_feats = judge_and_features(judge, features, real.pool.images)
    both = torch.cat([pool_feats, test_feats])
    labels = torch.cat([real.pool.labels, real.test.labels])
    by_class = [both[labels == c] for c in range(real.pool.num_classes)]
    confusion = confusion_matrix(real.test.labels.numpy(), test_pred.labels.numpy(), real.pool.num_classes)
    judge_by_class = [pool_pred.features[real.pool.labels == c] for c in range(real.pool.num_classes)]
    recogniser = Recogniser.fit(test_pred.probs, test_pred.features, judge_by_class, cfg.eval.recognisable_quantile)
    return Reference(real.subset, judge, features, test_feats, real.test.labels, by_class, confusion, recogniser,
                     labeller)


@dataclass(frozen=True)
class GenerationResult:
    """What `measure` found about one generation."""

    rows: list[dict]  # metrics.csv: one row per class, then the unrecognisable row
    summary: dict  # summary.csv's row
    confusion: np.ndarray | None  # conditioning x judged counts (last column: unrecognisable); None if unconditional


def measure(
    generation: int,
    train_set: LabelledImages,
    stats: SampleStats,  # what was accumulated over the generation's samples (the next training set)
    eval_set: EvalSet,
    ref: Reference,
    cfg: ExperimentConfig,
    gen0_calibrated: np.ndarray | None,  # generation 0's calibrated frequencies; None for generation 0 itself
    rng: torch.Generator,  # draws KID subsets and noise-floor splits
) -> GenerationResult:
    """Per-class rows, the summary row and the conditioning x judged confusion of one generation."""
    ev, num, names = cfg.eval, train_set.num_classes, train_set.class_names
    unrecognisable = stats.unrecognisable_share
    recognisable = fq.shares(stats.recognised)
    gen_freq = recognisable * (1 - unrecognisable)  # shares of all samples
    calibrated = calibrated_frequencies(recognisable, ref.confusion)
    head, tail = fq.head_and_tail(ref.real.class_counts(), ev.tail_fraction)

    eval_counts = np.bincount(eval_set.classes.numpy(), minlength=num)
    # The judge's verdict on each evaluation sample, with unrecognisable ones as class `num`.
    rejected = ref.recogniser.unrecognisable(eval_set.judged.probs, eval_set.judged.features)
    verdict = torch.from_numpy(np.where(rejected, num, eval_set.judged.labels.numpy()))
    fids = per_class_fid(eval_set.features, eval_set.classes, ref.test_features, ref.test_labels, num)
    train_counts, sample_counts = train_set.class_counts(), stats.carried
    rows = []
    for c in range(num):
        mine = eval_set.classes == c
        real_c = ref.test_features[ref.test_labels == c]
        k_mean, k_std = kid(eval_set.features[mine], real_c, ev.kid_subset_size, ev.kid_subsets, rng)
        judged_c = verdict[mine]
        conditional = eval_set.conditioning is not None and len(judged_c)
        rows.append({
            "generation": generation, "class_index": c, "class_name": names[c],
            "train_count": int(train_counts[c]), "sample_count": int(sample_counts[c]),
            "gen_freq": gen_freq[c], "gen_freq_recognisable": recognisable[c], "gen_freq_calibrated": calibrated[c],
            "eval_count": int(eval_counts[c]), "fid": fids[c],
            "fid_floor": fid_floor(ref.backbone_by_class[c], int(eval_counts[c]), ev.floor_repeats, rng),
            "kid": k_mean, "kid_std": k_std,
            **prdc(real_c, eval_set.features[mine], ev.prdc_k),
            "label_fidelity": float((judged_c == c).double().mean()) if conditional else float("nan"),
            "to_head": float((judged_c == head).double().mean()) if len(judged_c) else float("nan"),
        })
    rows.append({**{k: float("nan") for k in rows[0]}, "generation": generation, "class_index": -1,
                 "class_name": rf.UNRECOGNISABLE, "train_count": 0, "sample_count": 0, "eval_count": 0,
                 "gen_freq": unrecognisable})

    head_share, tail_share = fq.head_and_tail_shares(gen_freq, head, tail)
    head_cal, tail_cal = fq.head_and_tail_shares(calibrated, head, tail)
    reference = calibrated if gen0_calibrated is None else gen0_calibrated
    subset = stats.feature_subset()
    k_mean, k_std = kid(subset, ref.test_features, ev.kid_subset_size, ev.kid_subsets, rng)
    real_items = sum(rf.is_real(i) for i in train_set.ids)
    summary = {
        "generation": generation,
        "fid": frechet_distance(*stats.moments(), *gaussian_stats(ref.test_features)) if stats.seen > 1 else float("nan"),
        "kid": k_mean, "kid_std": k_std,
        **prdc(ref.test_features, subset, ev.prdc_k),
        "head_share": head_share, "tail_share": tail_share,
        "head_share_calibrated": head_cal, "tail_share_calibrated": tail_cal,
        "unrecognisable_share": unrecognisable,
        "entropy": fq.entropy(calibrated),
        "kl_to_gen0": fq.kl_divergence(calibrated, reference),
        "tv_to_gen0": fq.total_variation(calibrated, reference),
        "extinct_classes": fq.count_extinct(calibrated, stats.seen),
        "train_size": len(train_set),
        "real_fraction": real_items / len(train_set),
    }
    confusion = None
    if eval_set.conditioning is not None:
        confusion = np.zeros((num, num + 1), dtype=np.int64)  # last column: unrecognisable
        np.add.at(confusion, (eval_set.conditioning.numpy(), verdict.numpy()), 1)
    return GenerationResult(rows, summary, confusion)
