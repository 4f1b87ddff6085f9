"""Expert correction (loop.correction), a remedy after Gillman et al. 2024 (self-correcting self-consuming loops):
after sampling and before curation, an expert classifier that is neither the judge nor the labeller checks the
label each sample carries. 'drop' redraws a disagreeing sample for the same conditioning label until the expert
agrees (at most MAX_REDRAWS times, then it is kept as it is); 'relabel' gives it the expert's label.

'drop' never changes the carried class counts (a redraw keeps its conditioning label), so the loop's twin
(null/twin.py) needs no step for it. 'relabel' does: it moves counts by the expert's confusion, on a random
share of samples when correction_strength < 1, and the twin does not model it; like the labeller's lean it is a
pipeline step, to be read against the perfect generator, not the chance chain.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from vision_collapse.metrics.evaluate import Reference

MAX_REDRAWS = 10
UNCHECKED, AGREED, UNRESOLVED = -1, 0, MAX_REDRAWS + 1  # per-sample outcomes; 1..MAX_REDRAWS: redraws it took


def carried_labels(images: torch.Tensor, cond: torch.Tensor, ref: Reference, source: str) -> torch.Tensor:
    """The labels samples carry into the next generation before any correction (loop.label_source)."""
    return cond if source == "conditioning" else ref.labeller.predict(images).labels


def correct_shard(
    images: torch.Tensor,
    cond: torch.Tensor,  # the conditioning label of each sample
    ref: Reference,
    loop,  # the LoopConfig: correction, correction_strength, label_source
    rng: np.random.Generator,  # chooses which samples are checked
    redraw: Callable[[int, torch.Tensor, int], torch.Tensor],  # (n, labels, round) -> n new samples
) -> tuple[torch.Tensor, torch.Tensor | None, np.ndarray]:
    """(images, the carried labels when relabelled else None, each sample's outcome: UNCHECKED, AGREED, the
    redraws it took (or 1 when relabelled), UNRESOLVED)."""
    checked = rng.random(len(images)) < loop.correction_strength
    outcome = np.where(checked, AGREED, UNCHECKED)
    carried = carried_labels(images, cond, ref, loop.label_source)
    expert = ref.expert.predict(images).labels
    pending = np.flatnonzero(checked & (expert != carried).numpy())
    if loop.correction == "relabel":
        outcome[pending] = 1
        relabelled = carried.clone()
        relabelled[pending] = expert[pending]
        return images, relabelled, outcome
    images = images.clone()
    for round_ in range(1, MAX_REDRAWS + 1):
        if not len(pending):
            break
        outcome[pending] = round_
        labels = cond[pending]
        fresh = redraw(len(pending), labels, round_)
        images[pending] = fresh
        agree = (ref.expert.predict(fresh).labels == carried_labels(fresh, labels, ref, loop.label_source)).numpy()
        pending = pending[~agree]
    outcome[pending] = UNRESOLVED
    return images, None, outcome


def correction_summary(outcomes: list[np.ndarray]) -> dict:
    """The summary's correction columns, over every drawn sample of a generation (before curation)."""
    o = np.concatenate(outcomes) if outcomes else np.zeros(0, dtype=np.int64)
    n = max(len(o), 1)
    redraws = np.clip(o, 0, MAX_REDRAWS)
    return {"expert_checked_share": float((o != UNCHECKED).sum() / n),
            "expert_disagreed_share": float((o > AGREED).sum() / n),
            "expert_redraws": int(redraws.sum()), "expert_unresolved_share": float((o == UNRESOLVED).sum() / n)}
