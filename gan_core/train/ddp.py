"""Data-parallel training across processes (torchrun), for the one Trainer.

    torchrun --nproc_per_node N -m gan_core train RECIPE

Each process draws the *global* minibatch, noise and penalty interpolation from the shared
(seed, step) generator and keeps its own slice of rows, so the N processes together see
exactly what one process with the whole batch would see (an in-memory DistributedSampler).
G and D are wrapped in DistributedDataParallel, which averages gradients across processes;
every loss here is a mean over samples, so the averaged gradient is the whole-batch gradient,
the gradient penalty included (each process penalises its own rows). With a batch-norm-free
model the result equals single-process training up to float summation order
(tests/train/test_ddp.py checks this with 2 gloo processes on the CPU). Rank 0 alone writes
logs, samples and checkpoints.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def rows(self, n: int) -> slice:
        """This process's slice of a global batch of n rows."""
        if n % self.size:
            raise ValueError(f"train.batch_size {n} must be divisible by the {self.size} processes")
        per = n // self.size
        return slice(self.rank * per, (self.rank + 1) * per)


def current() -> World:
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def setup(device: str = "auto") -> World:
    """Join the process group torchrun describes in the environment (WORLD_SIZE > 1): NCCL when
    the processes train on CUDA, gloo on the CPU. A plain `python -m gan_core train` stays alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return current()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and not str(device).startswith(("cpu", "mps"))
    if cuda:
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(minutes=10))
    return current()


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def average(values: dict[str, torch.Tensor], world: World) -> dict[str, torch.Tensor]:
    """The mean over processes of each scalar (for logging: every process logs the same figures)."""
    if world.size == 1 or not values:
        return values
    keys = sorted(values)
    stacked = torch.stack([values[k].detach().float().reshape(()) for k in keys])
    dist.all_reduce(stacked)
    return dict(zip(keys, stacked / world.size))


def any_true(flag: bool, world: World) -> bool:
    """True on every process if it is true on one (a stop request seen by rank 0)."""
    if world.size == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def agree(value: str, world: World) -> bool:
    """Whether every process holds rank 0's `value`, answered the same on every process (so that all
    stop together: a process that stopped alone would leave the others waiting in a collective)."""
    if world.size == 1:
        return True
    return not any_true(broadcast(value, world) != value, world)


def broadcast(obj, world: World):
    """Rank 0's value of a picklable object (the run folder's path), on every process."""
    if world.size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
