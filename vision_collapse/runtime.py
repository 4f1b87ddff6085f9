"""Where the work runs: one process on the CPU or a GPU, or several under `accelerate launch` (DDP).

A single process needs no accelerate config, and a single CPU process builds no Accelerator at all. Under
`accelerate launch` every process trains its share of each batch, samples and judges its share of the
shards, and only the main process writes files.
"""

from __future__ import annotations

import functools
import os
from datetime import timedelta
from typing import Callable, TypeVar

import torch
import torch.distributed as dist

from vision_collapse.errors import UserError

T = TypeVar("T")
WAIT_MINUTES = 24 * 60  # how long the other processes wait for the main process's own work


class Runtime:
    """The process group and device of this process, with the few collectives the loop needs."""

    def __init__(self):
        self.accelerator = None
        self.device, self.rank, self.world = torch.device("cpu"), 0, 1
        if launched_processes() > 1 or torch.cuda.is_available():
            from accelerate import Accelerator  # imported late: slow to import, and a CPU process needs none of it
            from accelerate.utils import InitProcessGroupKwargs

            if launched_processes() > 1 and not torch.cuda.is_available() and not dist.is_initialized():
                join_cpu_group(timedelta(minutes=timeout_minutes()))  # accelerate then takes this group as it is
            # Precision is the trainer's own business (train.precision), so accelerate adds no autocast.
            limit = InitProcessGroupKwargs(timeout=timedelta(minutes=timeout_minutes()))
            self.accelerator = Accelerator(mixed_precision="no", kwargs_handlers=[limit])
            self.device = self.accelerator.device
            self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes
        # The others wait for the main process's work alone (its judge, its evaluation, its files) in a group of
        # their own, whose timeout outlasts any evaluation: in the default group a long evaluation would pass
        # the collective timeout (NCCL's is minutes) and kill the run.
        self.waiting = dist.new_group(backend="gloo", timeout=timedelta(minutes=WAIT_MINUTES)) \
            if self.world > 1 else None

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints."""
        return is_main_process()

    @property
    def is_gpu(self) -> bool:
        """Whether this process computes on a CUDA device."""
        return self.device.type == "cuda"

    def barrier(self) -> None:
        """Wait until every process gets here (however long the main process's own work takes)."""
        if self.world > 1:
            dist.barrier(group=self.waiting)

    def gather(self, obj: T) -> list[T]:
        """Every process's `obj`, in rank order (on every process)."""
        if self.world == 1:
            return [obj]
        out: list = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def on_main(self, fn: Callable[[], T]) -> T | None:
        """Run `fn` on the main process only; if it fails, every process stops (none waits forever)."""
        if self.world == 1:
            return fn()
        error, result, failure = None, None, None
        if self.is_main:
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others have heard of it
                failure, error = exc, str(exc) if isinstance(exc, UserError) else f"the main process stopped: {exc}"
        out: list = [None] * self.world
        dist.all_gather_object(out, error, group=self.waiting)  # also the barrier: the others wait for main's files
        error = out[0]
        if failure is not None:
            raise failure
        if error is not None:
            raise UserError(error)
        return result

    def main_first(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the main process, then on the others (which then find what main cached)."""
        result = self.on_main(fn)
        if not self.is_main:
            result = fn()
        self.barrier()
        return result

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module on this device; wrapped in DistributedDataParallel when there are several processes."""
        module.to(self.device)
        return self.accelerator.prepare_model(module) if self.world > 1 else module


def join_cpu_group(timeout: timedelta) -> None:
    """Join the CPU processes' gloo group in two steps: first meet at rank 0's store, which waits as long as
    WAIT_MINUTES for every process to arrive (one may still be importing torch on a busy machine), then build the
    group whose collectives time out after `timeout`. In one step, as accelerate does it, the rendezvous itself
    would fail when the processes arrive further apart than a short VISION_COLLAPSE_TIMEOUT_MINUTES."""
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    store = dist.TCPStore(os.environ.get("MASTER_ADDR", "127.0.0.1"), int(os.environ.get("MASTER_PORT", "29500")),
                          world, is_master=rank == 0, timeout=timedelta(minutes=WAIT_MINUTES))
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world, timeout=timeout)


def timeout_minutes() -> float:
    """The process group's timeout for the collectives of shared work (training steps, sampling shards):
    VISION_COLLAPSE_TIMEOUT_MINUTES, default 30. Waiting for the main process's work alone has its own."""
    text = os.environ.get("VISION_COLLAPSE_TIMEOUT_MINUTES", "30")
    try:
        return float(text)
    except ValueError:
        raise UserError(f"VISION_COLLAPSE_TIMEOUT_MINUTES={text!r} must be a number of minutes, e.g. 30") from None


def launched_processes() -> int:
    """How many processes `accelerate launch` (or torchrun) started; 1 for a plain command."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Whether this process writes files and prints: the one definition, used by the CLI and the loop alike."""
    return int(os.environ.get("RANK", "0")) == 0


@functools.lru_cache(maxsize=None)
def runtime() -> Runtime:
    """This process's runtime, created on first use."""
    return Runtime()


def compute_device() -> torch.device:
    """This process's device ('cpu' rather than accelerate's 'cpu:0', so CPU generators match)."""
    device = runtime().device
    return torch.device("cpu") if device.type == "cpu" else device


def shutdown() -> None:
    """Leave the process group cleanly; gloo aborts the process at exit when it is left standing."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()  # no barrier: after a failure on one process, the others must not wait
