"""Heavy model work takes turns: a second visitor waits for the first instead of sharing its cores."""
import threading
import time

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


class StoppedScript:
    """A placeholder whose drawing raises, as Streamlit's does in a script it stops (the visitor left)."""
    def info(self, *args, **kwargs):
        raise RuntimeError("script stopped")

    def empty(self):
        pass


def test_a_visitor_who_left_leaves_the_line_and_takes_no_turn(monkeypatch):
    turns = compute.Turns(1)
    monkeypatch.setattr(compute, "_TURNS", turns)
    monkeypatch.setattr(compute.st, "empty", StoppedScript)
    assert turns.acquire()  # someone else's run
    outcome = []

    def wait():
        try:
            with compute.heavy_work():
                outcome.append("ran")
        except RuntimeError:
            outcome.append("left")
    waiting = threading.Thread(target=wait)
    waiting.start()
    waiting.join(10)  # the half-second redraw found the script stopped: it left the line by itself
    assert outcome == ["left"] and not turns._queue
    turns.release()
    assert turns.acquire(wait=False)  # nobody took or kept a turn for a visitor who is gone
