"""The feature space of FID, KID and PRDC: the judge's penultimate layer (offline), FID's InceptionV3, or any timm
model (DINOv2, CLIP, ...) from weights on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from vision_collapse.config import EvalConfig
from vision_collapse.errors import UserError
from vision_collapse.files import file_sha256
from vision_collapse.metrics.classifier import Classifier
from vision_collapse.runtime import compute_device

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"  # the FID InceptionV3 weights torchmetrics/torch-fidelity use


def inception_weights(cfg: EvalConfig) -> Path:
    """The InceptionV3 weights file, or a one-line error saying where to put it (never a download)."""
    default = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    path = Path(cfg.inception_weights).expanduser() if cfg.inception_weights else default
    if not path.is_file():
        raise UserError(f"eval.backbone=inception needs the FID InceptionV3 weights {INCEPTION_FILE}: put it at "
                        f"{default} or pass eval.inception_weights=PATH; eval.backbone=judge works offline")
    return path


TIMM_FILES = ("model.safetensors", "pytorch_model.bin")  # what timm keeps in its local Hugging Face cache


def timm_weights(cfg: EvalConfig) -> Path:
    """The local weights file of eval.backbone=timm:MODEL (eval.backbone_weights, else timm's own cache), or one
    line saying which file to put where; nothing is downloaded."""
    name = cfg.backbone.removeprefix("timm:")
    if cfg.backbone_weights:
        path = Path(cfg.backbone_weights).expanduser()
        if not path.is_file():
            raise UserError(f"eval.backbone_weights {str(path)!r} does not exist; pass the weights file of {name}")
        return path
    from huggingface_hub import try_to_load_from_cache  # looks on disk only
    from timm.models import get_pretrained_cfg

    pretrained = get_pretrained_cfg(name)
    hub = getattr(pretrained, "hf_hub_id", None) if pretrained is not None else None
    for filename in TIMM_FILES if hub else ():
        found = try_to_load_from_cache(hub, filename)
        if isinstance(found, str):
            return Path(found)
    raise UserError(f"eval.backbone={cfg.backbone} needs its weights on disk: on a machine with a network, "
                    f"python -c \"import timm; timm.create_model('{name}', pretrained=True)\" fills timm's cache "
                    f"(copy it to HF_HOME), or download {hub or name}'s model.safetensors and pass "
                    "eval.backbone_weights=PATH")


def timm_model(cfg: EvalConfig):
    """The timm model of eval.backbone=timm:MODEL with its local weights, without its classifier head, and the
    weights' path; one line when timm or the model is missing."""
    try:
        import timm
    except ImportError:
        raise UserError(f"eval.backbone={cfg.backbone} needs timm: pip install 'vision-collapse[timm]'") from None
    name = cfg.backbone.removeprefix("timm:")
    if not timm.is_model(name.split(".")[0]):
        raise UserError(f"eval.backbone: timm has no model {name!r}; `python -c \"import timm; "
                        f"print(timm.list_models('*{name.split('_')[0]}*'))\"` lists its names")
    path = timm_weights(cfg)
    net = timm.create_model(name, pretrained=True, num_classes=0, pretrained_cfg_overlay={"file": str(path)})
    return net.eval(), path


def timm_extractor(cfg: EvalConfig, batch_size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """uint8 images -> float64 pooled features of a timm model, on the compute device: grey repeated to RGB,
    resized to the model's input size with its interpolation, normalised with its mean and standard deviation."""
    import timm

    net, _ = timm_model(cfg)
    data = timm.data.resolve_data_config({}, model=net)
    device = compute_device()
    net.to(device)
    size = tuple(data["input_size"][1:])
    mode = "bicubic" if data.get("interpolation") == "bicubic" else "bilinear"
    mean = torch.tensor(data["mean"], device=device).view(1, 3, 1, 1)
    std = torch.tensor(data["std"], device=device).view(1, 3, 1, 1)

    @torch.no_grad()
    def extract(images: torch.Tensor) -> torch.Tensor:
        """The model's features of a batch of images, in fp32."""
        parts = []
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device).float() / 255
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            x = F.interpolate(x, size=size, mode=mode, antialias=True, align_corners=False).clamp(0, 1)
            parts.append(net((x - mean) / std).double().cpu())
        return torch.cat(parts)

    return extract


def backbone_record(cfg: EvalConfig) -> dict:
    """What run.json records of the feature space: its name and the SHA-256 of its weights (none for the judge,
    whose weights judge.json records)."""
    if cfg.backbone == "judge":
        return {"backbone": "judge"}
    path = inception_weights(cfg) if cfg.backbone == "inception" else timm_weights(cfg)
    return {"backbone": cfg.backbone, "backbone_weights": str(path), "backbone_weights_sha256": file_sha256(path)}


def feature_extractor(cfg: EvalConfig, judge: Classifier,
                      batch_size: int = 256) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """uint8 images (N, C, H, W) -> float64 features in the configured backbone; None when it is the judge's own."""
    if cfg.backbone == "judge":
        return None  # the judge's pass already yields its features; callers reuse them
    if cfg.backbone.startswith("timm:"):
        return timm_extractor(cfg, batch_size)
    path = inception_weights(cfg)
    from torchmetrics.image.fid import NoTrainInceptionV3

    device = compute_device()
    net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                             feature_extractor_weights_path=str(path)).to(device)

    @torch.no_grad()
    def extract(images: torch.Tensor) -> torch.Tensor:
        """InceptionV3 pool features; grey images are repeated to RGB, resizing happens inside the network."""
        parts = []
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device)
            parts.append(net(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x).double().cpu())
        return torch.cat(parts)

    return extract
