"""Weights a person imports for their session only (official pix2pix, Real-ESRGAN, ...): converted
into a checkpoint in a temporary folder of the page's own, deleted with the session."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Callable

import streamlit as st

from gan_core.checkpoint import CheckpointError


def safe_stem(filename: str, fallback: str = "picture") -> str:
    """A file name's stem reduced to letters, digits, '-', '_' and '.' (for names of files we write)."""
    stem = re.sub(r"[^\w.-]+", "_", Path(filename or "").stem, flags=re.ASCII).strip("._")
    return stem[:64] or fallback


def import_name(filename: str, taken) -> str:
    """A checkpoint name for an uploaded weights file: its safe stem, numbered if already used."""
    stem = safe_stem(filename, "imported")
    name, k = stem, 2
    while name in taken:
        name, k = f"{stem}_{k}", k + 1
    return name


def session_folder(page: str, create: bool = True) -> Path | None:
    """This session's folder of imports for `page` (its key prefix, e.g. "sk"); None if it has none yet
    and `create` is off."""
    key = f"{page}_tmp"
    if key not in st.session_state:
        if not create:
            return None
        st.session_state[key] = tempfile.TemporaryDirectory(prefix=f"gan_studio_{page}_")
    return Path(st.session_state[key].name)


def import_weights(upload, page: str, convert: Callable[..., Path], taken) -> str:
    """Convert an uploaded weights file with convert(file, out, name=...) into a checkpoint in this
    session's folder for `page`, named after the file but not as any of `taken`; returns the name.
    The upload is written there only while it is converted. Raises what `convert` raises."""
    data = upload.getvalue()
    if not data:
        raise CheckpointError(f"{upload.name}: the file is empty")
    folder = session_folder(page)
    name = import_name(upload.name, taken)
    src = folder / "upload" / (Path(upload.name).name or "weights.pth")
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(data)
    try:
        convert(src, folder / name, name=name)
    finally:
        src.unlink(missing_ok=True)
    return name
