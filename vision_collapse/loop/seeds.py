"""Independent random streams per (experiment seed, generation, purpose)."""

from __future__ import annotations

import numpy as np

_STREAMS = {"init": 0, "train": 1, "labels": 2, "sample": 3, "data": 4, "fresh": 5, "labeller": 6, "eval": 7, "metrics": 8}


def generation_seed(seed: int, generation: int, stream: str, part: int | None = None) -> int:
    """A seed of its own per purpose and generation (and shard), so a resumed run repeats exactly."""
    key = [seed, generation, _STREAMS[stream]] + ([] if part is None else [part])
    return int(np.random.SeedSequence(key).generate_state(1)[0])
