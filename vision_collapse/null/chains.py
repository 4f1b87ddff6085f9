"""The null chain: the loop's twin run on thousands of chains at once, with a perfect generator and a class-blind
filter. What it leaves is finite resampling alone: every random draw the loop makes, and nothing else.

Two questions, two chains:
- level: the twin from the real subset, as the run starts. A generation outside it has moved further than chance.
- compounding: the twin from generation 0's samples, taken as if they were the real subset (the new baseline).
  A later generation's change since generation 0 is tested against the chain's change since its own generation
  0: a filter that shifts every generation by the same amount from where its labels start shifts the level,
  but does not compound; one whose push is carried into the next generation's labels does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np

from vision_collapse.metrics.calibration import calibrate_rows
from vision_collapse.metrics.frequencies import apportion
from vision_collapse.null.bands import observed_shares
from vision_collapse.null.twin import TwinLoop, measure_counts, twin_generation, twin_training_counts


class NullChain(NamedTuple):
    """(generations, chains, C) shares of each generation under the null (NaN where nothing is observed)."""

    tracked: np.ndarray  # what the run's chance columns track: carried labels, or (unconditional) recognised judgements
    calibrated: np.ndarray | None  # the judged shares of recognised samples, calibrated as the run calibrates them


def null_chain(loop: TwinLoop, generations: int, chains: int, rng: np.random.Generator) -> NullChain:
    """Generations 0 .. generations-1 of `chains` chains of the loop's twin under the null."""
    real = np.broadcast_to(np.asarray(loop.real_counts, dtype=np.int64), (chains, np.shape(loop.real_counts)[-1]))
    history, tracked, calibrated = [], [], []
    for g in range(generations):
        train = real if g == 0 else twin_training_counts(loop, history, rng)
        kept, seen = twin_generation(loop, train, rng)
        history.append(kept)
        tracked.append(observed_shares(seen))
        if loop.bbse is not None:  # a conditional run's judge sees its kept samples as it would real images
            judged = seen if not loop.conditional else measure_counts(kept, loop.recognition, loop.confusion, rng)
            calibrated.append(calibrate_rows(observed_shares(judged), loop.bbse))
    return NullChain(np.stack(tracked), np.stack(calibrated) if calibrated else None)


def from_generation_zero(loop: TwinLoop, shares: np.ndarray) -> TwinLoop:
    """The twin of the compounding chain: generation 0's samples (their true class shares) as its real subset; one
    row of shares per chain gives each chain its own."""
    return replace(loop, real_counts=apportion(np.nan_to_num(shares), int(loop.real_counts.sum())))
