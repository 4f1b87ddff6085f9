"""Independent random streams per (experiment seed, generation, purpose)."""

from __future__ import annotations

import numpy as np

_STREAMS = {"init": 0, "train": 1, "labels": 2, "sample": 3, "data": 4, "fresh": 5, "labeller": 6, "eval": 7, "metrics": 8}


def generation_seed(seed: int, generation: int, stream: str) -> int:
    """A seed of its own per purpose and generation, so a resumed run repeats exactly."""
    return int(np.random.SeedSequence([seed, generation, _STREAMS[stream]]).generate_state(1)[0])
