"""The optimisation loop every step-trained model shares: AdamW, warm-up then cosine, clipping, NaN guard,
bf16 autocast and DDP where the hardware has them, and optional checkpoints inside a generation so a killed
run resumes mid-training, exactly."""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from vision_collapse.config import TrainConfig
from vision_collapse.errors import UserError
from vision_collapse.files import atomic_torch_save
from vision_collapse.runtime import compute_device, runtime

CHECK_EVERY = 25  # steps between NaN checks: checking every step would stall a GPU on a host sync each step
DEVICE_DATA_SHARE = 0.25  # keep the uint8 training set on the GPU when it needs at most this share of free memory


# What the training bar is called: the loop names the generation ("gen 3 train"), so a terminal shows which
# generation trains without every model's fit taking a label.
_BAR_LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("bar_label", default="train")


@contextlib.contextmanager
def training_bar_label(label: str):
    """Name the training progress bar of every optimise call inside the block."""
    token = _BAR_LABEL.set(label)
    try:
        yield
    finally:
        _BAR_LABEL.reset(token)


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


def batch_generator(seed: int) -> torch.Generator:
    """The training RNG, on the compute device so batches, noise and flips are drawn with no host work."""
    return torch.Generator(device=compute_device()).manual_seed(seed)


def uses_bf16(train: TrainConfig) -> bool:
    """Whether training autocasts to bf16: on request, or by default on a GPU."""
    return train.precision == "bf16" or (train.precision == "auto" and compute_device().type == "cuda")


def autocast(train: TrainConfig):
    """The autocast context train.precision asks for (a no-op in fp32)."""
    return bf16_autocast(uses_bf16(train))


def bf16_autocast(on: bool):
    """bf16 autocast on the compute device when `on`, else a no-op."""
    return torch.autocast(compute_device().type, dtype=torch.bfloat16) if on else contextlib.nullcontext()


def resident(images: torch.Tensor) -> torch.Tensor:
    """uint8 images on the compute device when they fit comfortably, else in pinned host memory."""
    device = compute_device()
    if device.type != "cuda":
        return images
    free, _ = torch.cuda.mem_get_info(device)
    return images.to(device) if images.numel() <= DEVICE_DATA_SHARE * free else images.pin_memory()


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-item loss weights N / (K n_c) for train.class_balance (K classes present, n_c items of the item's class):
    every present class's items sum to N / K, and the weights average 1, so the loss keeps its scale."""
    counts = torch.bincount(labels, minlength=num_classes).double()
    present = int((counts > 0).sum())
    return (len(labels) / (present * counts.clamp(min=1)))[labels].float()


def weighted_loss(per_item: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The batch's loss under train.class_balance: the mean of per-item losses weighted by `weights`."""
    return (per_item * weights.to(per_item.dtype)).mean()


def my_share(batch: torch.Tensor) -> torch.Tensor:
    """This process's slice of a batch every process drew alike; the whole batch in a single process."""
    rt = runtime()
    return batch if rt.world == 1 else batch.tensor_split(rt.world)[rt.rank]


def _save(ckpt: Checkpoint, step: int, opt, lr_sched, modules: dict, losses: list[float]) -> None:
    """Write the checkpoint atomically (main process only)."""
    if not runtime().is_main:
        return
    state = {"step": step, "generator": ckpt.generator.get_state(), "opt": opt.state_dict(),
             "sched": lr_sched.state_dict(), "losses": losses, **{k: m.state_dict() for k, m in modules.items()}}
    # One checkpoint on disk at most: the old one goes before the new one is written (a DiT-XL/2 checkpoint is
    # about 11 GiB). A kill in between costs only time: the generation then restarts, and gives the same numbers.
    ckpt.path.unlink(missing_ok=True)
    atomic_torch_save(state, ckpt.path)


def _first_bad(losses: list[torch.Tensor], start: int) -> int | None:
    """The first step in the window whose loss (on any process) is not finite, or None."""
    bad = ~torch.isfinite(torch.stack(losses).float())
    if runtime().world > 1:  # all processes must stop together, or the healthy ones hang in DDP
        flags = bad.to(torch.int64)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        bad = flags.bool()
    where = bad.nonzero()
    return start + int(where[0]) if len(where) else None


def compiles(train: TrainConfig, device: torch.device, resolution: int) -> bool:
    """Whether to torch.compile: as train.compile says, or under 'auto' on a CUDA device for images of 32 px or
    more (below that, or on a CPU, the compile time is not won back within a generation; bench_train.py)."""
    if train.compile == "auto":
        return device.type == "cuda" and resolution >= 32
    return bool(train.compile)


def optimise(
    module: torch.nn.Module,
    loss_at_step: Callable[[torch.nn.Module], torch.Tensor],  # draws this process's batch, returns its mean loss
    train: TrainConfig,
    after_step: Callable[[], None] | None = None,  # e.g. an EMA update
    checkpoint: Checkpoint | None = None,
    resolution: int = 0,  # the images' side in pixels, for train.compile=auto
) -> list[float]:
    """Run train.steps AdamW steps on `loss_at_step(model)` and return the loss of every step; stop with
    TrainingDiverged on a non-finite loss.

    `model` is `module` on the compute device, wrapped in DDP under several processes and compiled when
    `compiles(train, ...)` says so; `module` itself keeps the plain parameters (for EMA and saving).
    """
    rt = runtime()
    if rt.world > 1 and train.batch_size % rt.world:
        raise UserError(f"train.batch_size ({train.batch_size}) must be divisible by the number of processes "
                        f"({rt.world}), so every process takes an equal share of each batch")
    steps = train.steps
    model = rt.wrap(module)
    if compiles(train, compute_device(), resolution):
        model = torch.compile(model)
    params = [p for p in module.parameters() if p.requires_grad]  # LoRA: the adapters alone
    opt = torch.optim.AdamW(params, lr=train.lr, weight_decay=0.0, fused=compute_device().type == "cuda")
    from diffusers.optimization import get_scheduler  # here: a GMM or VAE run need not import diffusers (2-3 s)

    lr_sched = get_scheduler("cosine", opt, num_warmup_steps=min(train.warmup_steps, steps // 2),
                             num_training_steps=steps)
    modules = checkpoint.stateful if checkpoint else {}
    start, losses = 0, []
    if checkpoint is not None and checkpoint.enabled and checkpoint.path.is_file():
        state = torch.load(checkpoint.path, map_location="cpu", weights_only=True)
        opt.load_state_dict(state["opt"])
        lr_sched.load_state_dict(state["sched"])
        checkpoint.generator.set_state(state["generator"])
        for name, m in modules.items():
            m.load_state_dict(state[name])
        start, losses = state["step"], list(state["losses"])
    window, window_start = [], start
    bar = tqdm(range(start, steps), desc=_BAR_LABEL.get(), leave=False, disable=None if rt.is_main else True, initial=start,
               total=steps)
    for step in bar:
        with autocast(train):
            loss = loss_at_step(model)
        window.append(loss.detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)  # one bad batch must not wreck a tiny model
        opt.step()
        lr_sched.step()
        if after_step is not None:
            after_step()
        saving = checkpoint is not None and checkpoint.enabled and (step + 1) % checkpoint.every == 0 \
            and step + 1 < steps
        if saving or len(window) == CHECK_EVERY or step + 1 == steps:
            bad = _first_bad(window, window_start)
            if bad is not None:  # checked before any checkpoint, so none ever holds diverged weights
                raise TrainingDiverged(f"loss became {window[bad - window_start].item()} at step {bad}")
            losses += torch.stack(window).float().cpu().tolist()  # the same host sync as the check above
            window, window_start = [], step + 1
        if saving:
            _save(checkpoint, step + 1, opt, lr_sched, modules, losses)
    return losses
