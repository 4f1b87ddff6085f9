"""Sample grids arranged by class, readable even for 8x8 images."""

from __future__ import annotations

import torch
from PIL import Image, ImageDraw
from torchvision.utils import make_grid

from vision_collapse.data.images import LabelledImages

TILE = 32  # small images are upscaled (nearest neighbour) to at least this many pixels a side
LABEL_WIDTH = 80  # pixels of margin for the class names


def class_grid(samples: LabelledImages, per_class: int) -> Image.Image:
    """One row per class holding its first `per_class` samples (blank where it has fewer), names on the left."""
    _, channels, h, w = samples.images.shape
    scale = max(1, -(-TILE // max(h, w)))
    blank = torch.zeros((channels, h, w), dtype=torch.uint8)
    tiles = []
    for c in range(samples.num_classes):
        members = samples.images[samples.labels == c][:per_class]
        tiles += list(members) + [blank] * (per_class - len(members))
    pad = 2
    grid = make_grid(torch.stack(tiles), nrow=per_class, padding=pad, pad_value=128)  # grey always has 3 channels
    picture = Image.fromarray(grid.permute(1, 2, 0).numpy()).resize(
        (grid.shape[2] * scale, grid.shape[1] * scale), Image.NEAREST
    )
    canvas = Image.new("RGB", (picture.width + LABEL_WIDTH, picture.height), "white")
    canvas.paste(picture, (LABEL_WIDTH, 0))
    draw = ImageDraw.Draw(canvas)
    row_height = (h + pad) * scale
    for c, name in enumerate(samples.class_names):
        count = int((samples.labels == c).sum())
        draw.text((4, pad * scale + c * row_height + row_height // 3), f"{name[:9]} ({count})", fill="black")
    return canvas
