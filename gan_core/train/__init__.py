"""Training: one loop (Trainer, Algorithm 1) for every model, its image-to-image form (PairedTrainer),
and the callbacks that make a run folder. Nothing here knows about jobs or pages."""
from __future__ import annotations

from .paired import PairedTrainer
from .trainer import Callback, Trainer

__all__ = ["Callback", "PairedTrainer", "Trainer", "make_trainer"]


def make_trainer(cfg, device="auto", data=None, callbacks: list[Callback] | None = None) -> Trainer:
    """The Trainer for a recipe: image-to-image models (model family 'paired') get PairedTrainer."""
    cls = PairedTrainer if cfg.model.family == "paired" else Trainer
    return cls(cfg, device, data, callbacks)
