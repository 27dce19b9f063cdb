"""The errors a person can cause and fix (a bad recipe, picture, checkpoint, device or a run that
diverged): the CLI prints them as one line and the pages as a message, never as a traceback."""
from __future__ import annotations

from .checkpoint import CheckpointError
from .config import ConfigError
from .data.images import DataError
from .devices import DeviceError


class TrainingDiverged(RuntimeError):
    """A loss or a weight became NaN or infinite."""


USER_ERRORS: tuple[type[Exception], ...] = (CheckpointError, ConfigError, DataError, DeviceError, TrainingDiverged)
