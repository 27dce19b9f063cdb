"""A team's MLflow tracking server, beside the run folder (recipe key `train.track: mlflow`).

The run folder stays the record of a run; the tracker copies it, as it is made, to one MLflow run:

- params: the resolved recipe flattened to dotted keys (`train.lr_g`, `model.arch`, ...);
- metrics: every figure the trainer reports at each log step (`loss_d`, `loss_g`, `d_real`, ...,
  and `it_s`), at its generator step, and the image metrics MetricTracker measures (`fd`, `kid`,
  `precision`, `recall`, `density`, `coverage`) at theirs;
- artifacts: `config.yaml`, every sample sheet under `samples/` (a grid PNG, or the `.npy` of a
  point cloud), and at the end `model/NAME.safetensors` with its model card `model/NAME.json`
  (what `Trainer.export` writes: G, the EMA copy when there is one, and D) and `log.txt`;
- tags: the run folder's id, its owner when a job names one, the recipe's description; the run's
  status at the end (FINISHED, KILLED for a stopped run, FAILED).

The MLflow run's id and web address are written to the run folder's `tracking.json`, which the
Gallery links to. A resumed run continues the same MLflow run when tracking.json names one on the
same server.

Where: `train.tracking_uri` (an http(s) server; gan_core.config refuses anything else in a recipe),
else $MLFLOW_TRACKING_URI, else $GAN_STUDIO_MLFLOW_URI (the app's setting). Both variables are the
operator's, so they may also name a local store (sqlite:, file:). gan_core/tracking_server.py reads
them (one definition for the tracker, jobs and the app) and says which servers a recipe from a
browser may name. The experiment is $MLFLOW_EXPERIMENT_NAME, else the recipe's name.

Tracking never stops training, nor slows it: every request is made by one background thread, and
the first one that fails (server down, refused, an error status) ends tracking for this run with a
line in log.txt and in the run's status message; the run itself goes on and finishes. At the end the
tracker waits for the last uploads at most FLUSH_S seconds. Only rank 0 tracks under torchrun. The
`mlflow` package is imported by that thread alone, and only when tracking is on.
"""
from __future__ import annotations

import getpass
import importlib.util
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..config import ConfigError
from ..io import atomic_write_json
from ..runs import RunDamaged, RunDir
from ..tracking_server import public_uri, tracking_uri
from .trainer import Callback, Trainer

TRACKING_FILE = "tracking.json"
EVAL_KEYS = ("fd", "kid", "precision", "recall", "density", "coverage")
FLUSH_S = 300.0  # the end of a run waits this long at most for its last uploads (the model)
# MLflow retries a request 7 times by default, with backoff: about 4 minutes before a down server
# counts as down. One dead request ends tracking for the run anyway, so fewer retries say so sooner;
# an operator who sets the variable keeps their value.
DEFAULT_RETRIES = "3"
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a parameter's value
BATCH = 100  # MLflow takes at most 100 params or tags per log_batch


def run_url(uri: str, experiment_id: str, run_id: str) -> str | None:
    """The MLflow web page of a run, for a server (an http(s) URI); None for a local store."""
    if urlsplit(uri).scheme.lower() not in ("http", "https"):
        return None
    return f"{public_uri(uri).rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def flat_params(recipe: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """The recipe as MLflow params: {'train.lr_g': '0.0002', 'train.betas': '[0.5, 0.999]', ...}."""
    out: dict[str, str] = {}
    for key, value in recipe.items():
        if isinstance(value, dict):
            out.update(flat_params(value, f"{prefix}{key}."))
        else:
            text = "" if value is None else str(list(value) if isinstance(value, tuple) else value)
            out[f"{prefix}{key}"] = text[:MAX_PARAM_LENGTH]
    return out


def _said(e: BaseException) -> str:
    """An error in one line a person can act on; MLflow's own messages can run to pages."""
    text = getattr(e, "message", None) or str(e) or type(e).__name__
    line = " ".join(text.split())
    return f"{type(e).__name__}: {line[:400]}"


class _Sender(threading.Thread):
    """Runs the tracker's requests in order, off the training thread. After the first failure it
    runs nothing more (each request to a down server would wait out its retries) and keeps the
    error for the training thread to report."""

    def __init__(self):
        super().__init__(name="mlflow-tracking", daemon=True)  # never holds a finished process open
        self.jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self.error: str | None = None

    def run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None:
                try:
                    job()
                except Exception as e:  # noqa: BLE001 - whatever the server or client raised ends tracking only
                    self.error = _said(e)

    def send(self, job: Callable[[], None]) -> None:
        self.jobs.put(job)

    def finish(self, timeout: float) -> bool:
        """Close the queue and wait for what is in it; False if it is still sending after `timeout`."""
        self.jobs.put(None)
        self.join(timeout)
        return not self.is_alive()


class MLflowTracker(Callback):
    """Logs a run to an MLflow tracking server as it trains (see the module docstring for what is
    logged and where). Inert unless the recipe says train.track: mlflow. Runs after SampleWriter,
    MetricTracker and RunLogger, so the sheets and figures of a step are on disk when it sends them,
    and after RunLogger's end, so a failure can be added to the final status message."""

    def __init__(self, run: RunDir, flush_s: float = FLUSH_S):
        self.run, self.flush_s = run, flush_s
        self.sender: _Sender | None = None
        self.client = None  # made by the sender thread
        self.uri, self.run_id, self.url = "", "", None
        self.reported = False
        self.sent_samples: set[int] = set()
        self.sent_evals: set[int] = set()

    # ------------------------------------------------------------------ the training thread

    def on_start(self, trainer: Trainer) -> None:
        cfg = trainer.cfg
        if cfg.train.track != "mlflow" or not trainer.world.main:
            return
        uri, source = tracking_uri(cfg)
        if importlib.util.find_spec("mlflow") is None:  # said before training, like a missing URI
            raise ConfigError("train.track is 'mlflow' but the MLflow client is not installed here: "
                              "pip install mlflow-skinny")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", DEFAULT_RETRIES)
        # MLflow prints the run's address to stdout when a run ends; the CLI's stdout is its JSON result
        # (the address is in log.txt and tracking.json instead)
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        self.uri, self.reported = uri, False
        self.sender = _Sender()
        self.sender.start()
        self.run.log(f"tracking to MLflow at {public_uri(uri)} (from {source})")
        opening = self._opening(cfg)
        self.sender.send(lambda: self._open(**opening))
        self._send_file(self.run.path / "config.yaml", None)
        if trainer.step == 0:
            self._samples(0)  # the sheet SampleWriter drew before the first step
        self._t_last, self._step_last = time.perf_counter(), trainer.step

    def on_step(self, trainer: Trainer, stats: dict[str, float]) -> None:
        if self.sender is None:
            return
        t = trainer.cfg.train
        if trainer.step % t.log_every == 0 or trainer.step == t.steps:  # what RunLogger writes to metrics.jsonl
            now = time.perf_counter()
            figures = {**stats, "it_s": (trainer.step - self._step_last) / max(now - self._t_last, 1e-9)}
            self._t_last, self._step_last = now, trainer.step
            self._send_metrics(figures, trainer.step)
        if trainer.step % t.sample_every == 0:
            self._samples(trainer.step)
        if t.eval_every and trainer.step % t.eval_every == 0:
            self._evals(trainer.step)
        if self.sender.error and not self.reported:
            self._report(self.sender.error, "running", self.run.status().get("message", ""))

    def on_end(self, trainer: Trainer, state: str, message: str) -> None:
        sender = self.sender
        if sender is None:
            return
        export_dir = None
        if state in ("finished", "stopped"):
            self._samples(trainer.step)  # the last sheet, if SampleWriter drew one at the end
            self._evals(trainer.step)
            export_dir = Path(tempfile.mkdtemp(prefix="gan_studio_mlflow_"))
            try:
                # the shippable model and its card, as `train --out` writes them: what a teammate samples
                # from, named after the recipe (as a file name, whatever the recipe's name holds)
                stem = re.sub(r"[^\w.-]+", "_", trainer.cfg.name).strip("._") or "model"
                model = trainer.export(export_dir / stem, {"run": self.run.id})
            except Exception as e:  # noqa: BLE001 - a full temp disk must not fail a finished run
                self.run.log(f"MLflow: could not export the model for upload: {_said(e)}")
            else:
                self._send_file(model, "model")
                self._send_file(model.with_suffix(".json"), "model")
        self._send_file(self.run.path / "log.txt", None)
        final = {"finished": "FINISHED", "stopped": "KILLED"}.get(state, "FAILED")
        sender.send(lambda: self.client.set_terminated(self.run_id, final))
        # a failed run waits less: whatever failed it may be what keeps the server from answering
        done = sender.finish(self.flush_s if state in ("finished", "stopped") else min(self.flush_s, 15.0))
        self.sender = None
        if export_dir is not None and done:  # else the sender may still be reading it
            shutil.rmtree(export_dir, ignore_errors=True)
        if sender.error:
            self._report(sender.error, state, message)
        elif not done:
            self.run.log(f"MLflow: the last uploads took over {self.flush_s:.0f} s and were left unfinished")
            self.run.set_status(state, tracking="unfinished")
        else:
            self.run.log(f"MLflow: logged as run {self.run_id} ({self.url or public_uri(self.uri)})")
            self.run.set_status(state, tracking="logged")

    def _report(self, error: str, state: str, message: str) -> None:
        """Say that tracking failed and the run goes on: in log.txt once, and in the status message
        (again at the end, as RunLogger's end writes the final message over it)."""
        why = f"MLflow tracking stopped at an error, the run itself is not affected ({error})"
        if not self.reported:
            self.run.log(why)
            self.reported = True
        self.run.set_status(state, message=f"{message}; {why}" if message else why, tracking="failed")

    def _send_metrics(self, figures: dict[str, float], step: int) -> None:
        stamp = int(time.time() * 1000)
        rows = [(k, float(v), stamp, step) for k, v in figures.items()]
        self.sender.send(lambda: self._log_metrics(rows))

    def _samples(self, step: int) -> None:
        """The sheets SampleWriter wrote for `step` (it runs first), once each."""
        if step in self.sent_samples:
            return
        sheets = sorted(self.run.samples.glob(f"step_{step:07d}.*"))
        if sheets:
            self.sent_samples.add(step)
        for path in sheets:
            self._send_file(path, "samples")

    def _evals(self, step: int) -> None:
        """The image metrics MetricTracker (which runs first) wrote for `step`, once."""
        if step in self.sent_evals:
            return
        for record in self.run.read_metrics()[-5:]:
            if record.get("step") == step and "fd" in record:
                self.sent_evals.add(step)
                self._send_metrics({k: record[k] for k in EVAL_KEYS if isinstance(record.get(k), (int, float))},
                                   step)

    def _send_file(self, path: Path, folder: str | None) -> None:
        if path.exists():
            self.sender.send(lambda: self.client.log_artifact(self.run_id, str(path), folder))

    def _opening(self, cfg) -> dict[str, Any]:
        """What the sender needs to open the MLflow run, read here so the thread touches no recipe."""
        try:
            previous = self.run.read_json(TRACKING_FILE)
        except RunDamaged:
            previous = {}
        tags = {"gan_studio.run": self.run.id, "mlflow.runName": self.run.id,
                "mlflow.source.name": "python -m gan_core train", "mlflow.source.type": "JOB"}
        if cfg.description:
            tags["mlflow.note.content"] = cfg.description
        try:  # who: the job's signed-in owner; for a run started at a terminal, the account (as MLflow does)
            tags["mlflow.user"] = self.run.owner() or getpass.getuser()
        except OSError:  # no name for this uid (a bare container)
            pass
        return {"experiment": os.environ.get("MLFLOW_EXPERIMENT_NAME") or cfg.name,
                "params": flat_params(cfg.model_dump(mode="json")), "tags": tags,
                "resume": previous.get("run_id") if previous.get("tracking_uri") == public_uri(self.uri) else None}

    # ------------------------------------------------------------------ the sender thread

    def _open(self, experiment: str, params: dict[str, str], tags: dict[str, str], resume: str | None) -> None:
        """The experiment (made if missing), the run (continued when resuming), its params and
        tags; then tracking.json."""
        from mlflow import MlflowClient
        from mlflow.entities import Param, RunTag
        from mlflow.exceptions import MlflowException

        self.client = client = MlflowClient(tracking_uri=self.uri)
        run = None
        if resume:
            try:
                run = client.get_run(resume)
            except MlflowException:  # deleted on the server: start a new one
                run = None
            if run is not None and run.info.lifecycle_stage != "active":
                run = None
        if run is None:
            found = client.get_experiment_by_name(experiment)
            if found is None:
                try:
                    experiment_id = client.create_experiment(experiment)
                except MlflowException:  # another run made it between the two calls
                    found = client.get_experiment_by_name(experiment)
                    if found is None:
                        raise
                    experiment_id = found.experiment_id
            else:
                experiment_id = found.experiment_id
            run = client.create_run(experiment_id, tags=tags, run_name=self.run.id)
            logged: dict[str, str] = {}
        else:
            client.update_run(run.info.run_id, status="RUNNING")
            logged = run.data.params
        self.run_id, experiment_id = run.info.run_id, run.info.experiment_id
        self.url = run_url(self.uri, experiment_id, self.run_id)
        atomic_write_json(self.run.path / TRACKING_FILE, {
            "tracker": "mlflow", "tracking_uri": public_uri(self.uri), "experiment": experiment,
            "experiment_id": experiment_id, "run_id": self.run_id, "url": self.url})
        # A param cannot change in MLflow: a resumed run whose recipe changed (say, more train.steps)
        # says so in tags instead.
        new = [Param(k, v) for k, v in params.items() if k not in logged]
        changed = [RunTag(f"resumed.{k}", v) for k, v in params.items() if k in logged and logged[k] != v]
        for i in range(0, max(len(new), len(changed)), BATCH):
            client.log_batch(self.run_id, params=new[i:i + BATCH], tags=changed[i:i + BATCH])

    def _log_metrics(self, rows: list[tuple[str, float, int, int]]) -> None:
        from mlflow.entities import Metric

        self.client.log_batch(self.run_id, metrics=[Metric(*row) for row in rows])
