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


def generator_checkpoints(archs: tuple[str, ...] = ("dcgan", "mlp"), folder: Path | str | None = None
                          ) -> list[tuple[Path, dict]]:
    """Generators of these architectures (images and points by default; music has its own page) in
    `folder`, by default the shipped checkpoints (a page's per-session imports live elsewhere)."""
    return [(p, c) for p, c in list_checkpoints(folder or checkpoints_dir(), kinds=("gan",))
            if (c.get("model") or {}).get("arch", "dcgan") in archs]


def _loaders() -> dict:
    from gan_core.apps.anomaly import load_detector
    from gan_core.apps.music import load_music_generator
    from gan_core.apps.pix2pix import load_sketcher
    from gan_core.apps.superres import load_upscaler
    return {"generator": load_generator, "music": load_music_generator, "detector": load_detector,
            "sketcher": load_sketcher, "upscaler": load_upscaler}


@st.cache_resource(max_entries=32, show_spinner=False)
def _load(kind: str, path: str, mtime_ns: int):
    return _loaders()[kind](path, "cpu")


def cached_model(kind: str, path: Path):
    """The model at `path` ('generator', 'music', 'detector', 'sketcher' or 'upscaler'); a rewritten file (new mtime) is
    loaded afresh. Callers must not modify it: the same object serves every session."""
    return _load(kind, str(path), path.stat().st_mtime_ns)


def cached_generator(path: Path) -> LoadedGenerator:
    return cached_model("generator", path)
