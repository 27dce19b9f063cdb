"""Training: one loop (Trainer) plus the callbacks that make a run folder."""
from .trainer import Callback, Trainer, TrainingDiverged, latest_checkpoint

__all__ = ["Callback", "Trainer", "TrainingDiverged", "latest_checkpoint"]
