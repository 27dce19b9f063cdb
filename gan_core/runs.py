"""Run folders: everything one training run writes, in one place.

runs/<id>/
  config.yaml     the resolved recipe
  status.json     state (running, finished, failed, stopped), step, message
  metrics.jsonl   one JSON object per logged step
  samples/        sample grids (images) or point clouds (toy), named by step
  checkpoints/    step_XXXXXXX.safetensors + .json, the newest two kept
  log.txt         human-readable log

The root is $GAN_STUDIO_RUNS (default ./runs), so a team can point it at shared storage.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from .io import atomic_write_json, atomic_write_text

STATES = ("queued", "running", "finished", "failed", "stopped")


def runs_root() -> Path:
    return Path(os.environ.get("GAN_STUDIO_RUNS") or "runs")


def new_run_id(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(2)}"


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def create(cls, name: str, root: str | Path | None = None, path: str | Path | None = None) -> "RunDir":
        run = cls(path if path is not None else Path(root or runs_root()) / new_run_id(name))
        for sub in ("samples", "checkpoints"):
            (run.path / sub).mkdir(parents=True, exist_ok=True)
        return run

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def write_config(self, text: str) -> None:
        atomic_write_text(self.path / "config.yaml", text)

    def status(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "status.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}

    def set_status(self, state: str, **fields: Any) -> None:
        assert state in STATES, state
        status = {**self.status(), **fields, "state": state, "updated_at": time.time(), "pid": os.getpid()}
        atomic_write_json(self.path / "status.json", status)

    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record, allow_nan=True) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every complete line of metrics.jsonl (a torn last line from a crash is skipped)."""
        out = []
        try:
            with open(self.path / "metrics.jsonl", encoding="utf-8") as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue
        except FileNotFoundError:
            pass
        return out

    def log(self, message: str) -> None:
        with open(self.path / "log.txt", "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")
