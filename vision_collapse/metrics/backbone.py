"""The feature space of FID, KID and PRDC: the judge's penultimate layer (offline), FID's InceptionV3, or any timm
model (DINOv2, CLIP, ...) from weights on disk."""

from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from vision_collapse.config import EvalConfig
from vision_collapse.errors import UserError
from vision_collapse.files import file_sha256
from vision_collapse.metrics.classifier import Classifier
from vision_collapse.metrics.probe import ProbeNet, backbone_features

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
    from huggingface_hub.constants import HF_HUB_CACHE

    looked = Path(HF_HUB_CACHE) / f"models--{(hub or name).replace('/', '--')}" / "snapshots" / "*" / TIMM_FILES[0]
    raise UserError(f"eval.backbone={cfg.backbone} needs its weights on disk and found no {looked}: on a machine "
                    f"with a network, python -c \"import timm; timm.create_model('{name}', pretrained=True)\" fills "
                    f"that cache (copy it here), or download {hub or name}'s {TIMM_FILES[0]} and pass "
                    "eval.backbone_weights=PATH")


def check_backbone(cfg: EvalConfig) -> Path | None:
    """The weights file eval.backbone will load (None for the judge), or one line saying what is missing: timm,
    the model (with the nearest names timm has) or its weights. Cheap: run checks it before writing anything."""
    if cfg.backbone == "judge":
        return None
    if cfg.backbone == "inception":
        return inception_weights(cfg)
    try:
        import timm
    except ImportError:
        raise UserError(f"eval.backbone={cfg.backbone} needs timm: pip install 'vision-collapse[timm]'") from None
    name = cfg.backbone.removeprefix("timm:")
    if not timm.is_model(name.split(".")[0]):
        near = difflib.get_close_matches(name, timm.list_models(pretrained=True) + timm.list_models(), n=3,
                                         cutoff=0.6)
        raise UserError(f"eval.backbone: timm has no model {name!r}"
                        + (f"; nearest: {', '.join(near)}" if near else "; timm.list_models() lists its names"))
    return timm_weights(cfg)


def timm_model(cfg: EvalConfig):
    """The timm model of eval.backbone=timm:MODEL with its local weights, without its classifier head, and the
    weights' path; one line when timm, the model or its weights are missing, or the weights are another model's."""
    import timm

    path = check_backbone(cfg)
    name = cfg.backbone.removeprefix("timm:")
    kwargs = {"pretrained": True, "num_classes": 0, "pretrained_cfg_overlay": {"file": str(path)}}
    try:
        try:  # a ViT's position embedding is resampled to eval.backbone_size; convnets take any size as they are
            net = timm.create_model(name, **kwargs, **({"img_size": cfg.backbone_size} if cfg.backbone_size else {}))
        except TypeError:
            net = timm.create_model(name, **kwargs)
    except (RuntimeError, KeyError) as exc:  # load_state_dict's missing, unexpected or mis-shaped keys
        found = re.search(r'size mismatch for ([\w.]+)|"([^"]+)"|\'([^\']+)\'', str(exc))
        key = next((g for g in found.groups() if g), "") if found else str(exc).splitlines()[0]
        raise UserError(f"eval.backbone_weights {str(path)!r} does not fit timm:{name} (first mismatched key: {key}); "
                        "pass that model's own weights") from None
    return net.eval(), path


class TimmFeatures(nn.Module):
    """A timm model as a feature map: float images in [0, 1] -> its pooled features (fp32), grey repeated to RGB,
    resized to the model's input size with its interpolation and normalised with its mean and std, in chunks."""

    def __init__(self, net: nn.Module, size: int = 0, chunk: int = 256):
        super().__init__()
        import timm

        self.net, self.chunk = net.eval(), chunk
        data = timm.data.resolve_data_config({}, model=net)
        self.size = (size, size) if size else tuple(data["input_size"][1:])
        self.mode = "bicubic" if data.get("interpolation") == "bicubic" else "bilinear"
        self.register_buffer("mean", torch.tensor(data["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(data["std"]).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features of a batch of images in [0, 1]."""
        parts = []
        for start in range(0, len(x), self.chunk):
            part = x[start : start + self.chunk].float()
            part = part.expand(-1, 3, -1, -1) if part.shape[1] == 1 else part
            part = F.interpolate(part, size=self.size, mode=self.mode, antialias=True, align_corners=False)
            parts.append(self.net((part.clamp(0, 1) - self.mean) / self.std).float())
        return torch.cat(parts)


class InceptionFeatures(nn.Module):
    """FID's InceptionV3 as a feature map: float images in [0, 1] -> 2048 pool features (it takes uint8 values and
    resizes inside), grey repeated to RGB, in chunks."""

    def __init__(self, path: Path, chunk: int = 256):
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                      feature_extractor_weights_path=str(path))
        self.chunk = chunk

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features of a batch of images in [0, 1]."""
        parts = []
        for start in range(0, len(x), self.chunk):
            part = (x[start : start + self.chunk] * 255).round().to(torch.uint8)
            parts.append(self.net(part.expand(-1, 3, -1, -1) if part.shape[1] == 1 else part).float())
        return torch.cat(parts)


@functools.lru_cache(maxsize=4)
def backbone_module(cfg: EvalConfig) -> nn.Module:
    """eval.backbone (inception or timm:MODEL) as a module from images in [0, 1] to features, loaded once."""
    if cfg.backbone.startswith("timm:"):
        return TimmFeatures(timm_model(cfg)[0], cfg.backbone_size)
    return InceptionFeatures(inception_weights(cfg))


def probe_backbone(cfg) -> nn.Module | None:
    """The backbone judge.kind=probe classifies on (eval.backbone), or None for judge.kind=cnn."""
    return backbone_module(cfg.eval) if cfg.judge.kind == "probe" else None


@functools.lru_cache(maxsize=4)
def backbone_record(cfg: EvalConfig) -> dict:
    """What run.json records of the feature space: its name and the SHA-256 of its weights (none for the judge,
    whose weights judge.json records)."""
    path = check_backbone(cfg)
    if path is None:
        return {"backbone": "judge"}
    return {"backbone": cfg.backbone, "backbone_weights": str(path), "backbone_weights_sha256": file_sha256(path)}


def feature_extractor(cfg: EvalConfig, judge: Classifier | None,
                      batch_size: int = 256) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """uint8 images (N, C, H, W) -> float64 features in the configured backbone, on the compute device; None when
    the judge's own pass yields them already (eval.backbone=judge, or a probe judge on this backbone)."""
    if cfg.backbone == "judge" or (judge is not None and isinstance(judge.net, ProbeNet)):
        return None  # callers reuse the judge's features
    module = backbone_module(cfg)

    def extract(images: torch.Tensor) -> torch.Tensor:
        """The backbone's features of uint8 images."""
        return backbone_features(module, images, batch_size)

    return extract
