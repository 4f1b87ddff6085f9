"""judge.kind=probe: a multinomial logistic regression on a frozen backbone's features, folded into one linear
layer so that it labels, scores and gives features exactly like the CNN judge."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from vision_collapse.data.images import LabelledImages
from vision_collapse.runtime import compute_device

MISSING_CLASS_LOGIT = -1e4  # a class the probe never saw in training: never predicted, probability ~0


class ProbeNet(nn.Module):
    """A frozen backbone (float images in [0, 1] -> features) and a linear head over its features."""

    def __init__(self, backbone: nn.Module, dim: int, num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's features of images in the model range [-1, 1]."""
        return self.backbone((x + 1) / 2).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.head(self.features(x))

    def saved_state(self) -> dict:
        """What a saved probe holds: the head alone (the backbone's weights are eval.backbone's file)."""
        return self.head.state_dict()


@torch.no_grad()
def backbone_features(backbone: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """float64 features of uint8 images, computed on the compute device in batches."""
    device = compute_device()
    backbone.to(device).eval()
    parts = [backbone(images[i : i + batch_size].to(device).float() / 255).double().cpu()
             for i in range(0, len(images), batch_size)]
    return torch.cat(parts)


def fit_probe(train: LabelledImages, backbone: nn.Module, c: float) -> ProbeNet:
    """Fit the logistic regression (L2, inverse strength `c`, lbfgs: deterministic) on standardised features of
    `train`, and fold the standardisation into the head: logits = W (f - mu) / sd + b."""
    from sklearn.linear_model import LogisticRegression

    features = backbone_features(backbone, train.images).numpy()
    labels = train.labels.numpy()
    mu, sd = features.mean(0), features.std(0) + 1e-6
    fit = LogisticRegression(C=c, max_iter=2000).fit((features - mu) / sd, labels)
    coef, bias = fit.coef_, fit.intercept_
    if len(fit.classes_) == 2:  # sklearn keeps one row for two classes; softmax over (0, z) is its sigmoid
        coef, bias = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], bias])
    weight = np.zeros((train.num_classes, features.shape[1]))
    intercept = np.full(train.num_classes, MISSING_CLASS_LOGIT)
    weight[fit.classes_] = coef / sd
    intercept[fit.classes_] = bias - (coef / sd) @ mu
    net = ProbeNet(backbone, features.shape[1], train.num_classes)
    net.head.weight.data = torch.from_numpy(weight).float()
    net.head.bias.data = torch.from_numpy(intercept).float()
    return net
