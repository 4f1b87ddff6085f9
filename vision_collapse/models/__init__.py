"""Generative models behind one small interface: fit, sample, save, load; chosen by model.kind."""

from __future__ import annotations

from pathlib import Path

from vision_collapse.config import ModelConfig
from vision_collapse.models.diffusion import DiffusionModel
from vision_collapse.models.gmm import GMMModel
from vision_collapse.models.training import TrainingDiverged
from vision_collapse.models.vae import VAEModel

MODELS = {"diffusion": DiffusionModel, "vae": VAEModel, "gmm": GMMModel}


def build_model(cfg: ModelConfig, resolution: int, channels: int, num_classes: int, conditional: bool):
    """A fresh, untrained model of kind cfg.kind."""
    return MODELS[cfg.kind](cfg, resolution, channels, num_classes, conditional)


def load_model(directory: Path, cfg: ModelConfig, num_classes: int, conditional: bool):
    """A model of kind cfg.kind read back from the folder its `save` wrote."""
    return MODELS[cfg.kind].load(directory, cfg, num_classes, conditional)


__all__ = ["MODELS", "DiffusionModel", "GMMModel", "TrainingDiverged", "VAEModel", "build_model", "load_model"]
