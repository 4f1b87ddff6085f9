"""Samples made shard by shard: each process draws and judges its share, the main process gets them in order."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from vision_collapse.files import atomic_torch_save
from vision_collapse.loop.labels import curate
from vision_collapse.metrics.judge import Prediction
from vision_collapse.runtime import runtime


@dataclass(frozen=True)
class Shard:
    """A batch of samples with everything the loop and the metrics need to know about them."""

    images: torch.Tensor  # uint8 (N, C, H, W)
    conditioning: torch.Tensor | None  # the labels they were drawn for; None when unconditional
    carried: torch.Tensor  # the labels they carry into the next generation (loop.label_source)
    judged: Prediction  # the judge's view
    features: torch.Tensor  # backbone features (the judge's own when eval.backbone=judge)
    score: np.ndarray | None = None  # curation score; None when not curating

    def select(self, keep: np.ndarray) -> "Shard":
        """The samples where `keep` (a boolean mask) is true."""
        pick = torch.from_numpy(keep)
        return replace(self, images=self.images[pick], carried=self.carried[pick], features=self.features[pick],
                       conditioning=None if self.conditioning is None else self.conditioning[pick],
                       judged=Prediction(*(t[pick] for t in self.judged)),
                       score=None if self.score is None else self.score[keep])


def draw_shards(
    model,
    n: int,
    labels: torch.Tensor | None,  # conditioning label per sample, or None
    shard_size: int,
    seed_of: Callable[[int], int],  # shard index -> seed, so a shard's draws do not depend on who makes it
    work: Callable[[torch.Tensor, torch.Tensor | None], Shard],  # judges a shard where it was made
    desc: str,
) -> Iterator[Shard]:
    """On the main process, the n samples' shards in order; the other processes yield nothing but do their share."""
    rt = runtime()
    count = math.ceil(n / shard_size)
    bar = tqdm(total=n, desc=desc, leave=False, disable=None if rt.is_main else True)
    for first in range(0, count, rt.world):
        k, mine = first + rt.rank, None
        if k < count:
            lo, hi = k * shard_size, min(n, (k + 1) * shard_size)
            y = None if labels is None else labels[lo:hi]
            images = model.sample(hi - lo, y, torch.Generator().manual_seed(seed_of(k)), desc=f"{desc} shard {k}")
            mine = work(images, y)
        for shard in rt.gather(mine):
            if rt.is_main and shard is not None:
                bar.update(len(shard.images))
                yield shard
    bar.close()


def curated(shards: Iterator[Shard], keep: int, folder: Path) -> Iterator[Shard]:
    """The `keep` best-scored samples of all shards, in order: candidates wait in `folder`, not in memory."""
    scores = []
    shutil.rmtree(folder, ignore_errors=True)
    for k, shard in enumerate(shards):
        atomic_torch_save(shard, folder / f"candidates_{k:05d}.pt")
        scores.append(shard.score)
    if not scores:  # not the main process
        return
    kept = np.zeros(sum(len(s) for s in scores), dtype=bool)
    kept[curate(np.concatenate(scores), keep)] = True
    start = 0
    for k, score in enumerate(scores):
        shard = torch.load(folder / f"candidates_{k:05d}.pt", weights_only=False)
        yield shard.select(kept[start : start + len(score)])
        start += len(score)
    shutil.rmtree(folder, ignore_errors=True)
