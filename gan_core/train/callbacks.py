"""What a run writes while it trains: metrics, sample grids, checkpoints, status, progress."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tqdm.auto import tqdm

from ..checkpoint import CheckpointError, read_checkpoint
from ..data.clusters import draw_labels
from ..data.images import mnist5k
from ..errors import TrainingDiverged
from ..nets import sample_noise
from ..runs import RunDir
from .tracking import MLflowTracker
from .trainer import Callback, Trainer


class RunLogger(Callback):
    """status.json, metrics.jsonl (every log_every steps, with it/s) and log.txt."""

    def __init__(self, run: RunDir):
        self.run = run
        self._t0 = self._t_last = 0.0
        self._step_last = 0

    def on_start(self, trainer: Trainer) -> None:
        self._t0 = self._t_last = time.perf_counter()
        self._step_last = trainer.step
        # the records after the step it starts from (its checkpoint, or 0) are about to be redone
        self.run.truncate_metrics(trainer.step)
        verb = "resumed at step %d" % trainer.step if trainer.step else "started"
        self.run.log(f"{verb} on {trainer.device}: {trainer.cfg.name}, loss {trainer.cfg.train.loss}, "
                     f"{trainer.cfg.train.steps} steps")
        self.run.set_status("running", step=trainer.step, total_steps=trainer.cfg.train.steps,
                            device=str(trainer.device), message="", started_at=time.time())

    def on_step(self, trainer: Trainer, stats: dict[str, float]) -> None:
        if trainer.step % trainer.cfg.train.log_every and trainer.step != trainer.cfg.train.steps:
            return
        now = time.perf_counter()
        rate = (trainer.step - self._step_last) / max(now - self._t_last, 1e-9)
        self._t_last, self._step_last = now, trainer.step
        self.run.append_metrics({"step": trainer.step, "time": round(now - self._t0, 3),
                                 "it_s": round(rate, 3), **{k: round(v, 6) for k, v in stats.items()}})
        extra = {}
        if trainer.device.type == "cuda":
            extra["gpu_mem_gb"] = round(torch.cuda.max_memory_allocated(trainer.device) / 2**30, 2)
        self.run.set_status("running", step=trainer.step, it_s=round(rate, 3), **extra)

    def on_end(self, trainer: Trainer, state: str, message: str) -> None:
        self.run.log(f"{state}: {message}")
        self.run.set_status(state, step=trainer.step, message=message, ended_at=time.time())


class SampleWriter(Callback):
    """samples/step_XXXXXXX.{png,npy} every sample_every steps and at the end: the sheet the
    trainer draws from fixed inputs, in the format of its data (Trainer.write_preview)."""

    def __init__(self, run: RunDir, every: int | None = None):
        self.run, self.every = run, every

    def on_start(self, trainer: Trainer) -> None:
        self.every = self.every or trainer.cfg.train.sample_every
        if trainer.step == 0:
            self.write(trainer)

    def on_step(self, trainer: Trainer, stats: dict[str, float]) -> None:
        if trainer.step % self.every == 0:
            self.write(trainer)

    def on_end(self, trainer: Trainer, state: str, message: str) -> None:
        if state in ("finished", "stopped") and trainer.step % self.every:
            self.write(trainer)

    def write(self, trainer: Trainer) -> Path:
        return trainer.write_preview(self.run.samples / f"step_{trainer.step:07d}")


class CheckpointWriter(Callback):
    """checkpoints/step_XXXXXXX.{safetensors,json} every N steps and at the end, keeping the newest
    `keep` that verify: a damaged checkpoint is moved aside (never counted, never silently
    overwritten), so the last good one is never deleted. Temp files of writes a killed process left
    are cleaned at the start."""

    def __init__(self, run: RunDir, every: int | None = None, keep: int = 2):
        self.run, self.every, self.keep = run, every, keep

    def on_start(self, trainer: Trainer) -> None:
        self.every = self.every or trainer.cfg.train.checkpoint_every
        for orphan in self.run.clean_partial_writes():
            self.run.log(f"removed {orphan.name}, left by a write that was cut off")

    def on_step(self, trainer: Trainer, stats: dict[str, float]) -> None:
        if trainer.step % self.every == 0 and not trainer.stop_requested:
            self.save(trainer)

    def on_end(self, trainer: Trainer, state: str, message: str) -> None:
        if state in ("finished", "stopped"):
            self.save(trainer)

    def save(self, trainer: Trainer) -> None:
        path = self.run.checkpoints / f"step_{trainer.step:07d}"
        if path.with_suffix(".json").exists():
            try:
                read_checkpoint(path)
                return  # this step is saved already
            except CheckpointError as e:
                self.run.set_aside(path, str(e))
        try:
            trainer.save_state(path)
        except TrainingDiverged as e:
            self.run.log(str(e))
            raise
        except OSError as e:  # full disk, lost share: keep training state in memory, say so loudly
            self.run.log(f"could not write checkpoint at step {trainer.step}: {e}")
            raise
        for old in self.run.verified_checkpoints()[:-self.keep]:
            old.unlink(missing_ok=True)
            old.with_suffix(".safetensors").unlink(missing_ok=True)


class MetricTracker(Callback):
    """Every train.eval_every steps: FD, KID, precision/recall and density/coverage of 1,000 samples
    (fixed noise, the EMA generator when there is one) against the MNIST-5k test digits, on the
    metric classifier's features; written to metrics.jsonl as the run goes. Greyscale models only:
    the classifier reads digits, and its features say little about colour pictures."""

    def __init__(self, run: RunDir, n: int = 1000):
        self.run, self.n = run, n
        self.active = False

    def on_start(self, trainer: Trainer) -> None:
        cfg = trainer.cfg
        if not cfg.train.eval_every or cfg.model.family != "image" or cfg.model.channels != 1:
            return
        from ..metrics.images import default_classifier, features, load_classifier  # heavy: torchmetrics
        try:
            self.classifier = load_classifier(default_classifier())
        except CheckpointError as e:
            self.run.log(f"no metrics during training: {e}")
            return
        test = mnist5k("test")
        self.reference = features(self.classifier, test.batch(torch.arange(len(test)))[0])
        g = torch.Generator().manual_seed(cfg.train.seed + 54321)
        self.z = sample_noise(self.n, cfg.model.nz, cfg.model.noise, generator=g)
        self.y = draw_labels(self.n, trainer.n_classes, trainer.label_prior)
        self.active = True

    def on_step(self, trainer: Trainer, stats: dict[str, float]) -> None:
        if self.active and trainer.step % trainer.cfg.train.eval_every == 0:
            self.measure(trainer)

    def on_end(self, trainer: Trainer, state: str, message: str) -> None:
        if self.active and state == "finished" and trainer.step % trainer.cfg.train.eval_every:
            self.measure(trainer)

    def measure(self, trainer: Trainer) -> None:
        from ..metrics.images import fd_of_features, features, kid_of_features, precision_recall  # heavy: torchmetrics
        x = torch.cat([trainer.sample(self.z[i:i + 250], None if self.y is None else self.y[i:i + 250])
                       for i in range(0, self.n, 250)])
        if x.shape[-1] != 28:
            x = torch.nn.functional.interpolate(x, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
        f = features(self.classifier, x)
        kid, _ = kid_of_features(self.reference, f, subsets=20)
        record = {"step": trainer.step, "fd": round(fd_of_features(self.reference, f), 3), "kid": round(kid, 5),
                  **precision_recall(self.reference, f[:len(self.reference)], k=5)}  # equal-sized sets
        self.run.append_metrics(record)


class TensorBoardWriter(Callback):
    """tensorboard/ in the run folder: every logged figure as a scalar and every sample grid as an
    image, so a team can also browse runs with `tensorboard --logdir RUNS_ROOT`."""

    def __init__(self, run: RunDir):
        self.run = run
        self.writer = None

    def on_start(self, trainer: Trainer) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional at run time; the run itself does not need it
            return
        self.writer = SummaryWriter(log_dir=str(self.run.path / "tensorboard"), purge_step=trainer.step or None)

    def on_step(self, trainer: Trainer, stats: dict[str, float]) -> None:
        if self.writer is None:
            return
        t = trainer.cfg.train
        if trainer.step % t.log_every == 0:
            for k, v in stats.items():
                self.writer.add_scalar(f"train/{k}", v, trainer.step)
        if trainer.step % t.sample_every == 0 and trainer.cfg.model.family != "points":
            grids = sorted(self.run.samples.glob(f"step_{trainer.step:07d}.png"))
            if grids:  # the grid SampleWriter just wrote (it runs first)
                arr = np.asarray(Image.open(grids[0]).convert("RGB"))
                self.writer.add_image("samples", arr, trainer.step, dataformats="HWC")
        if t.eval_every and trainer.step % t.eval_every == 0:
            self._tracked(trainer.step)

    def _tracked(self, step: int) -> None:
        """The image metrics MetricTracker (which runs first) wrote for this step."""
        for record in self.run.read_metrics()[-5:]:
            if record.get("step") == step and "fd" in record:
                for k in ("fd", "kid", "precision", "recall", "density", "coverage"):
                    self.writer.add_scalar(f"metrics/{k}", record[k], step)

    def on_end(self, trainer: Trainer, state: str, message: str) -> None:
        if self.writer is not None:
            if trainer.cfg.train.eval_every:
                self._tracked(trainer.step)
            self.writer.close()


class ProgressBar(Callback):
    def __init__(self, disable: bool = False):
        self.disable = disable
        self.bar = None

    def on_start(self, trainer: Trainer) -> None:
        self.bar = tqdm(total=trainer.cfg.train.steps, initial=trainer.step, disable=self.disable,
                        desc=trainer.cfg.name, unit="step", dynamic_ncols=True)

    def on_step(self, trainer: Trainer, stats: dict[str, float]) -> None:
        self.bar.update(1)
        if trainer.step % trainer.cfg.train.log_every == 0:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items() if k in ("loss_d", "loss_g")})

    def on_end(self, trainer: Trainer, state: str, message: str) -> None:
        self.bar.close()


def standard_callbacks(run: RunDir, progress: bool = True) -> list[Callback]:
    # on_end runs in this order: the final checkpoint is on disk before the status says "finished";
    # the MLflow tracker (inert unless train.track is 'mlflow') comes after the writers whose files it sends
    return [SampleWriter(run), CheckpointWriter(run), MetricTracker(run), RunLogger(run),
            TensorBoardWriter(run), MLflowTracker(run), ProgressBar(not progress)]
