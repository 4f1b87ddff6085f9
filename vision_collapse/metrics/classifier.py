"""One classifier type in two roles: the judge (trained on every real image; labels samples and supplies the
offline FID features) and the pseudo-labeller (trained on the imbalanced subset; names synthetic images)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from vision_collapse.config import JudgeConfig, config_to_dict
from vision_collapse.data.images import LabelledImages, to_model_range
from vision_collapse.files import atomic_torch_save, cache_dir
from vision_collapse.metrics.outliers import training_outliers
from vision_collapse.metrics.probe import ProbeNet, fit_probe
from vision_collapse.runtime import compute_device

JUDGE_VERSION = 4  # bump when the architecture or training changes, so stale cached judges are not reused
RELIABLE_RECALL = 0.8  # per-class held-out recall below which the judge's counts of a class are not trusted
JUDGE_SEED = 0  # fixed, so every experiment seed shares one judge


class ClassifierNet(nn.Module):
    """A small CNN; its penultimate layer is the feature space for FID."""

    def __init__(self, in_channels: int, num_classes: int, width: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),  # any resolution maps to 4x4, so the same net serves 8x8 and 64x64
            nn.Flatten(),
            nn.Linear(2 * width * 16, 2 * width),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(2 * width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.head(self.dropout(self.body(x)))

    def saved_state(self) -> dict:
        """What a saved classifier holds: every weight."""
        return self.state_dict()


class Prediction(NamedTuple):
    """What a classifier says about a batch of images."""

    labels: torch.Tensor  # argmax class, int64 (N,)
    features: torch.Tensor  # penultimate activations, float64 (N, D); the FID feature space
    probs: torch.Tensor  # softmax probabilities, float64 (N, C)


@dataclass
class Classifier:
    """A trained classifier (judge or labeller) with its held-out quality."""

    net: ClassifierNet | ProbeNet
    accuracy: float  # held-out accuracy on the real test split
    recall: list[float]  # per-class held-out recall
    # The outlier-exposure weight it trained with (0: none); None for a file saved before judges recorded it, all
    # of which trained without (JUDGE_VERSION 2 and older: they pass most two-class blends).
    outlier_exposure: float | None = 0.0

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 2048) -> Prediction:
        """Labels, features and probabilities of uint8 images, in one pass."""
        device = compute_device()
        net = self.net.to(device).eval()
        feats, probs = [], []
        for start in range(0, len(images), batch_size):
            f = net.features(to_model_range(images[start : start + batch_size].to(device)))
            feats.append(f.double().cpu())
            probs.append(net.head(f).double().softmax(1).cpu())
        probs = torch.cat(probs) if probs else torch.zeros(0, net.head.out_features, dtype=torch.float64)
        feats = torch.cat(feats) if feats else torch.zeros(0, net.head.in_features, dtype=torch.float64)
        return Prediction(probs.argmax(1), feats, probs)


def train_classifier(train: LabelledImages, test: LabelledImages, cfg: JudgeConfig, seed: int = JUDGE_SEED,
                     desc: str = "judge", backbone: nn.Module | None = None, outlier_weight: float = 0.0) -> Classifier:
    """Train a classifier on `train` (for the judge: every real training image) and measure it on `test`; with
    judge.kind=probe, a logistic regression on `backbone`'s features (see metrics.backbone.probe_backbone).
    `outlier_weight` > 0 adds outlier exposure to the CNN (see _train_cnn); only the judge asks for it."""
    net = _train_cnn(train, cfg, seed, desc, outlier_weight) if cfg.kind == "cnn" else \
        fit_probe(train, backbone, cfg.probe_c)
    judge = Classifier(net.cpu().eval(), 0.0, [], outlier_weight if cfg.kind == "cnn" else 0.0)
    judged = judge.predict(test.images).labels
    truth = test.labels.numpy()
    hits = judged.numpy() == truth
    judge.accuracy = float(hits.mean())
    judge.recall = [float(hits[truth == c].mean()) if (truth == c).any() else float("nan") for c in range(train.num_classes)]
    return judge


def _train_cnn(train: LabelledImages, cfg: JudgeConfig, seed: int, desc: str, outlier_weight: float = 0.0) -> ClassifierNet:
    """The CNN of judge.kind=cnn, trained from scratch for cfg.epochs epochs; with outlier exposure (Hendrycks et
    al., ICLR 2019) when `outlier_weight` > 0: each batch's two-class blends are pushed toward the uniform
    distribution, so the judge's confidence (the recogniser's first criterion) falls on them."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the layers' initialisation draws from the global generator
    device = compute_device()  # on a GPU too: a 60,000-image judge takes many minutes on the CPU
    net = ClassifierNet(train.images.shape[1], train.num_classes, cfg.width).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    x_all, y_all = to_model_range(train.images.to(device)), train.labels.to(device)
    net.train()
    for _ in tqdm(range(cfg.epochs), desc=desc, leave=False, disable=None):
        for idx in torch.randperm(len(train), generator=generator).split(cfg.batch_size):
            idx = idx.to(device)
            x, y = x_all[idx], y_all[idx]
            loss = F.cross_entropy(net(x), y)
            if outlier_weight > 0:
                # Cross-entropy to the uniform distribution: the mean negative log-probability over classes.
                loss = loss - outlier_weight * net(training_outliers(x, y, generator)).log_softmax(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net


def save_classifier(judge: Classifier, path: Path) -> None:
    """Write a trained judge (or labeller) atomically: weights plus held-out accuracy and recall."""
    # Concurrent runs may race on the cache; each writes a whole file and the last rename wins.
    atomic_torch_save({"net": judge.net.saved_state(), "accuracy": judge.accuracy, "recall": judge.recall,
                       "outlier_exposure": judge.outlier_exposure}, path)


def keep_classifier(classifier: Classifier, path: Path, in_channels: int, num_classes: int, cfg: JudgeConfig,
                    backbone: nn.Module | None = None) -> Classifier:
    """Save a newly trained classifier and return it as read back, so a first start uses exactly the weights a
    resume will load."""
    save_classifier(classifier, path)
    return load_classifier(path, in_channels, num_classes, cfg, backbone)


def load_classifier(path: Path, in_channels: int, num_classes: int, cfg: JudgeConfig,
                    backbone: nn.Module | None = None) -> Classifier:
    """Read what `save_classifier` wrote (a probe's head goes back on `backbone`)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if cfg.kind == "probe":
        net = ProbeNet(backbone, state["net"]["weight"].shape[1], num_classes)
        net.head.load_state_dict(state["net"])
    else:
        net = ClassifierNet(in_channels, num_classes, cfg.width)
        net.load_state_dict(state["net"])
    return Classifier(net.eval(), state["accuracy"], state["recall"], state.get("outlier_exposure"))


def load_or_train_judge(pool: LabelledImages, test: LabelledImages, cfg: JudgeConfig, data_key: dict,
                        backbone: nn.Module | None = None) -> Classifier:
    """Reuse a cached judge trained on the same data with the same settings (and, for a probe, the same backbone:
    `data_key` names it), else train and cache one."""
    key = json.dumps({"data": data_key, "judge": config_to_dict(cfg), "version": JUDGE_VERSION}, sort_keys=True)
    path = cache_dir() / f"judge-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"
    if path.is_file():
        return load_classifier(path, pool.images.shape[1], pool.num_classes, cfg, backbone)
    judge = train_classifier(pool, test, cfg, backbone=backbone, outlier_weight=cfg.outlier_exposure)
    save_classifier(judge, path)
    return judge


def classifier_report(judge: Classifier, class_names: tuple[str, ...], note: str) -> dict:
    """What RUN/judge.json (or labeller.json) records about a classifier's quality."""
    return {
        "heldout_accuracy": judge.accuracy,
        "per_class_recall": dict(zip(class_names, judge.recall)),
        # Below 0.8 recall a class's judged frequency and label fidelity are unreliable.
        "unreliable_classes": [n for n, r in zip(class_names, judge.recall) if r < RELIABLE_RECALL],
        "feature_dim": int(judge.net.head.in_features),
        "kind": "probe" if isinstance(judge.net, ProbeNet) else "cnn",
        "outlier_exposure": judge.outlier_exposure,
        "note": note,
    }

