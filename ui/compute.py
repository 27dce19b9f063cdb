"""Heavy model work shared fairly between the visitors of one server.

A model run (an upscale, a latent search) keeps every core busy for seconds. When eight visitors
start one at the same moment, torch's threads fight over the same cores and all eight finish late,
some after minutes (bench serve: 7 of 52 super-resolution runs passed 120 s). Taking turns keeps each
run at its own speed: a visitor waits for the runs ahead of theirs, and is told so."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from .i18n import t

# One heavy run per two cores (at least one): a run uses two threads well, more only share them.
_TURNS = threading.BoundedSemaphore(max(1, (os.cpu_count() or 1) // 2))


@contextmanager
def heavy_work() -> Iterator[None]:
    """Hold one of the server's turns for heavy model work, waiting (with a message) when all are taken."""
    if not _TURNS.acquire(blocking=False):
        with st.spinner(t("compute.waiting")):
            _TURNS.acquire()
    try:
        yield
    finally:
        _TURNS.release()
