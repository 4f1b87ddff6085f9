"""Decoding throughput: all cores against one, on synthetic JPEGs the size of Stanford Dogs photos.

    python scripts/bench_decode.py [--images 2000] [--resolution 64]

Prints images per second for the in-process decoder (baseline) and the worker pool, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import vision_collapse.data.decode as decode


def make_jpegs(folder: Path, n: int) -> list[decode.DecodeJob]:
    """n textured 500x375 JPEGs (the median Stanford Dogs size)."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (375 // 5, 500 // 5, 3), dtype=np.uint8)
    jobs = []
    for i in range(n):
        tile = np.roll(base, i, axis=1).repeat(5, 0).repeat(5, 1)
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(tile).save(path, quality=90)
        jobs.append(decode.DecodeJob(str(path)))
    return jobs


def timed(jobs, resolution: int, threshold: int) -> tuple[float, np.ndarray]:
    """(seconds, images) of one decode_all pass with the given pool threshold."""
    decode.POOL_THRESHOLD = threshold
    start = time.perf_counter()
    images, _, _ = decode.decode_all(jobs, resolution, 3, False, desc="bench")
    return time.perf_counter() - start, images


def main() -> None:
    """Run both decoders on the same files and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--resolution", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = make_jpegs(Path(tmp), args.images)
        serial_s, serial = timed(jobs, args.resolution, threshold=len(jobs) + 1)
        pool_s, pooled = timed(jobs, args.resolution, threshold=1)
    assert np.array_equal(serial, pooled), "the pool must decode exactly what one process does"
    print(f"{args.images} JPEGs 500x375 -> {args.resolution}x{args.resolution}, {os.cpu_count()} cores")
    print(f"one process : {args.images / serial_s:8.1f} img/s")
    print(f"worker pool : {args.images / pool_s:8.1f} img/s")
    print(f"ratio       : {serial_s / pool_s:8.2f}x")


if __name__ == "__main__":
    main()
