"""Decoding image files in parallel: shorter side to the resolution, centre crop, channel conversion."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from vision_collapse.errors import UserError

TRANSFORM_VERSION = 1  # bump when decoding changes, so cached tensors made the old way are not reused
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
POOL_THRESHOLD = 256  # fewer files than this decode in-process; a worker pool costs more than it saves


@dataclass(frozen=True)
class DecodeJob:
    """One file to decode, with an optional (left, top, right, bottom) crop box applied first."""

    path: str
    box: tuple[int, int, int, int] | None = None


def decode_one(job: DecodeJob, resolution: int, channels: int) -> np.ndarray:
    """(channels, resolution, resolution) uint8: crop box, shorter side resized, centre crop."""
    with Image.open(job.path) as img:
        img.draft("RGB" if channels == 3 else "L", (resolution * 2, resolution * 2))  # JPEG: decode at reduced size
        img = img.convert("RGB" if channels == 3 else "L")
        if job.box is not None:
            img = img.crop(job.box)
        w, h = img.size
        scale = resolution / min(w, h)
        size = (max(resolution, round(w * scale)), max(resolution, round(h * scale)))
        img = img.resize(size, Image.BICUBIC, reducing_gap=3.0)
        left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
        img = img.crop((left, top, left + resolution, top + resolution))
        array = np.asarray(img, dtype=np.uint8)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def _decode_chunk(args) -> list:
    """Worker: decode a chunk, returning arrays or error strings (never raising, so one bad file names itself)."""
    jobs, resolution, channels = args
    out = []
    for job in jobs:
        try:
            out.append(decode_one(job, resolution, channels))
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported by name, not as a traceback
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def decode_all(
    jobs: list[DecodeJob],
    resolution: int,
    channels: int,  # 1 (grey) or 3 (RGB)
    skip_corrupt: bool,  # skip unreadable files (and list them) instead of stopping
    desc: str = "decode",
) -> tuple[np.ndarray, list[int], list[str]]:
    """(images uint8 (N, C, R, R) of the readable files, their positions in `jobs`, the skipped files with reasons)."""
    chunk = 64
    tasks = [(jobs[i : i + chunk], resolution, channels) for i in range(0, len(jobs), chunk)]
    results: list = []
    bar = tqdm(total=len(jobs), desc=desc, unit="img", disable=None)
    if len(jobs) < POOL_THRESHOLD:
        pieces = map(_decode_chunk, tasks)
    else:
        pool = ProcessPoolExecutor(max_workers=os.cpu_count() or 1)
        pieces = pool.map(_decode_chunk, tasks)
    try:
        for piece in pieces:
            results += piece
            bar.update(len(piece))
    finally:
        bar.close()
        if len(jobs) >= POOL_THRESHOLD:
            pool.shutdown()
    kept = [i for i, r in enumerate(results) if not isinstance(r, str)]
    failed = [f"{jobs[i].path} ({r})" for i, r in enumerate(results) if isinstance(r, str)]
    if failed and not skip_corrupt:
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        raise UserError(f"cannot read image {failed[0]}{more}; replace the file, or set data.skip_corrupt=true "
                        "to skip unreadable images (they are listed in the run's data.json)")
    images = np.stack([results[i] for i in kept]) if kept else np.zeros((0, channels, resolution, resolution), np.uint8)
    return images, kept, failed
