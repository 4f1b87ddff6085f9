"""What collapses inside a class: diversity (Vendi score), memorisation (near-copies of training images) and
the classification accuracy score (CAS) of a classifier trained on the samples alone."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from vendi_score import vendi

from vision_collapse.data.images import LabelledImages
from vision_collapse.metrics.backbone import probe_backbone
from vision_collapse.metrics.classifier import train_classifier
from vision_collapse.runtime import compute_device

CAS_SEED = 4242  # one seed for every CAS classifier, so generations differ only in their samples
MEMORISED_QUANTILE = 0.01  # a sample closer to a training image than 1% of real images are counts as a copy


def vendi_score(features: torch.Tensor) -> float:
    """Vendi score (Friedman & Dieng 2023) of a set under the cosine kernel: the effective number of distinct
    samples, from 1 (all alike) to the set's size; NaN below two samples."""
    if len(features) < 2:
        return float("nan")
    return float(vendi.score_dual(features.double().numpy(), normalize=True))


def pixel_vectors(images: torch.Tensor) -> torch.Tensor:
    """uint8 images as flat vectors on [0, 1]: the memorisation check's space under eval.copy_space=pixels."""
    return images.flatten(1).float() / 255


def nearest_distances(vectors: torch.Tensor, reference: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Each row's Euclidean distance to its nearest row of `reference`, computed on the compute device in chunks
    of `chunk` rows."""
    device = compute_device()
    ref = reference.to(device).float()
    out = [torch.cdist(part.to(device).float(), ref).min(1).values.cpu() for part in vectors.split(chunk)]
    return torch.cat(out) if out else torch.zeros(0)


@dataclass(frozen=True)
class CopyDetector:
    """Near-copy threshold from real data: held-out real images' distances to the nearest real training image, in
    the space eval.copy_space names (pixels, or the backbone's features)."""

    threshold: float  # the MEMORISED_QUANTILE quantile of real nearest-neighbour distances
    real_share: np.ndarray  # per class: the share of held-out real images below it (the baseline, about 1%)
    photos: torch.Tensor  # the real subset's vectors: the photos generation 0 (and a pretrained model's fine-tune) learns

    @classmethod
    def fit(cls, held_out: torch.Tensor, held_out_labels: torch.Tensor, training: torch.Tensor,
            num_classes: int) -> "CopyDetector":
        """Threshold from held-out real images' vectors against the real subset's."""
        distances = nearest_distances(held_out, training)
        threshold = float(torch.quantile(distances.double(), MEMORISED_QUANTILE))
        below = (distances < threshold).numpy()
        labels = held_out_labels.numpy()
        share = np.array([below[labels == c].mean() if (labels == c).any() else np.nan for c in range(num_classes)])
        return cls(threshold, share, training)

    def memorised(self, vectors: torch.Tensor, training: torch.Tensor) -> np.ndarray:
        """Whether each vector lies closer to a training vector than the threshold."""
        return (nearest_distances(vectors, training) < self.threshold).numpy()


def within_class_columns(features: torch.Tensor, vectors: torch.Tensor | None, training: torch.Tensor | None,
                         copies: "CopyDetector", c: int, floor: dict, cas: np.ndarray | None,
                         cas_real: np.ndarray) -> dict:
    """The per-class table's within-class columns for class c: Vendi score, memorised share (of this generation's
    training set, and of the real subset's photos) and CAS, each beside its real-data baseline; NaN where the class
    has no evaluation samples or the generation no training images."""
    nan = float("nan")
    memorised = photos = nan
    if vectors is not None and len(vectors):  # the class's samples, as copies.fit's vectors
        photos = float(copies.memorised(vectors, copies.photos).mean())
        if len(training):
            memorised = float(copies.memorised(vectors, training).mean())
    return {"vendi": vendi_score(features), "vendi_floor_median": floor.get("vendi_floor_median", nan),
            "vendi_floor_p05": floor.get("vendi_floor_p05", nan),
            "memorised_share": memorised, "memorised_photos": photos, "memorised_real": float(copies.real_share[c]),
            "cas": nan if cas is None else float(cas[c]), "cas_real": float(cas_real[c])}


def class_accuracy(samples: LabelledImages, test: LabelledImages, cfg) -> np.ndarray | None:
    """Per-class recall on the real test split of a classifier trained on `samples` alone (CAS, Ravuri &
    Vinyals 2019), with the judge's recipe for eval.cas_epochs epochs; None when CAS is off or impossible."""
    if cfg.eval.cas_epochs == 0 or len(samples) < 2:
        return None
    net = train_classifier(samples, test, replace(cfg.judge, epochs=cfg.eval.cas_epochs), CAS_SEED, "CAS",
                           probe_backbone(cfg))
    return np.array(net.recall, dtype=float)
