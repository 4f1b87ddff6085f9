"""The judge's synthetic outliers for outlier exposure: what a collapsing model draws between two classes."""

from __future__ import annotations

import torch

BLEND_RANGE = (0.3, 0.7)  # weight of the first image in a two-class blend; the junk suite tests 0.25 and 0.75 outside it


def training_outliers(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Two-class blends made from a batch in model range [-1, 1]: each image with a shuffled partner of another
    class, at a weight drawn from BLEND_RANGE. Pairs of one class are dropped: their blend is still that class.
    No noise blends: exposed to them, the judge also distrusts a diffusion model's faintly noisy but readable
    samples (on digits, 47% of a real-trained model's samples at temperature 0.8 against 15% with blends alone;
    see docs/nulls.md), and uniform noise is rejected without them."""
    n, shape = len(x), (len(x), 1, 1, 1)
    partner = torch.randperm(n, generator=generator).to(x.device)
    low, high = BLEND_RANGE
    w = low + (high - low) * torch.rand(shape, generator=generator).to(x.device)
    blend = w * x + (1 - w) * x[partner]
    return blend[y[partner] != y]
