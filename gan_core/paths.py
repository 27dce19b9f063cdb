"""Where the project's folders are: the repository's recipes and shipped checkpoints (a deployment
may point GAN_STUDIO_CHECKPOINTS elsewhere). Run folders have their own root: gan_core.runs.runs_root."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent  # also what a job's process needs on its PYTHONPATH
CONFIGS = REPO / "configs"


def checkpoints_dir() -> Path:
    """$GAN_STUDIO_CHECKPOINTS, else the repository's checkpoints/ folder."""
    return Path(os.environ.get("GAN_STUDIO_CHECKPOINTS") or REPO / "checkpoints")
