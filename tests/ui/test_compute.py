"""Heavy model work takes turns: a second visitor waits for the first instead of sharing its cores."""
import threading
import time

import pytest

from ui import compute


def test_a_second_run_waits_for_the_first_and_then_goes(monkeypatch):
    monkeypatch.setattr(compute, "_TURNS", compute.Turns(1))
    events = []
    first_in = threading.Event()

    def first():
        with compute.heavy_work():
            events.append("first starts")
            first_in.set()
            time.sleep(0.3)
            events.append("first ends")

    def second():
        first_in.wait()
        with compute.heavy_work():
            events.append("second starts")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert events == ["first starts", "first ends", "second starts"]
    assert compute._TURNS.acquire(wait=False)  # every turn was given back


def test_a_turn_is_given_back_when_the_work_fails(monkeypatch):
    monkeypatch.setattr(compute, "_TURNS", compute.Turns(1))
    try:
        with compute.heavy_work():
            raise RuntimeError("out of memory")
    except RuntimeError:
        pass
    assert compute._TURNS.acquire(wait=False)


def test_waiters_get_their_turn_in_the_order_they_came(monkeypatch):
    turns = compute.Turns(1)
    assert turns.acquire()
    order, threads = [], []
    for i in range(5):
        def wait(i=i):
            turns.acquire()
            order.append(i)
            turns.release()
        th = threading.Thread(target=wait)
        th.start()
        threads.append(th)
        while len(turns._queue) < i + 1:  # in line before the next one comes
            time.sleep(0.01)
    assert not turns.acquire(wait=False)  # a newcomer does not jump the line
    turns.release()
    for th in threads:
        th.join(10)
    assert order == [0, 1, 2, 3, 4]


class StopOnTheWayOut:
    """A spinner whose exit raises, as Streamlit's does when it stops a script (a visitor left)."""
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        raise RuntimeError("script stopped")


def test_a_turn_given_while_the_script_is_stopped_is_given_back(monkeypatch):
    turns = compute.Turns(1)
    monkeypatch.setattr(compute, "_TURNS", turns)
    monkeypatch.setattr(compute.st, "spinner", lambda text: StopOnTheWayOut())
    assert turns.acquire()  # someone else's run
    waiting = threading.Thread(target=lambda: pytest.raises(RuntimeError, compute.heavy_work().__enter__))
    waiting.start()
    while not turns._queue:
        time.sleep(0.01)
    turns.release()
    waiting.join(10)
    assert turns.acquire(wait=False)  # without the fix, this turn was lost and every later run waited forever
