"""Sample grids: by class for one generation, class x generation mosaics, one-class filmstrips, GIFs.

Small images are upscaled with nearest neighbour so 8x8 digits stay readable; every row carries a label.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, ImageDraw

from vision_collapse.data.images import LabelledImages

TILE = 32  # small images are upscaled (nearest neighbour) to at least this many pixels a side
LABEL_WIDTH = 96  # pixels of margin for the row labels
PAD = 2  # pixels between tiles, before upscaling
HEADER = 14  # pixels for column-group titles (generations), when there are any
GREY = 128


def _rgb(image: torch.Tensor) -> np.ndarray:
    """(C, h, w) uint8 -> (h, w, 3)."""
    array = image.numpy()
    return np.repeat(array, 3, 0).transpose(1, 2, 0) if array.shape[0] == 1 else array.transpose(1, 2, 0)


def labelled_grid(
    rows: list[tuple[str, list[torch.Tensor | None]]],  # (label, tiles; None leaves a blank) per row
    tile_shape: tuple[int, int],  # (h, w) of every tile
    group: int = 0,  # columns per group (e.g. samples per generation); groups get a wider gap
    titles: list[str] | None = None,  # one title per group, written above it
) -> Image.Image:
    """Tiles on a grey background, one labelled row each, upscaled to readable size."""
    h, w = tile_shape
    scale = max(1, -(-TILE // max(h, w)))
    columns = max(len(tiles) for _, tiles in rows)
    groups = -(-columns // group) if group else 1
    gap = 3 * PAD  # extra space between groups
    width = columns * (w + PAD) + PAD + (groups - 1) * gap
    height = len(rows) * (h + PAD) + PAD
    board = np.full((height, width, 3), GREY, dtype=np.uint8)
    for r, (_, tiles) in enumerate(rows):
        for c, tile in enumerate(tiles):
            if tile is None:
                continue
            x = PAD + c * (w + PAD) + (c // group if group else 0) * gap
            y = PAD + r * (h + PAD)
            board[y : y + h, x : x + w] = _rgb(tile)
    picture = Image.fromarray(board).resize((width * scale, height * scale), Image.NEAREST)
    top = HEADER if titles else 0
    canvas = Image.new("RGB", (picture.width + LABEL_WIDTH, picture.height + top), "white")
    canvas.paste(picture, (LABEL_WIDTH, top))
    draw = ImageDraw.Draw(canvas)
    row_height = (h + PAD) * scale
    for r, (label, _) in enumerate(rows):
        draw.text((4, top + PAD * scale + r * row_height + row_height // 3), label, fill="black")
    for g, title in enumerate(titles or []):
        draw.text((LABEL_WIDTH + (PAD + g * (group * (w + PAD) + gap)) * scale, 1), title, fill="black")
    return canvas


def _first(images: torch.Tensor, labels: torch.Tensor, c: int, n: int) -> list[torch.Tensor | None]:
    """The first n images of class c, padded with blanks."""
    members = list(images[labels == c][:n])
    return members + [None] * (n - len(members))


def class_grid(samples: LabelledImages, per_class: int) -> Image.Image:
    """One row per class holding its first `per_class` samples (blank where it has fewer), counts in brackets."""
    counts = samples.class_counts()
    rows = [(f"{name[:9]} ({int(counts[c])})", _first(samples.images, samples.labels, c, per_class))
            for c, name in enumerate(samples.class_names)]
    return labelled_grid(rows, tuple(samples.images.shape[2:]))


def mosaic(generations: list[LabelledImages], per_class: int, real: LabelledImages | None = None) -> Image.Image:
    """Class x generation: each class row holds a strip of `per_class` samples per generation (real first)."""
    sets = ([real] if real is not None else []) + generations
    titles = (["real"] if real is not None else []) + [f"gen {g}" for g in range(len(generations))]
    rows = []
    for c, name in enumerate(generations[0].class_names):
        rows.append((name[:13], [t for s in sets for t in _first(s.images, s.labels, c, per_class)]))
    return labelled_grid(rows, tuple(generations[0].images.shape[2:]), group=per_class, titles=titles)


def filmstrip(generations: list[LabelledImages], class_index: int, per_row: int,
              real: LabelledImages | None = None) -> Image.Image:
    """One class: a row of `per_row` samples per generation (a real row first), with counts."""
    rows = []
    if real is not None:
        rows.append(("real", _first(real.images, real.labels, class_index, per_row)))
    for g, s in enumerate(generations):
        count = int((s.labels == class_index).sum())
        rows.append((f"gen {g} ({count})", _first(s.images, s.labels, class_index, per_row)))
    return labelled_grid(rows, tuple(generations[0].images.shape[2:]))


def gif_bytes(frames: list[Image.Image], seconds_per_frame: float = 0.8) -> bytes:
    """An endlessly looping animated GIF of equally sized frames."""
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=int(seconds_per_frame * 1000),
                   loop=0)
    return buf.getvalue()
