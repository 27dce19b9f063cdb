"""Where the project's folders are: the repository's recipes and shipped checkpoints, the runs
root, and the folders a recipe from a browser or a bundle may read (a deployment sets these with
GAN_STUDIO_CHECKPOINTS, GAN_STUDIO_RUNS, GAN_STUDIO_DATA_ROOT and GAN_STUDIO_DATA_ROOTS)."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent  # also what a job's process needs on its PYTHONPATH
CONFIGS = REPO / "configs"


def checkpoints_dir() -> Path:
    """$GAN_STUDIO_CHECKPOINTS, else the repository's checkpoints/ folder."""
    return Path(os.environ.get("GAN_STUDIO_CHECKPOINTS") or REPO / "checkpoints")


def runs_root() -> Path:
    """$GAN_STUDIO_RUNS (shared storage for a team), else ./runs."""
    return Path(os.environ.get("GAN_STUDIO_RUNS") or "runs")


def allowed_data_roots() -> list[Path]:
    """The folders a recipe made in a browser or imported in a bundle may name: the runs root (which
    holds the uploads), the shipped checkpoints (to start G from one), the torchvision data root the
    app offers ($GAN_STUDIO_DATA_ROOT) and whatever the operator lists in $GAN_STUDIO_DATA_ROOTS
    (separated by os.pathsep). Nothing else on the server."""
    extra = [os.environ.get("GAN_STUDIO_DATA_ROOT", ""), *os.environ.get("GAN_STUDIO_DATA_ROOTS", "").split(os.pathsep)]
    return [p.resolve() for p in (runs_root(), checkpoints_dir(), *(Path(e) for e in extra if e.strip()))]
