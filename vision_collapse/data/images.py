"""The container every stage passes along: uint8 images with labels and stable ids."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class LabelledImages:
    """A set of images as uint8 (N, C, H, W), int64 labels (N,), and one provenance id per image."""

    images: torch.Tensor
    labels: torch.Tensor
    ids: tuple[str, ...]
    class_names: tuple[str, ...]

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError("images must be uint8 with shape (N, C, H, W)")
        if not (len(self.images) == len(self.labels) == len(self.ids)):
            raise ValueError("images, labels and ids must have the same length")

    def __len__(self) -> int:
        """Number of images."""
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        """Number of classes in the label space (not only those present)."""
        return len(self.class_names)

    def subset(self, index) -> "LabelledImages":
        """The images at `index` (a sequence of positions), in that order."""
        index = torch.as_tensor(np.asarray(index, dtype=np.int64))
        return LabelledImages(
            self.images[index], self.labels[index], tuple(self.ids[i] for i in index.tolist()), self.class_names
        )

    def class_counts(self) -> np.ndarray:
        """How many images each class has, as an int array of length num_classes."""
        return np.bincount(self.labels.numpy(), minlength=self.num_classes)


def concat(parts: list[LabelledImages]) -> LabelledImages:
    """Join image sets that share a label space, in order."""
    return LabelledImages(
        torch.cat([p.images for p in parts]),
        torch.cat([p.labels for p in parts]),
        tuple(i for p in parts for i in p.ids),
        parts[0].class_names,
    )


def resized(data: LabelledImages, resolution: int) -> LabelledImages:
    """The same images resized to resolution x resolution (antialiased bilinear)."""
    if resolution in (0, data.images.shape[-1]):
        return data
    x = torch.nn.functional.interpolate(data.images.float(), size=(resolution, resolution), mode="bilinear",
                                        antialias=True, align_corners=False)
    return LabelledImages(x.round().clamp(0, 255).to(torch.uint8), data.labels, data.ids, data.class_names)


def converted(data: LabelledImages, channels: int) -> LabelledImages:
    """The same images with `channels` channels: grey repeated to RGB, or RGB to luma (ITU-R 601, as PIL's 'L')."""
    have = data.images.shape[1]
    if channels == have:
        return data
    if channels == 3 and have == 1:
        images = data.images.repeat(1, 3, 1, 1)
    elif channels == 1 and have == 3:
        weights = torch.tensor([299, 587, 114], dtype=torch.int64).view(1, 3, 1, 1)
        images = ((data.images.to(torch.int64) * weights).sum(1, keepdim=True) + 500).div(1000, rounding_mode="floor")
        images = images.to(torch.uint8)
    else:
        raise ValueError(f"cannot convert {have} channels to {channels}")
    return LabelledImages(images, data.labels, data.ids, data.class_names)


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range the diffusion model and judge work in."""
    return images.float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], clamping what the sampler overshoots."""
    return x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
