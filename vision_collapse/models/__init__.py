"""Generative models behind one small interface: fit, sample, save, load."""

from vision_collapse.models.diffusion import DiffusionModel, TrainingDiverged

__all__ = ["DiffusionModel", "TrainingDiverged"]
