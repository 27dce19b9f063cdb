"""Training jobs: `python -m gan_core train` as background processes that outlive the web page.

A job is a run folder (gan_core.runs) plus `job.json`, which says how to start its process:

    submit()   writes config.yaml (the one time it is written), job.json and status 'queued'
    schedule() starts queued jobs, oldest first, while fewer than `max_jobs()` run on this machine
    stop()     asks a job to checkpoint and exit (the STOP file, then SIGTERM); a queued one just stops
    resume()   queues a stopped, failed or finished job again; it continues from its last checkpoint
    delete()   removes a run that is not live
    share()    shows a run to the team, read-only, or hides it again
    running()  the process side: what every training process of a run does around its work

Where the app has sign-in, stop, resume, delete, share (and bundle export) take the signed-in
user and refuse with NotAllowed unless it is the run's owner or an admin (runs.may_manage);
user None (a laptop, no sign-in) may do everything, as before.

A process is started detached (its own session), so closing the browser or restarting the app
does not stop it; the folder's status.json says where it is. When a process dies without
writing its end (kill -9, power cut), `refresh()` notices — its pid is gone on this host — and
marks the run failed with the step of its last checkpoint, from which `resume()` continues.
Each finishing job calls schedule() itself, so the queue moves on with no app open.

Several app processes (or machines on shared storage) may call these at once: starting jobs is
serialised by an exclusive transaction on the runs index, and each job only ever starts once.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import torch

from .errors import USER_ERRORS
from .io import atomic_write_json
from .launch import LaunchSpec, train_args
from .launch import check as launch_check
from .launch import command as launch_command
from .paths import REPO
from .recipes import check_init_g, check_paths, dump_recipe, load_recipe
from .runs import RunDir, RunIndex, require_manager, runs_root
from .tracking_server import check_tracking

LIVE = ("starting", "running")


def this_host() -> str:
    return socket.gethostname()


def max_jobs() -> int:
    """Concurrent jobs per machine: $GAN_STUDIO_MAX_JOBS, else one per CUDA GPU, else 1."""
    env = os.environ.get("GAN_STUDIO_MAX_JOBS")
    if env:
        return max(1, int(env))
    try:
        return max(1, torch.cuda.device_count())
    except Exception:  # noqa: BLE001 - a broken CUDA set-up still runs one CPU job
        return 1


def pid_alive(pid: int | None, run_id: str | None = None) -> bool:
    """Is `pid` a live process on this host (and, where /proc says, one working on `run_id`)?
    The run-id check guards against a recycled pid after a reboot."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if run_id and cmdline.exists():
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return True
        if run_id not in text:
            return False
        status = Path(f"/proc/{pid}/status")
        if status.exists() and "State:\tZ" in status.read_text(errors="replace"):
            return False  # a zombie: exited, not yet reaped by the app that started it
    return True


# ---------------------------------------------------------------- job description


def job_file(run: RunDir) -> Path:
    return run.path / "job.json"


def read_job(run: RunDir) -> dict[str, Any] | None:
    try:
        return json.loads(job_file(run).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def command(run: RunDir, job: dict[str, Any]) -> list[str]:
    """The process a job runs: the train CLI continuing the run folder (from step 0 the first time),
    through torchrun on this machine when it asks for several processes (launch.command builds both)."""
    args = train_args(resume=run.path.resolve(), device=job.get("device", "auto"), quiet=True)
    return launch_command(LaunchSpec(nproc_per_node=int(job.get("nproc", 1))), args)


def submit(recipe, root: str | Path | None = None, device: str = "auto", nproc: int = 1, owner: str = "",
           notes: str = "", start: bool = True) -> RunDir:
    """Queue a training run of the validated `recipe` (written to config.yaml here, once) and, if
    `start`, start it now when a slot is free. A recipe that names a folder this server does not let
    recipes read, or a tracking server its operator did not set up, is refused (ConfigError), as jobs
    come from browsers; so is train.track 'mlflow' with no server anywhere (said now, not by the run),
    and a run `nproc` processes cannot share (launch.check)."""
    check_paths(recipe)
    check_tracking(recipe)
    check_init_g(recipe)
    launch_check(LaunchSpec.of(nproc_per_node=int(nproc)), recipe, device)  # e.g. a batch 3 GPUs cannot share
    root = Path(root or runs_root())
    run = RunDir.create(recipe.name, root=root)
    run.write_config(dump_recipe(recipe))
    atomic_write_json(job_file(run), {"device": device, "nproc": int(nproc), "owner": owner, "notes": notes,
                                      "submitted_at": time.time()})
    run.set_status("queued", step=0, message="")
    RunIndex(root).update(run)
    if start:
        schedule(root)
    return run


# ---------------------------------------------------------------- the queue


def refresh(run: RunDir) -> dict[str, Any]:
    """The run's status, corrected for a process that died without saying so."""
    status = run.status()
    if status.get("state") in LIVE and status.get("host", this_host()) == this_host() \
            and not pid_alive(status.get("pid"), run.id):
        ckpt = run.latest_checkpoint()
        at = f"step {int(ckpt.stem.split('_')[-1])}" if ckpt else "the start (no checkpoint yet)"
        message = (f"the training process (pid {status.get('pid')}) ended without a word, probably killed; "
                   f"resume continues from {at}")
        run.log(message)
        run.set_status("failed", message=message, ended_at=time.time(), pid=status.get("pid"))
        status = run.status()
    return status


def schedule(root: str | Path | None = None) -> list[RunDir]:
    """Start queued jobs, oldest first, while fewer than max_jobs() are live on this host."""
    root = Path(root or runs_root())
    index = RunIndex(root)
    started: list[RunDir] = []
    with index.exclusive():
        live, queued = 0, []
        for run in index.run_dirs():
            status = refresh(run)
            state = status.get("state")
            if state in LIVE and status.get("host", this_host()) == this_host():
                live += 1
            elif state == "queued" and read_job(run) is not None:
                queued.append((status.get("queued_at") or status.get("updated_at") or 0.0, run))
        for _, run in sorted(queued, key=lambda x: x[0])[:max(0, max_jobs() - live)]:
            launch(run)
            started.append(run)
    for run in started:
        index.update(run)
    return started


def launch(run: RunDir) -> int:
    """Start a job's process, detached: it survives the app, and its output goes to stdout.log."""
    job = read_job(run) or {}
    env = {**os.environ, "PYTHONUNBUFFERED": "1",  # gan_core importable from any cwd
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with open(run.path / "stdout.log", "ab") as out:
        proc = subprocess.Popen(command(run, job), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, close_fds=True, env=env)
    # the process writes 'running' itself once its model is built; until then this pid stands in
    run.set_status("starting", pid=proc.pid, host=this_host(), message="", started_at=time.time())
    run.log(f"started process {proc.pid}: {' '.join(command(run, job))}")
    return proc.pid


def stop(run: RunDir, user: str | None = None, admins: tuple[str, ...] = ()) -> None:
    """Ask a job to stop: a queued one stops at once; a live one checkpoints, then exits."""
    require_manager(run, user, admins, "stop")
    status = refresh(run)
    state = status.get("state")
    if state == "queued":
        run.set_status("stopped", message="stopped before it started")
    elif state in LIVE:
        (run.path / "STOP").touch()  # seen at the next logged step, on any machine sharing the folder
        # a 'starting' process has no signal handler yet: SIGTERM would kill it, the file is enough
        if state == "running" and status.get("host", this_host()) == this_host() \
                and pid_alive(status.get("pid"), run.id):
            try:
                os.kill(int(status["pid"]), signal.SIGTERM)  # the train CLI treats it as the same request
            except OSError:
                pass
    RunIndex(run.path.parent).update(run)


def resume(run: RunDir, steps: int | None = None, user: str | None = None, admins: tuple[str, ...] = ()) -> None:
    """Queue a run again; its process continues from the last checkpoint. `steps` raises the
    total (to train a finished run further). ConfigError if its recipe (say, an imported one) names
    a folder this server does not let recipes read or a tracking server its operator did not set up,
    or tracks with no server set up."""
    require_manager(run, user, admins, "resume")
    status = refresh(run)
    if status.get("state") in LIVE or status.get("state") == "queued":
        return
    stored = load_recipe(run.path / "config.yaml")
    check_paths(stored)
    check_tracking(stored)
    if read_job(run) is None:  # a run made by the CLI: adopt it as a job on this machine
        atomic_write_json(job_file(run), {"device": "auto", "nproc": 1, "submitted_at": time.time()})
    if steps is not None:
        detector = load_recipe(run.path / "config.yaml").task == "anomaly"
        key = "gan.train.steps" if detector else "train.steps"  # a detector's GAN is its `gan` section
        run.write_config(dump_recipe(load_recipe(run.path / "config.yaml", {key: int(steps)})))
    (run.path / "STOP").unlink(missing_ok=True)
    run.set_status("queued", message="", queued_at=time.time())
    RunIndex(run.path.parent).update(run)
    schedule(run.path.parent)


def delete(run: RunDir, user: str | None = None, admins: tuple[str, ...] = ()) -> None:
    """Remove a run folder and its index row; a queued or live run must be stopped first."""
    require_manager(run, user, admins, "delete")
    if refresh(run).get("state") in (*LIVE, "queued"):
        raise RunBusy(f"run {run.id} is {run.status().get('state')}: stop it before deleting it")
    shutil.rmtree(run.path)
    RunIndex(run.path.parent).sync()


def share(run: RunDir, shared: bool, user: str | None = None, admins: tuple[str, ...] = ()) -> None:
    """Show the run to everyone (read-only: samples, metrics, the Gallery), or hide it again."""
    require_manager(run, user, admins, "share")
    atomic_write_json(job_file(run), {**run.job(), "shared": bool(shared)})
    RunIndex(run.path.parent).update(run)


class RunBusy(RuntimeError):
    """An action that needs the run's process to be gone first."""


# ---------------------------------------------------------------- the process side


class RunningJob:
    """A run's training process, as its job sees it: is a graceful stop asked for?"""

    def __init__(self, run: RunDir):
        self.run = run
        self.signalled = False

    def stop_requested(self) -> bool:
        """SIGTERM/SIGINT, or a STOP file in the run folder (works across machines sharing the runs
        root; seen once, then removed)."""
        stop = self.run.path / "STOP"
        if stop.exists():
            stop.unlink(missing_ok=True)
            self.signalled = True
        return self.signalled


@contextlib.contextmanager
def running(run: RunDir, main: bool = True) -> Iterator[RunningJob]:
    """Around the work of a run's process (every process under torchrun; `main` is rank 0):
    the first SIGTERM or SIGINT asks for a checkpoint and a stop (a second one acts as usual); a
    user error (USER_ERRORS) marks the run failed with its message; and, for a queued job, the
    index is updated at the end and the next queued job starts, so the queue moves with no app open."""
    job = RunningJob(run)

    def request_stop(signum, frame):
        job.signalled = True
        signal.signal(signum, signal.SIG_DFL)
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield job
    except USER_ERRORS as e:
        if main:
            run.log(f"failed: {e}")
            run.set_status("failed", message=str(e), ended_at=time.time())
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if main and read_job(run) is not None:
            RunIndex(run.path.parent).update(run)
            schedule(run.path.parent)
