"""A toy lab that trains in a background thread while a page draws it (the Toy Lab's live view).

Why a thread: a page that trains inside its drawing loop shares each frame between training and
drawing, so the slower the configurations, the fewer pictures, and every picture costs training
time (with four configurations, one step and one picture a second). Here training runs on its
own, as fast as the computer allows (or at a chosen rate), and the page draws a snapshot at a
fixed rate, whatever a step costs. The thread never touches Streamlit: it only trains.

Sharing the lab: a view draws `snapshot()`, a frozen copy of the lab (ToyLab.frozen: the weights,
about 1 MB for four default models) that the trainer publishes after a step once PUBLISH_S has
passed since the last one, so a picture never waits for training, however long a step takes (four configurations with k = 5
critic steps: 0.1 s a step on an idle machine, several times that on a busy one). What must see the
lab itself (the step buttons, while paused) takes `reading()`, the lock the trainer holds per slice
of steps (at most SLICE_S, or one step when a step is longer); a waiting reader goes first.

Nobody watching: the view calls `touch()` with every picture. When none came for `idle_s`
seconds (the tab was closed, or the person went to another page), the thread stops by itself
(`stopped == "idle"`), so a forgotten session does not train for ever; `play()` resumes it.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

from . import one_thread
from .toy2d import ToyLab

SLICE_S = 0.03    # training per lock hold: reading() waits at most about this long (or one step)
PUBLISH_S = 0.04  # a fresh snapshot for the view at most this often while training (four default models: ~0.4 ms a copy)


class LiveLab:
    """`lab` (a ToyLab), trained by a background thread between `play()` and `pause()`."""

    def __init__(self, lab: ToyLab, idle_s: float = 5.0):
        self.lab = lab
        self.idle_s = idle_s
        self.max_rate: float | None = None  # steps per second at most; None: as fast as possible
        self.stopped: str | None = None     # why the thread ended by itself: idle, finished, error
        self.error: BaseException | None = None
        self.rate = 0.0                      # measured steps per second while playing
        self._lock = threading.Lock()
        self._waiting = 0                    # readers waiting for the lock (the trainer yields to them)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen = time.monotonic()
        self._published: ToyLab | None = None
        self._published_at = 0.0

    # ------------------------------------------------------------ control (from the page)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def play(self, max_rate: float | None = None) -> None:
        """Train in the background (again), at most `max_rate` steps per second. A lab that has
        nothing left to train (lab.finished()) is not started: `stopped` says 'finished'."""
        self.max_rate = max_rate
        self.touch()
        if self.running:
            return
        self.join()
        if self.lab.finished():
            self.stopped = "finished"
            return
        self.stopped, self.error, self.rate, self._published = None, None, 0.0, None
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="toy-lab-trainer", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """Stop training; returns once the thread has finished its current slice."""
        self._stop.set()
        self.join()

    def join(self) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def touch(self) -> None:
        """Someone is watching: keep training (see idle_s)."""
        self._seen = time.monotonic()

    def snapshot(self) -> ToyLab:
        """The lab as last published by the trainer (at most PUBLISH_S plus one step old) while it
        trains, else a copy taken now; either way a frozen copy that training does not change."""
        published = self._published
        if self.running and published is not None:
            return published
        with self.reading():
            return self.lab.frozen()

    @contextmanager
    def reading(self) -> Iterator[ToyLab]:
        """The lab, not being trained while the block runs."""
        self._waiting += 1  # only the session's script thread reads; the trainer just looks at it
        try:
            self._lock.acquire()
        finally:
            self._waiting -= 1
        try:
            yield self.lab
        finally:
            self._lock.release()

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        steps, clock = 0, time.perf_counter()  # for the rate: steps since `clock`
        try:
            while not self._stop.is_set():
                if time.monotonic() - self._seen > self.idle_s:
                    self.stopped = "idle"
                    return
                if self.lab.finished():
                    self.stopped = "finished"
                    return
                while self._waiting and not self._stop.is_set():
                    time.sleep(0.0005)  # a reader is waiting: let it take the lock first
                budget = self._budget()
                with self._lock, one_thread():
                    start = time.perf_counter()
                    done = 0
                    while done < budget and not self.lab.finished():
                        self.lab.train(1)
                        done += 1
                        if time.perf_counter() - self._published_at >= PUBLISH_S:
                            self._published, self._published_at = self.lab.frozen(), time.perf_counter()
                        if time.perf_counter() - start > SLICE_S or self._waiting or self._stop.is_set():
                            break
                steps += done
                now = time.perf_counter()
                if now - clock >= 0.5:  # steps per second over the last half second or so
                    self.rate = steps / (now - clock)
                    steps, clock = 0, now
                if self.max_rate:
                    # at most max_rate steps a second: sleep off what this slice did beyond it
                    self._stop.wait(max(0.0, done / self.max_rate - (time.perf_counter() - start)))
        except BaseException as e:  # shown by the page; the thread must not die silently
            self.error, self.stopped = e, "error"

    def _budget(self) -> int:
        """Steps in the next slice: as many as fit in SLICE_S, or a rate-limited share of a second."""
        if not self.max_rate:
            return 1_000_000  # ends on time (SLICE_S)
        return max(1, int(self.max_rate * SLICE_S))
