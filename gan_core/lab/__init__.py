"""Teaching experiments behind the Learn pages: divergences, the 1D game, the 2D toy lab."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import torch

_threads_lock = threading.Lock()
_one_thread_users = 0
_threads_before = 1


@contextmanager
def one_thread():
    """Run torch on one thread: these nets are so small that handing work between threads costs
    more than the arithmetic (about 10x slower with 2 threads on a busy 2-core machine).

    torch.set_num_threads sets the calling thread's count and the default of threads started
    later. Several sessions of the app may be inside at once, so only the last one to leave
    restores the default, to the value found by the first one in."""
    global _one_thread_users, _threads_before
    with _threads_lock:
        if _one_thread_users == 0:
            _threads_before = torch.get_num_threads()
        _one_thread_users += 1
        torch.set_num_threads(1)
    try:
        yield
    finally:
        with _threads_lock:
            _one_thread_users -= 1
            if _one_thread_users == 0:
                torch.set_num_threads(_threads_before)
