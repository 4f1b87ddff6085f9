"""The feature space of FID, KID and PRDC: the judge's penultimate layer (offline) or FID's InceptionV3."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from vision_collapse.config import EvalConfig
from vision_collapse.errors import UserError
from vision_collapse.metrics.classifier import Classifier

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"  # the FID InceptionV3 weights torchmetrics/torch-fidelity use


def inception_weights(cfg: EvalConfig) -> Path:
    """The InceptionV3 weights file, or a one-line error saying where to put it (never a download)."""
    default = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    path = Path(cfg.inception_weights).expanduser() if cfg.inception_weights else default
    if not path.is_file():
        raise UserError(f"eval.backbone=inception needs the FID InceptionV3 weights {INCEPTION_FILE}: put it at "
                        f"{default} or pass eval.inception_weights=PATH; eval.backbone=judge works offline")
    return path


def feature_extractor(cfg: EvalConfig, judge: Classifier,
                      batch_size: int = 256) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """uint8 images (N, C, H, W) -> float64 features in the configured backbone; None when it is the judge's own."""
    if cfg.backbone == "judge":
        return None  # the judge's pass already yields its features; callers reuse them
    path = inception_weights(cfg)
    from torchmetrics.image.fid import NoTrainInceptionV3

    net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                             feature_extractor_weights_path=str(path))

    @torch.no_grad()
    def extract(images: torch.Tensor) -> torch.Tensor:
        """InceptionV3 pool features; grey images are repeated to RGB, resizing happens inside the network."""
        parts = []
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size]
            parts.append(net(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x).double())
        return torch.cat(parts)

    return extract
