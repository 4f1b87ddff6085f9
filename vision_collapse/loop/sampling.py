"""Samples made shard by shard: each process draws and judges its share, the main process gets them in order."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from vision_collapse import run_folder as rf
from vision_collapse.loop.correction import MAX_REDRAWS, correct_shard
from vision_collapse.loop.labels import confidence, select_curated
from vision_collapse.loop.seeds import Generation
from vision_collapse.metrics.evaluate import Reference, judge_and_features
from vision_collapse.metrics.stream import Shard
from vision_collapse.models import GenerativeModel
from vision_collapse.runtime import runtime


def judge_shard(images: torch.Tensor, cond: torch.Tensor | None, ref: Reference, cfg, for_next: bool,
                relabelled: torch.Tensor | None = None) -> Shard:
    """Judge a drawn shard; `for_next` also labels it for the next generation (`relabelled`: the labels expert
    correction gave it) and scores it for curation."""
    judged, features = judge_and_features(ref.judge, ref.features, images)
    if not for_next:  # evaluation samples: they stand for the class they were drawn for
        return Shard(images, cond, cond, judged, features)
    source = cfg.loop.label_source
    tagged = ref.labeller.predict(images) if ref.labeller is not None else None
    carried = {"conditioning": cond, "none": judged.labels,
               "classifier": tagged.labels if tagged is not None else None}[source]
    carried = carried if relabelled is None else relabelled
    score = None
    if cfg.loop.curating:
        scorer = tagged if cfg.loop.curation_by == "labeller" else judged
        # A conditioning label is what the sample claims to be; without one, any confident class will do.
        score = confidence(scorer.probs, cond if source == "conditioning" else None)
    return Shard(images, cond, carried, judged, features, score)


def draw_shards(
    gen: Generation,
    model: GenerativeModel,
    n: int,
    labels: torch.Tensor | None,  # conditioning label per sample, or None
    stream: str,  # 'sample' (the next training set) or 'eval'; each shard k is seeded by gen.seed(stream, k)
    ref: Reference,
) -> Iterator[Shard]:
    """On the main process, the n samples' judged shards in order; the other processes yield nothing but do their share."""
    rt = runtime()
    size = gen.cfg.loop.shard_size
    count = math.ceil(n / size)
    bar = tqdm(total=n, desc=f"gen {gen.index} {stream}", leave=False, disable=None if rt.is_main else True)
    for first in range(0, count, rt.world):
        k, mine = first + rt.rank, None
        if k < count:  # a shard's draws depend on its seed alone, not on which process makes it
            lo, hi = k * size, min(n, (k + 1) * size)
            y = None if labels is None else labels[lo:hi]
            images = model.sample(hi - lo, y, torch.Generator().manual_seed(gen.seed(stream, k)))
            relabelled, outcomes = None, None
            if stream == "sample" and gen.cfg.loop.correction != "none":
                images, relabelled, outcomes = correct_shard(
                    images, y, ref, gen.cfg.loop, np.random.default_rng(gen.seed("correction", k)),
                    lambda m, yy, r: model.sample(m, yy, torch.Generator().manual_seed(
                        gen.seed("redraw", k * (MAX_REDRAWS + 1) + r))))
            mine = judge_shard(images, y, ref, gen.cfg, stream == "sample", relabelled)
            if outcomes is not None:
                mine = replace(mine, corrections=outcomes)
        for shard in rt.gather(mine):
            if rt.is_main and shard is not None:
                bar.update(len(shard.images))
                yield shard
    bar.close()


def curate_shards(shards: Iterator[Shard], keep: int, gen: Generation) -> Iterator[Shard]:
    """The `keep` samples curation keeps of all shards, in order: candidates wait in the run folder, not in memory."""
    gen_dir = gen.folder
    scores = []
    rf.remove_candidates(gen_dir)
    for k, shard in enumerate(shards):
        rf.write_candidates(gen_dir, k, shard)
        scores.append(shard.score)
    if not scores:  # not the main process
        return
    kept = np.zeros(sum(len(s) for s in scores), dtype=bool)
    rng = np.random.default_rng(gen.seed("curation"))
    kept[select_curated(np.concatenate(scores), keep, gen.cfg.loop, rng)] = True
    start = 0
    for k, score in enumerate(scores):
        yield Shard.from_arrays(rf.read_candidates(gen_dir, k)).select(kept[start : start + len(score)])
        start += len(score)
    rf.remove_candidates(gen_dir)
