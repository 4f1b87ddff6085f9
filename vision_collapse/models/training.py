"""The optimisation loop every step-trained model shares: AdamW, warm-up then cosine, clipping, NaN guard,
and optional checkpoints inside a generation so a killed run resumes mid-training, exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
from diffusers.optimization import get_scheduler
from tqdm.auto import tqdm

from vision_collapse.files import atomic_torch_save


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step."""


@dataclass
class Checkpoint:
    """Where and how often to checkpoint, and everything whose state a resume must restore."""

    path: Path | None  # None: never checkpoint
    every: int  # optimiser steps between checkpoints; 0: never
    generator: torch.Generator  # the batch/noise RNG, so the resumed steps draw what the lost ones would have
    stateful: dict = field(default_factory=dict)  # name -> what has state_dict()/load_state_dict(): model, EMA

    @property
    def enabled(self) -> bool:
        """Whether checkpoints are written at all."""
        return self.path is not None and self.every > 0


def _save(ckpt: Checkpoint, step: int, opt, lr_sched, modules: dict) -> None:
    """Write the checkpoint atomically."""
    state = {"step": step, "generator": ckpt.generator.get_state(), "opt": opt.state_dict(),
             "sched": lr_sched.state_dict(), **{k: m.state_dict() for k, m in modules.items()}}
    atomic_torch_save(state, ckpt.path)


def optimise(
    params: Iterable[torch.nn.Parameter],
    loss_at_step: Callable[[], torch.Tensor],  # draws a batch and returns its scalar loss
    steps: int,
    lr: float,
    warmup_steps: int,
    desc: str = "train",
    after_step: Callable[[], None] | None = None,  # e.g. an EMA update
    checkpoint: Checkpoint | None = None,
) -> None:
    """Run `steps` AdamW steps on `loss_at_step()`, stopping with TrainingDiverged on a non-finite loss."""
    params = list(params)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    lr_sched = get_scheduler("cosine", opt, num_warmup_steps=min(warmup_steps, steps // 2), num_training_steps=steps)
    modules = checkpoint.stateful if checkpoint else {}
    start = 0
    if checkpoint is not None and checkpoint.enabled and checkpoint.path.is_file():
        state = torch.load(checkpoint.path, map_location="cpu", weights_only=False)
        opt.load_state_dict(state["opt"])
        lr_sched.load_state_dict(state["sched"])
        checkpoint.generator.set_state(state["generator"])
        for name, m in modules.items():
            m.load_state_dict(state[name])
        start = state["step"]
    for step in tqdm(range(start, steps), desc=desc, leave=False, disable=None, initial=start, total=steps):
        loss = loss_at_step()
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss became {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)  # one bad batch must not wreck a tiny model
        opt.step()
        lr_sched.step()
        if after_step is not None:
            after_step()
        if checkpoint is not None and checkpoint.enabled and (step + 1) % checkpoint.every == 0 and step + 1 < steps:
            _save(checkpoint, step + 1, opt, lr_sched, modules)
