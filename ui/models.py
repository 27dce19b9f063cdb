"""Model loading for pages: cached per checkpoint file version, shared read-only by all sessions."""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from gan_core.checkpoint import list_checkpoints
from gan_core.sampling import LoadedGenerator, load_generator

ROOT = Path(__file__).resolve().parent.parent


def checkpoints_dir() -> Path:
    """$GAN_STUDIO_CHECKPOINTS, else the repository's checkpoints/ folder."""
    return Path(os.environ.get("GAN_STUDIO_CHECKPOINTS") or ROOT / "checkpoints")


def generator_checkpoints(archs: tuple[str, ...] = ("dcgan", "mlp")) -> list[tuple[Path, dict]]:
    """Shipped generators of these architectures (images and points by default; music has its own page)."""
    return [(p, c) for p, c in list_checkpoints(checkpoints_dir(), kinds=("gan",))
            if (c.get("model") or {}).get("arch", "dcgan") in archs]


@st.cache_resource(max_entries=16, show_spinner=False)
def _load(path: str, mtime_ns: int) -> LoadedGenerator:
    return load_generator(path, "cpu")


def cached_generator(path: Path) -> LoadedGenerator:
    """The generator at `path`; a rewritten file (new mtime) is loaded afresh.
    Callers must not modify it: the same object serves every session."""
    return _load(str(path), path.stat().st_mtime_ns)
