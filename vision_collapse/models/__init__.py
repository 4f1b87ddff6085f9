"""Generative models behind one small interface (`GenerativeModel`): fit, sample, save, load; chosen by model.kind
(model.kind=real, the perfect generator, draws held-out real images instead)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

import torch

from vision_collapse.config import ExperimentConfig, ModelConfig, TrainConfig
from vision_collapse.data.images import LabelledImages
from vision_collapse.models.training import TrainingDiverged, uses_bf16


class GenerativeModel(Protocol):
    """What the loop needs of a generation's model. Sampling precision is fixed when it is built or loaded,
    so a reloaded model samples exactly like the one the loop used."""

    def fit(self, data: LabelledImages, train: TrainConfig, generator: torch.Generator,
            checkpoint: Path | None = None) -> list[float]:
        """Learn `data` (resuming `checkpoint` if one exists); the loss of every optimiser step."""

    def sample(self, n: int, labels: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """n uint8 images (N, C, H, W), one per label when conditional."""

    def save(self, directory: Path) -> None:
        """Write the model into a new folder."""

    @classmethod
    def load(cls, directory: Path, cfg: ModelConfig, num_classes: int, conditional: bool,
             bf16: bool = False) -> "GenerativeModel":
        """Read a folder that `save` wrote."""


# model.kind -> (module, class). Imported on first use: diffusers' models take seconds to import, and a GMM, VAE
# or perfect-generator run needs none of them.
MODELS: dict[str, tuple[str, str]] = {"diffusion": ("diffusion", "DiffusionModel"), "dit": ("dit", "DiTModel"),
                                      "vae": ("vae", "VAEModel"), "gmm": ("gmm", "GMMModel"),
                                      "real": ("real", "RealGenerator")}


def model_class(kind: str) -> type:
    """The class of model.kind `kind`, its module imported now."""
    module, name = MODELS[kind]
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __getattr__(name: str) -> type:
    """The model classes by name (DiffusionModel, DiTModel, ...), imported when first asked for."""
    for kind, (_, cls) in MODELS.items():
        if cls == name:
            return model_class(kind)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _perfect(perfect: LabelledImages | None) -> LabelledImages:
    """The held-out split model.kind=real draws from; a clear error when the caller did not pass it."""
    if perfect is None:
        raise ValueError("model.kind=real draws from the held-out real split: pass perfect=RealData.perfect")
    return perfect


def build_model(cfg: ExperimentConfig, resolution: int, channels: int, num_classes: int,
                run: Path | None = None, perfect: LabelledImages | None = None) -> GenerativeModel:
    """A fresh, untrained model of kind model.kind (for dit: the start RUN/dit.json records, so `run` is needed;
    for real: the held-out split `perfect` it draws from), sampling in the precision train.precision resolves to."""
    if cfg.model.kind == "real":
        return model_class("real")(cfg.model, _perfect(perfect), num_classes, cfg.conditional)
    if cfg.model.kind == "dit":
        return model_class("dit").build(cfg.model, resolution, channels, cfg.conditional, uses_bf16(cfg.train), run)
    return model_class(cfg.model.kind)(cfg.model, resolution, channels, num_classes, cfg.conditional, uses_bf16(cfg.train))


def load_model(directory: Path, cfg: ExperimentConfig, num_classes: int,
               perfect: LabelledImages | None = None) -> GenerativeModel:
    """A model of kind model.kind read back from the folder its `save` wrote, sampling as it did in the loop (for
    real: from the held-out split `perfect`)."""
    if cfg.model.kind == "real":
        return model_class("real").load(directory, cfg.model, _perfect(perfect), num_classes, cfg.conditional)
    return model_class(cfg.model.kind).load(directory, cfg.model, num_classes, cfg.conditional, uses_bf16(cfg.train))


__all__ = ["MODELS", "GenerativeModel", "TrainingDiverged", "build_model", "load_model", "model_class"]
