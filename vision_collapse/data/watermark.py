"""The invisible watermark image generators ship (the `invisible-watermark` package's DWT-DCT mark), and the
removals anyone can apply to a posted image: JPEG recompression, resizing, cropping and noise.

Images travel here as uint8 (N, C, H, W) tensors; the package works on H x W x 3 BGR arrays of at least
256 x 256 pixels.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from vision_collapse.errors import UserError

MIN_SIZE = 256  # invisible-watermark refuses smaller images
PAYLOAD = bytes([0b10110010, 0b01101001, 0b11000101, 0b00111010])  # 32 bits, half of them set
MAX_BIT_ERRORS = 4  # a mark is found when at most this many of its 32 bits decode wrong (chance: about 1e-5)


def web_size(resolution: int, upsample: bool) -> int:
    """The side of an image's marked web copy: the image's own, or MIN_SIZE when it is smaller and `upsample`."""
    if resolution >= MIN_SIZE:
        return resolution
    if not upsample:
        raise UserError(f"loop.filter=watermark needs images of at least {MIN_SIZE}x{MIN_SIZE} (invisible-watermark "
                        f"refuses smaller) and these are {resolution}x{resolution}; set loop.watermark_upsample=true")
    return MIN_SIZE


def to_web(images: torch.Tensor, size: int) -> list[np.ndarray]:
    """Each image as an H x W x 3 BGR array of side `size`, scaled up with nearest neighbour."""
    out = []
    for img in images.numpy():
        rgb = np.repeat(img, 3, 0) if img.shape[0] == 1 else img
        picture = Image.fromarray(np.ascontiguousarray(rgb.transpose(1, 2, 0))).resize((size, size), Image.NEAREST)
        out.append(np.asarray(picture)[:, :, ::-1].copy())
    return out


def from_web(copies: list[np.ndarray], channels: int, resolution: int) -> torch.Tensor:
    """The learner's images of web copies: box-averaged back to `resolution`, grey again when `channels` is 1."""
    out = []
    for bgr in copies:
        picture = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).resize((resolution, resolution), Image.BOX)
        arr = np.asarray(picture).transpose(2, 0, 1)
        out.append(np.round(arr.mean(0, keepdims=True)).astype(np.uint8) if channels == 1 else arr)
    return torch.from_numpy(np.stack(out)) if out else torch.zeros(0, channels, resolution, resolution, dtype=torch.uint8)


def mark(copies: list[np.ndarray]) -> list[np.ndarray]:
    """Embed PAYLOAD in each copy with DWT-DCT."""
    from imwatermark import WatermarkEncoder

    encoder = WatermarkEncoder()
    encoder.set_watermark("bytes", PAYLOAD)
    return [encoder.encode(c, "dwtDct") for c in copies]


def bit_errors(copies: list[np.ndarray]) -> np.ndarray:
    """How many of PAYLOAD's 32 bits decode wrong from each copy (about 16 for an unmarked image)."""
    from imwatermark import WatermarkDecoder

    decoder = WatermarkDecoder("bytes", 8 * len(PAYLOAD))
    want = np.unpackbits(np.frombuffer(PAYLOAD, np.uint8))
    return np.array([int((np.unpackbits(np.frombuffer(decoder.decode(c, "dwtDct"), np.uint8)) != want).sum())
                     for c in copies])


def marked(copies: list[np.ndarray]) -> np.ndarray:
    """Whether each copy carries the mark."""
    return bit_errors(copies) <= MAX_BIT_ERRORS


def attack(copies: list[np.ndarray], spec: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Apply loop.watermark_attack (none, jpeg:Q, resize:F, crop:F, noise:S) to each copy; sizes are kept."""
    kind, _, value = spec.partition(":")
    if kind == "none":
        return list(copies)
    return [_attack_one(c, kind, float(value), rng) for c in copies]


def _attack_one(bgr: np.ndarray, kind: str, value: float, rng: np.random.Generator) -> np.ndarray:
    """One removal applied to one copy."""
    picture = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]))
    side = picture.width
    if kind == "jpeg":
        buf = io.BytesIO()
        picture.save(buf, format="JPEG", quality=int(value))
        picture = Image.open(buf).convert("RGB")
    elif kind == "resize":  # a re-upload at a smaller size, scaled back to compare like for like
        small = max(1, round(side * value))
        picture = picture.resize((small, small), Image.BICUBIC).resize((side, side), Image.BICUBIC)
    elif kind == "crop":
        cut = round(side * value)
        picture = picture.crop((cut, cut, side - cut, side - cut)).resize((side, side), Image.BICUBIC)
    elif kind == "noise":
        noisy = np.asarray(picture, dtype=np.float64) + rng.normal(0, value, (side, side, 3))
        picture = Image.fromarray(np.clip(np.round(noisy), 0, 255).astype(np.uint8))
    else:
        raise UserError(f"unknown watermark attack {kind!r}; use none, jpeg, resize, crop or noise")
    return np.asarray(picture)[:, :, ::-1].copy()
