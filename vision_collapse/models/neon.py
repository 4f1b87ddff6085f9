"""Neon, a remedy for self-consuming loops (Alemohammad, Wang and Baraniuk, "Neon: Negative Extrapolation From
Self-Training Improves Image Generation", ICLR 2026): fine-tune a copy of the trained model theta briefly on its
own samples, giving theta_self, and sample from the weights extrapolated away from it,

    theta_neon = (1 + w) theta - w theta_self.

Self-training moves the weights the way the sampler's bias pulls them (toward the modes); Neon steps the other
way by w times that move. w = 0 is the plain model.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch

from vision_collapse.config import TrainConfig
from vision_collapse.data.images import LabelledImages
from vision_collapse.models.training import batch_generator

SAMPLE_BATCH = 512  # self-samples drawn at once, so memory does not grow with the training set


def merge_weights(theta: dict, theta_self: dict, weight: float) -> dict:
    """(1 + w) theta - w theta_self for every floating-point tensor; integer buffers are theta's."""
    return {k: (1 + weight) * v - weight * theta_self[k] if v.is_floating_point() else v for k, v in theta.items()}


def self_samples(model, data: LabelledImages, seed: int) -> LabelledImages:
    """As many of the model's own samples as `data` holds; a conditional model draws them for the training
    labels in a seeded random order, so the classes keep the training set's counts."""
    generator = torch.Generator().manual_seed(seed)
    labels = data.labels[torch.randperm(len(data), generator=generator)]
    images = torch.cat([model.sample(len(y), y if model.conditional else None, generator)
                        for y in labels.split(SAMPLE_BATCH)])
    return replace(data, images=images, labels=labels, ids=tuple(f"neon_{i}" for i in range(len(images))))


def neon(model, data: LabelledImages, train: TrainConfig, weight: float, steps: int, sample_seed: int,
         train_seed: int):
    """(theta_neon, theta_self): `model` merged in place with a copy of it fine-tuned for `steps` steps on its own
    samples, as many as `data` holds."""
    own = self_samples(model, data, sample_seed)
    self_trained = copy.deepcopy(model)
    self_trained.fit(own, replace(train, steps=steps, checkpoint_every=0), batch_generator(train_seed))
    merged = merge_weights(model.network.state_dict(), self_trained.network.state_dict(), weight)
    model.network.load_state_dict(merged)
    return model, self_trained
