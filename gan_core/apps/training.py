"""Training as the Train page sees it: how long a recipe's step takes here, before a run starts.
(The run itself is a job, gan_core/jobs.py; the loop is gan_core/train.)"""
from __future__ import annotations

import time

import torch

from ..train import make_trainer


def time_per_step(cfg, device: str | torch.device = "auto", data=None, steps: int = 3) -> float:
    """Seconds per Algorithm-1 iteration of `cfg` on `device`, measured after one warm-up step."""
    trainer = make_trainer(cfg, device, data=data)
    trainer.train_step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize(trainer.device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize(trainer.device)
    return (time.perf_counter() - start) / steps
