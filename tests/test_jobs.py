"""Background training jobs and the runs index: real processes, a tiny toy recipe."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from gan_core import jobs
from gan_core.recipes import dump_recipe, load_recipe
from gan_core.runs import RunDir, RunIndex


def recipe(steps: int = 30, name: str = "job", **extra: str):
    return load_recipe(None, [
        f"name={name}", "model.arch=mlp", "data.name=toy", "data.toy=ring8", "model.g_width=16", "model.d_width=16",
        "train.batch_size=32", f"train.steps={steps}", "train.log_every=1", "train.checkpoint_every=10",
        "train.sample_every=1000", *[f"{k}={v}" for k, v in extra.items()]])


def wait_for(run: RunDir, states: tuple[str, ...], timeout: float = 90.0, step: int | None = None) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        status = jobs.refresh(run)
        if status.get("state") in states and (step is None or status.get("step", 0) >= step):
            return status
        time.sleep(0.2)
    raise AssertionError(f"{run.id} never reached {states}: {run.status()}\n"
                         f"{(run.path / 'stdout.log').read_text(errors='replace')[-2000:]}")


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GAN_STUDIO_MAX_JOBS", "1")
    return tmp_path / "runs"


def test_queue_runs_one_job_at_a_time_and_moves_on_by_itself(root):
    first = jobs.submit(recipe(40, "first"), root=root)
    second = jobs.submit(recipe(20, "second"), root=root)
    assert second.status()["state"] == "queued"  # the only slot is taken
    wait_for(first, ("finished",))
    # nobody called schedule(): the finishing job started the next one
    done = wait_for(second, ("finished",))
    assert done["step"] == 20
    rows = {r["id"]: r for r in RunIndex(root).rows()}
    assert rows[first.id]["state"] == "finished" and rows[first.id]["steps"] == 40
    assert rows[first.id]["model"] == "mlp" and rows[first.id]["dataset"] == "toy/ring8"


def test_stop_checkpoints_and_resume_continues(root):
    run = jobs.submit(recipe(100_000, "long"), root=root)
    wait_for(run, ("running",), step=15)
    jobs.stop(run)
    stopped = wait_for(run, ("stopped",))
    ckpt = run.latest_checkpoint()
    assert ckpt is not None and int(ckpt.stem.split("_")[-1]) == stopped["step"]  # nothing lost
    jobs.resume(run, steps=stopped["step"] + 10)
    done = wait_for(run, ("finished",))
    assert done["step"] == stopped["step"] + 10
    steps = [r["step"] for r in run.read_metrics()]
    assert steps == list(range(1, done["step"] + 1))  # one continuous history


def test_a_killed_process_is_noticed_and_resumes_from_its_checkpoint(root):
    run = jobs.submit(recipe(100_000, "killed"), root=root)
    status = wait_for(run, ("running",), step=25)
    os.kill(status["pid"], signal.SIGKILL)
    failed = wait_for(run, ("failed",))
    ckpt = run.latest_checkpoint()
    last = int(ckpt.stem.split("_")[-1])
    assert last >= 20 and f"resume continues from step {last}" in failed["message"]
    jobs.resume(run, steps=last + 5)
    assert wait_for(run, ("finished",))["step"] == last + 5
    assert "resumed at step %d" % last in (run.path / "log.txt").read_text()


def test_a_stopped_queued_job_never_starts(root):
    busy = jobs.submit(recipe(100_000, "busy"), root=root)
    waiting = jobs.submit(recipe(10, "waiting"), root=root)
    jobs.stop(waiting)
    assert waiting.status()["state"] == "stopped"
    jobs.stop(busy)
    wait_for(busy, ("stopped",))
    assert jobs.schedule(root) == [] and waiting.status()["state"] == "stopped"


def test_the_listing_shows_a_live_run_where_its_process_is_now(root):
    """A training process writes status.json and metrics.jsonl, never the index: the listing must
    not keep what the index said when the run started (issue 20: 'starting 0/2,000' at step 270)."""
    run = jobs.submit(recipe(2000, "live"), root=root, start=False)
    run.set_status("starting", step=0)
    RunIndex(root).update(run)
    # its process (on another machine sharing the folder, so refresh() leaves it be) gets on with it
    run.set_status("running", step=270, total_steps=2000, host="elsewhere")
    run.append_metrics({"step": 200, "fd": 43712.3, "precision": 0.12})
    row = RunIndex(root).rows()[0]
    assert (row["state"], row["step"], row["steps"]) == ("running", 270, 2000)
    assert row["best"] == {"fd": 43712.3, "precision": 0.12}
    assert [r["id"] for r in RunIndex(root).rows(state="running")] == [run.id]
    assert RunIndex(root).rows(state="starting") == []


def test_a_job_that_cannot_start_says_why(root):
    run = jobs.submit(recipe(10, "bad"), root=root, device="cuda:7")
    failed = wait_for(run, ("failed",))
    assert "cuda" in failed["message"].lower() and "without a word" not in failed["message"]


def test_index_survives_damage_and_reports_broken_folders(root):
    good = RunDir.create("good", root=root)
    good.write_config(dump_recipe(recipe(5)))
    broken = RunDir.create("broken", root=root)
    (broken.path / "config.yaml").write_text("model: [unclosed")
    index = RunIndex(root)
    index.sync()
    (root / "index.sqlite").write_bytes(b"this is not a database" * 100)
    for extra in ("-wal", "-shm"):
        Path(str(root / "index.sqlite") + extra).unlink(missing_ok=True)
    index = RunIndex(root)
    problems = index.sync()
    assert any("damaged" in p for p in problems) and any(p.startswith(broken.id) for p in problems)
    states = {r["id"]: r["state"] for r in index.rows()}
    assert states == {good.id: "unknown", broken.id: "broken"}
    assert list(root.glob("index.sqlite.damaged-*"))


def _hammer(root: str, n: int) -> None:
    index = RunIndex(root)
    for _ in range(n):
        run = RunDir.create("w", root=root)
        run.write_config(dump_recipe(recipe(5)))
        index.update(run)


def test_index_takes_writers_from_several_processes(root):
    RunIndex(root).sync()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(root), 15)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert len(RunIndex(root).rows()) == 60
    assert len(RunIndex(root).rows(text="w")) == 60 and RunIndex(root).rows(state="running") == []


def test_resuming_a_detector_run_with_more_steps_raises_its_gans_steps(root, monkeypatch):
    monkeypatch.setattr(jobs, "schedule", lambda root=None: [])
    detector = load_recipe(Path(__file__).resolve().parent.parent / "configs" / "anomaly_mnist_0.yaml")
    run = jobs.submit(detector, root=root, start=False)
    run.set_status("stopped", step=300)
    jobs.resume(run, steps=2500)
    again = load_recipe(run.path / "config.yaml")
    assert again.task == "anomaly" and again.gan.train.steps == 2500 and run.status()["state"] == "queued"


def test_the_running_wrapper_sees_stop_once_and_marks_user_errors_failed(root, monkeypatch):
    from gan_core.errors import TrainingDiverged
    monkeypatch.setattr(jobs, "schedule", lambda root=None: [])
    run = jobs.submit(recipe(5, "wrapped"), root=root, start=False)
    with jobs.running(run) as job:
        assert not job.stop_requested()
        (run.path / "STOP").touch()
        assert job.stop_requested() and not (run.path / "STOP").exists()
        assert job.stop_requested()  # once asked, it stays asked
    with pytest.raises(TrainingDiverged):
        with jobs.running(run):
            raise TrainingDiverged("step 3: loss_d = nan")
    assert run.status()["state"] == "failed" and run.status()["message"] == "step 3: loss_d = nan"
    previous = signal.getsignal(signal.SIGTERM)
    with jobs.running(run) as job:
        os.kill(os.getpid(), signal.SIGTERM)  # the first signal asks for a stop instead of killing
        assert job.stop_requested()
    assert signal.getsignal(signal.SIGTERM) == previous


@pytest.mark.parametrize("name, content, reason", [
    ("status.json", b"\xff\xfe\x00", "status.json cannot be read"),
    ("status.json", b"[1, 2]", "status.json holds a JSON list"),
    ("status.json", b'{"state": "finished", "step": "abc"}', "status.json: step"),
    ("job.json", b'"just a string"', "job.json holds a JSON str"),
    ("job.json", b'{"owner": 7}', "job.json: owner"),
])
def test_one_damaged_run_is_listed_as_damaged_and_the_rest_still_work(root, name, content, reason):
    good = RunDir.create("good", root=root)
    good.write_config(dump_recipe(recipe(5)))
    good.set_status("finished", step=5)
    bad = RunDir.create("bad", root=root)
    bad.write_config(dump_recipe(recipe(5)))
    (bad.path / name).write_bytes(content)
    (bad.path / "metrics.jsonl").write_bytes(b'{"step": 1, "fd": 3.0}\n[1]\n{"step": "x"}\n\xff\xfe\n')
    index = RunIndex(root)
    problems = index.sync()
    rows = {r["id"]: r for r in index.rows()}
    assert rows[good.id]["state"] == "finished" and rows[good.id]["step"] == 5
    assert rows[bad.id]["state"] == "broken" and reason in rows[bad.id]["message"]
    assert any(p.startswith(bad.id) and reason in p for p in problems)
    assert bad.read_metrics() == [{"step": 1, "fd": 3.0}]  # only whole records with a numeric step
    if name == "status.json":
        assert bad.status() == {}  # the pages read a damaged status as none


def test_the_index_rebuilds_when_it_is_a_folder_or_of_another_layout(root):
    run = RunDir.create("one", root=root)
    run.write_config(dump_recipe(recipe(5)))
    (root / "index.sqlite").mkdir(parents=True)
    index = RunIndex(root)
    index.sync()
    assert [r["id"] for r in index.rows()] == [run.id] and any("damaged" in p for p in index.problems)
    import sqlite3
    (root / "index.sqlite").unlink()
    with sqlite3.connect(root / "index.sqlite") as conn:
        conn.execute("CREATE TABLE runs (id, colour, PRIMARY KEY (id))")
        conn.execute("INSERT INTO runs VALUES ('ghost', 'red')")
    index = RunIndex(root)
    index.sync()
    assert [r["id"] for r in index.rows()] == [run.id] and any("another layout" in p for p in index.problems)


def _hold_the_index(root: str, seconds: float, ready) -> None:
    import sqlite3
    conn = sqlite3.connect(Path(root) / "index.sqlite", isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    ready.set()
    time.sleep(seconds)
    conn.execute("ROLLBACK")


def test_a_listing_does_not_wait_for_an_index_another_process_holds(root):
    run = RunDir.create("one", root=root)
    run.write_config(dump_recipe(recipe(5)))
    RunIndex(root).sync()
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_the_index, args=(str(root), 60.0, ready))
    holder.start()
    try:
        assert ready.wait(30)
        start = time.time()
        index = RunIndex(root)
        index.sync()
        rows = index.rows()
        assert time.time() - start < 15  # not the minute the other process holds it
        assert [r["id"] for r in rows] == [run.id] and any("busy" in p for p in index.problems)
    finally:
        holder.terminate()
        holder.join()


def test_rejected_and_stale_uploads_are_removed_but_not_one_a_run_trains_on(root):
    from gan_core.runs import clean_uploads, discard_upload, save_upload
    used = save_upload(b"zip one", "pics.zip", root=root)
    stale = save_upload(b"zip two", "old.zip", root=root)
    rejected = save_upload(b"zip three", "bad.zip", root=root)
    run = RunDir.create("uses", root=root)
    run.write_config(dump_recipe(load_recipe(None, {"data.name": "folder", "data.path": str(used)})))
    discard_upload(rejected)
    discard_upload(used)  # refused for one user, but a run trains on the same file: kept
    assert not rejected.exists() and used.exists()
    day_ago = time.time() - 2 * 24 * 3600
    for path in (used, stale):
        os.utime(path, (day_ago, day_ago))
    assert clean_uploads(root) == [stale] and used.exists() and not stale.exists()


def test_only_the_owner_or_an_admin_may_manage_a_run_when_there_is_sign_in(root, monkeypatch):
    from gan_core.runs import NotAllowed, may_view
    from gan_core.share import export_run
    monkeypatch.setattr(jobs, "schedule", lambda root=None: [])
    alice = jobs.submit(recipe(5, "alices"), root=root, owner="alice@lab", start=False)
    bob = "bob@lab"
    for action in (lambda: jobs.stop(alice, user=bob), lambda: jobs.resume(alice, user=bob),
                   lambda: jobs.delete(alice, user=bob), lambda: jobs.share(alice, True, user=bob),
                   lambda: export_run(alice, user=bob)):
        with pytest.raises(NotAllowed, match="only alice@lab"):
            action()
    assert alice.status()["state"] == "queued" and alice.path.exists()  # bob changed nothing
    assert not may_view(alice, bob)
    jobs.share(alice, True, user="alice@lab")
    assert may_view(alice, bob) and RunIndex(root).rows()[0]["shared"] is True
    with pytest.raises(NotAllowed):  # shared is read-only: still not bob's to stop or export
        jobs.stop(alice, user=bob)
    jobs.stop(alice, user="root@lab", admins=("root@lab",))  # an admin may
    assert alice.status()["state"] == "stopped"
    assert export_run(alice, user="alice@lab")[:2] == b"PK"
    jobs.delete(alice, user="alice@lab")
    assert not alice.path.exists() and RunIndex(root).rows() == []


def test_without_sign_in_everyone_is_the_one_user(root, monkeypatch):
    monkeypatch.setattr(jobs, "schedule", lambda root=None: [])
    run = jobs.submit(recipe(5, "laptop"), root=root, owner="typed in the form", start=False)
    jobs.stop(run)  # user None: no sign-in, as on a laptop
    jobs.share(run, True)
    jobs.delete(run)
    assert not run.path.exists()


def test_a_live_run_is_not_deleted(root, monkeypatch):
    monkeypatch.setattr(jobs, "schedule", lambda root=None: [])
    run = jobs.submit(recipe(5, "busy"), root=root, start=False)
    with pytest.raises(jobs.RunBusy, match="queued: stop it before deleting it"):
        jobs.delete(run)
    assert run.path.exists()


def test_a_job_its_processes_cannot_share_is_refused_before_it_queues(root):
    from gan_core.config import ConfigError
    with pytest.raises(ConfigError, match="batch"):
        jobs.submit(recipe(5, "uneven"), root=root, nproc=3, start=False)  # 32 rows over 3 processes
    with pytest.raises(ConfigError, match="cuda:1"):
        jobs.submit(recipe(5, "indexed"), root=root, nproc=2, device="cuda:1", start=False)
    assert not root.exists() or not any(p.name.endswith(("uneven", "indexed")) for p in root.iterdir())
    assert jobs.read_job(jobs.submit(recipe(5, "even"), root=root, nproc=2, start=False))["nproc"] == 2


def test_a_job_may_not_read_outside_the_allowed_folders(root, monkeypatch, tmp_path):
    from gan_core.config import ConfigError
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    monkeypatch.delenv("GAN_STUDIO_DATA_ROOTS", raising=False)
    outside = load_recipe(None, {"data.name": "folder", "data.path": "/etc", "name": "peek"})
    with pytest.raises(ConfigError, match="data.path: /etc is outside"):
        jobs.submit(outside, root=root, start=False)
    assert not root.exists() or not any(p.name.endswith("peek") for p in root.iterdir())
    # a run whose recipe was changed on disk afterwards (say, an edited bundle) is not resumed either
    run = jobs.submit(recipe(5, "edited"), root=root, start=False)
    run.set_status("stopped")
    run.write_config(dump_recipe(outside))
    with pytest.raises(ConfigError, match="outside"):
        jobs.resume(run)
    assert run.status()["state"] == "stopped"
