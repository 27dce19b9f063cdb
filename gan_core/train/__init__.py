"""Training: one loop (Trainer, Algorithm 1) for every model, its image-to-image forms (PairedTrainer,
CycleTrainer),
and the callbacks that make a run folder. Nothing here knows about jobs or pages."""
from __future__ import annotations

from .cycle import CycleTrainer
from .paired import PairedTrainer
from .trainer import Callback, Trainer

__all__ = ["Callback", "CycleTrainer", "PairedTrainer", "Trainer", "make_trainer"]

TRAINERS = {"paired": PairedTrainer, "unpaired": CycleTrainer}


def make_trainer(cfg, device="auto", data=None, callbacks: list[Callback] | None = None) -> Trainer:
    """The Trainer for a recipe, by model family: PairedTrainer for image-to-image models ('paired'),
    CycleTrainer for unpaired translation, the plain loop for the rest."""
    cls = TRAINERS.get(cfg.model.family, Trainer)
    return cls(cfg, device, data, callbacks)
