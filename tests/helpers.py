"""What many tests share: tiny-run settings and table readers."""

from __future__ import annotations

import csv
from pathlib import Path

# Fewer noise-floor draws, chance chains and KID subsets, and a one-epoch CAS: the instrument's numbers, only coarser.
LIGHT_EVAL = ["eval.floor_draws=10", "eval.chance_chains=199", "eval.kid_subsets=5", "eval.cas_epochs=1"]
# ...and no plots redrawn after each generation, for runs whose plots no test reads.
LIGHT_RUN = [*LIGHT_EVAL, "log.plots=false"]

# A whole run in seconds: Gaussian mixtures instead of diffusion, and a light run (tests that read plots draw
# them, or run without this list).
FAST_GMM = ["model.kind=gmm", "model.guidance_scale=1", "judge.epochs=2", "loop.generations=2",
            "eval.samples_per_class=10", *LIGHT_RUN, "eval.kid_subsets=2"]

# A tiny 8x8 diffusion run: a 2-level UNet of widths 8 and 16, a few steps of everything.
TINY_DIFFUSION = ["model.channels=[8,16]", "model.sampling_steps=3", "model.guidance_scale=1", "train.steps=15",
                  "train.batch_size=16", "judge.epochs=2", "loop.generations=2", *LIGHT_RUN]


def fake_samples(real, generation: int):
    """Stand-in samples of one generation: the real subset's images relabelled with generation ids."""
    from vision_collapse.data.images import LabelledImages

    n = len(real.subset)
    return LabelledImages(real.subset.images, real.subset.labels, tuple(f"gen{generation}/{i}" for i in range(n)),
                          real.subset.class_names)


def rows(path: Path) -> list[dict]:
    """A CSV file's rows as dicts of strings."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def column(path: Path, name: str) -> list[float]:
    """One column of a CSV file as floats."""
    return [float(r[name]) for r in rows(path)]
