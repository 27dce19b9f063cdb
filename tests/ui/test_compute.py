"""Heavy model work takes turns: a second visitor waits for the first instead of sharing its cores."""
import threading
import time

from ui import compute


def test_a_second_run_waits_for_the_first_and_then_goes(monkeypatch):
    monkeypatch.setattr(compute, "_TURNS", threading.BoundedSemaphore(1))
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
    assert compute._TURNS.acquire(blocking=False)  # every turn was given back


def test_a_turn_is_given_back_when_the_work_fails(monkeypatch):
    monkeypatch.setattr(compute, "_TURNS", threading.BoundedSemaphore(1))
    try:
        with compute.heavy_work():
            raise RuntimeError("out of memory")
    except RuntimeError:
        pass
    assert compute._TURNS.acquire(blocking=False)
