"""Heavy model work shared fairly between the visitors of one server.

A model run (an upscale, a latent search) keeps every core busy for seconds. When eight visitors
start one at the same moment, torch's threads fight over the same cores and all eight finish late
(bench serve, 8 sessions on 2 cores: super-resolution p95 31 s, some runs past 2 minutes). Taking
turns keeps each run at its own speed: a visitor waits for the runs that asked before theirs, in
order, and is told so."""
from __future__ import annotations

import os
import threading
from collections import deque
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from .i18n import t


class Turns:
    """A fair semaphore: at most `n` holders, and waiters go in the order they came (a newcomer never
    jumps the queue, which threading.Semaphore allows)."""

    def __init__(self, n: int):
        self._free = n
        self._queue: deque[object] = deque()
        self._cond = threading.Condition()

    def acquire(self, wait: bool = True) -> bool:
        with self._cond:
            if self._free and not self._queue:
                self._free -= 1
                return True
            if not wait:
                return False
            me = object()
            self._queue.append(me)
            while self._queue[0] is not me or not self._free:
                self._cond.wait()
            self._queue.popleft()
            self._free -= 1
            self._cond.notify_all()  # the next in line may find a turn free too
            return True

    def release(self) -> None:
        with self._cond:
            self._free += 1
            self._cond.notify_all()


# One heavy run per two cores (at least one): a run uses two threads well, more only share them.
_TURNS = Turns(max(1, (os.cpu_count() or 1) // 2))


@contextmanager
def heavy_work() -> Iterator[None]:
    """Hold one of the server's turns for heavy model work, waiting in line (with a message) when all
    are taken."""
    held = _TURNS.acquire(wait=False)
    try:
        if not held:
            # Streamlit may stop this script (the visitor left or changed a widget) on its way out of
            # the spinner, after the turn was given: `held` is set first, so the turn goes back
            with st.spinner(t("compute.waiting")):
                held = _TURNS.acquire()
        yield
    finally:
        if held:
            _TURNS.release()
