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
from typing import Callable, Iterator

import streamlit as st

from .i18n import t


class Turns:
    """A fair semaphore: at most `n` holders, and waiters go in the order they came (a newcomer never
    jumps the queue, which threading.Semaphore allows)."""

    def __init__(self, n: int):
        self._free = n
        self._queue: deque[object] = deque()
        self._cond = threading.Condition()

    def acquire(self, wait: bool = True, still_wanted: Callable[[int], None] | None = None) -> bool:
        """Take a turn (False at once if none is free and not `wait`). While waiting, every half second
        `still_wanted(runs ahead)` is called: an exception from it (Streamlit stopping a script whose
        visitor left) takes this place out of the line and propagates."""
        with self._cond:
            if self._free and not self._queue:
                self._free -= 1
                return True
            if not wait:
                return False
            me = object()
            self._queue.append(me)
            try:
                while self._queue[0] is not me or not self._free:
                    if not self._cond.wait(timeout=0.5) and still_wanted is not None:
                        still_wanted(self._queue.index(me))
            except BaseException:
                self._queue.remove(me)
                self._cond.notify_all()
                raise
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
            # The note is redrawn while waiting: drawing is where Streamlit stops a script whose
            # visitor left (or changed a widget), so such a script leaves the line instead of
            # taking a turn nobody waits for. `held` is set before anything else can raise.
            note = st.empty()
            held = _TURNS.acquire(still_wanted=lambda ahead: note.info(t("compute.waiting", ahead=ahead + 1),
                                                                      icon=":material/hourglass_top:"))
            note.empty()
        yield
    finally:
        if held:
            _TURNS.release()
