"""Atomic file writes: a temporary sibling, flushed to disk, then renamed, so a crash never leaves half a file.

The temporary-name rule (`.NAME.tmpPID`) lives here alone: writers make such names, and a reopened run folder
recognises and removes them.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import torch

_TEMPORARY = re.compile(r"\..+\.tmp\d+")


def cache_dir() -> Path:
    """Where decoded datasets and trained judges are kept across runs: $VISION_COLLAPSE_CACHE or ~/.cache/vision_collapse."""
    return Path(os.environ.get("VISION_COLLAPSE_CACHE") or Path.home() / ".cache" / "vision_collapse")


def temporary_sibling(path: Path) -> Path:
    """`.NAME.tmpPID` beside `path`: where it is written before being renamed into place."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def is_temporary(path: Path) -> bool:
    """Whether `path` is one of our half-written temporaries (`.NAME.tmpPID`)."""
    return bool(_TEMPORARY.fullmatch(Path(path).name))


def atomic_write(path: Path, write) -> None:
    """Call `write(fh)` on a temporary sibling opened for binary writing, flush it to disk, then rename it over
    `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write bytes atomically."""
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    """Atomic text write."""
    atomic_write_bytes(path, text.encode())


def atomic_torch_save(obj, path: Path) -> None:
    """torch.save, atomically: straight into the temporary file, never through a buffer in memory (a DiT-XL/2
    checkpoint is about 11 GiB, and a buffer's copy would double the host memory it needs)."""
    atomic_write(path, lambda fh: torch.save(obj, fh))


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
