"""A prepared check of a GPU machine: every architecture, DDP, and the speed targets, in one run.

    python -m gan_core.gpu_check --out gpu_check.json [--device auto|cuda|cpu] [--quick] [--only NAME ...]
    scripts/gpu_check.sh [OUT.json]   (= make gpu-check)

It installs nothing and goes through the project's own code paths: recipes from configs/ shrunk by
overrides (`recipes.load_recipe`), `train.make_trainer`, the trainer's `save_state`,
`sampling.load_generator`, `apps.superres`, `apps.anomaly` and `bench.bench_dcgan`. One function per
check; each returns one row

    {"name", "ok", "seconds", "figures", "error"}      (ok None and "skipped": why, for a skipped check)

and a failing check is recorded while the rest still run. The JSON file is rewritten after every
check (a run cut short keeps what it measured); the exit code is 1 if any check failed.

The checks, on the device (CUDA when there is one):

* train:ARCH for dcgan, cgan, mlp (toy), pix2pix, srresnet, srgan, rrdb, musegan, anomaly (GAN +
  f-AnoGAN encoder) and cyclegan: a few training steps through the trainer real training uses (so
  bf16 autocast and channels_last are on exactly where `Trainer` turns them on; both are reported),
  every logged loss finite; then the round trip: the trainer's checkpoint is written, loaded on the
  CPU (`load_generator`; `load_detector` for the detector), and its samples for a fixed seed must be
  *bitwise equal* (torch.equal) to the CPU samples of the in-memory model copied to the CPU (float32,
  contiguous layout, same threads). The device's own samples (under the run's autocast) are compared
  with those CPU samples too: mean |difference| <= 0.05 under bf16 autocast, <= 5e-3 in float32
  (TF32 convolutions on CUDA); both differences are in the row.
* import:rrdb: public ESRGAN-layout weights (a tiny RRDBNet made here) through `import_esrgan`,
  upscaled on the device and on the CPU.
* ddp: `torchrun --standalone --nproc_per_node=<GPUs>` on `python -m gan_core train` with NCCL; on a
  CPU-only machine 2 gloo processes of a tiny toy recipe (with one GPU NCCL cannot be exercised:
  one process trains alone and the row says so). The command is `launch.command`'s, a background job's.
* bench:dcgan: `bench.bench_dcgan` (ours against the textbook loop in the same run); target on CUDA
  speedup >= 3.
* sr:x4-1024: the shipped sr_srresnet_x4 upscaling a 1024x1024 picture 4x (`Upscaler.fast()`, the
  default 256-pixel tiles; one 1024 tile beside it); target on CUDA < 1 s.
* anomaly:search: the shipped anomaly_mnist_0 scoring the 500 MNIST-5k test digits with the latent
  search (and the encoder), AUROC beside the time.

On a machine without CUDA the same checks run on the CPU at small sizes (the speed targets do not
apply), the output says so, and the exit code is 0 if they pass. --quick shrinks steps and sizes
further and skips bench:dcgan on the CPU (what tests/test_gpu_check.py runs).
"""
from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from . import launch
from .checkpoint import library_versions
from .devices import describe_devices, resolve_device
from .io import atomic_write_json
from .paths import CONFIGS, REPO, checkpoints_dir

ARCHS = ("dcgan", "cgan", "mlp", "pix2pix", "srresnet", "srgan", "rrdb", "musegan", "anomaly", "cyclegan")
SAMPLE_SEED = 1234
TOL_AMP, TOL_FP32 = 0.05, 5e-3           # mean |device - CPU| of samples
TARGET_DCGAN_SPEEDUP, TARGET_SR_SECONDS = 3.0, 1.0


@dataclass
class Plan:
    device: torch.device
    quick: bool
    work: Path

    @property
    def gpu(self) -> bool:
        return self.device.type == "cuda"

    @property
    def steps(self) -> int:
        if self.gpu:
            return 5 if self.quick else 12
        return 2 if self.quick else 3


class CheckFailed(AssertionError):
    """A check ran and found something wrong (as opposed to crashing)."""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _finite(values: dict[str, float]) -> bool:
    return all(math.isfinite(v) for v in values.values())


def _r(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}") if math.isfinite(x) else x


# ---------------------------------------------------------------- recipes, shrunk

def _tiny(plan: Plan, gpu: dict[str, Any], cpu: dict[str, Any]) -> dict[str, Any]:
    return gpu if plan.gpu else cpu


def arch_recipe(arch: str, plan: Plan):
    """(recipe, data or None) for one architecture: the shipped recipe on a GPU, shrunk to tiny
    widths on the CPU; always `plan.steps` steps and no side effects (no run folder)."""
    from .config import validate_config
    from .lab.toy2d import toy_recipe
    from .recipes import apply_overrides, load_recipe, read_recipe

    steps = {"train.steps": plan.steps, "train.log_every": 1}
    tiny_dcgan = {"model.ngf": 8, "model.ndf": 8, "model.nz": 16, "train.batch_size": 8}
    tiny_sr = {"model.ndf": 4, "model.img_size": 16, "data.photo_scales": [0.5], "train.batch_size": 2}
    data = None
    if arch == "dcgan":
        # on the CPU without its groups: their t-SNE of 4,500 digits alone takes ~20 s on one thread
        # (tests/data/test_clusters.py covers them there); a GPU check trains the recipe as shipped
        cfg = load_recipe(CONFIGS / "mnist_dcgan.yaml", {**_tiny(plan, {}, {
            **tiny_dcgan, "data.clusters": 0, "model.n_classes": 0}), **steps})
    elif arch == "cgan":
        cfg = load_recipe(CONFIGS / "mnist_cgan.yaml", {**_tiny(plan, {}, tiny_dcgan), **steps})
    elif arch == "mlp":
        cfg = toy_recipe("ring8", "nonsaturating", 0, {**_tiny(plan, {}, {
            "model.g_width": 16, "model.d_width": 16, "train.batch_size": 32}), **steps})
    elif arch == "pix2pix":
        cfg = load_recipe(CONFIGS / "pix2pix_digits.yaml", {**_tiny(plan, {}, {  # (the drawings of 4,500 digits: 1.3 s)
            "model.ngf": 4, "model.ndf": 4, "train.batch_size": 4, "data.max_images": 64}), **steps})
    elif arch == "srresnet":
        cfg = load_recipe(CONFIGS / "sr_srresnet_x4.yaml", {**_tiny(plan, {}, {
            "model.width": 4, "model.n_blocks": 1, "model.outer_kernel": 3, **tiny_sr}), **steps})
    elif arch == "srgan":  # on a GPU from the shipped SRResNet (train.init_g), as the recipe says
        init = str(checkpoints_dir() / "sr_srresnet_x4.safetensors")
        cfg = load_recipe(CONFIGS / "sr_srgan_x4.yaml", {**_tiny(plan, {"train.init_g": init}, {
            "train.init_g": None, "model.width": 4, "model.n_blocks": 1, "model.outer_kernel": 3, **tiny_sr}),
            **steps})
    elif arch == "rrdb":  # no shipped recipe trains RRDBNet: sr_srresnet_x4's data and training, its model
        raw = read_recipe(CONFIGS / "sr_srresnet_x4.yaml")
        raw["name"] = "gpu_check_rrdb"
        raw["model"] = {"arch": "rrdb", "scale": 4, "ndf": 32, "img_size": 96,
                        **_tiny(plan, {"num_feat": 64, "num_block": 23, "num_grow_ch": 32},
                                {"num_feat": 8, "num_block": 1, "num_grow_ch": 4})}
        cfg = validate_config(apply_overrides(raw, {**_tiny(plan, {}, tiny_sr), **steps}), "rrdb recipe")
    elif arch == "musegan":  # the chorales of the tests' small cache: the full corpus takes a minute to parse
        from .data.music import chorale_dataset
        cfg = load_recipe(CONFIGS / "music_hybrid.yaml", {**_tiny(plan, {}, {
            "model.z_dim": 4, "model.g_width": 8, "model.d_width": 8, "train.batch_size": 4, "train.k_d": 2}),
            **steps})
        data = chorale_dataset("train", max_chorales=12)
    elif arch == "cyclegan":
        cfg = load_recipe(CONFIGS / "cyclegan_digits.yaml", {**_tiny(plan, {}, {
            "model.img_size": 16, "model.ngf": 4, "model.ndf": 4, "model.n_blocks": 1, "train.batch_size": 4,
            "train.pool_size": 3}), **steps})
    elif arch == "anomaly":
        cfg = load_recipe(CONFIGS / "anomaly_mnist_0.yaml", {
            "gan.train.steps": plan.steps, "encoder.steps": plan.steps, "search.steps": 2 if not plan.gpu else 10,
            **_tiny(plan, {}, {"gan.model.ngf": 8, "gan.model.ndf": 8, "gan.model.nz": 16,
                               "gan.train.batch_size": 8, "encoder.width": 8, "encoder.batch_size": 8})})
    else:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
    return cfg, data


# ---------------------------------------------------------------- samples for a seed

def seeded_inputs(model, n: int, seed: int = SAMPLE_SEED) -> dict[str, Tensor | None]:
    """What a generator of this model section takes, drawn on the CPU from `seed`: noise (and one label
    per sample of a conditional model), a picture (image-to-image), or a picture of each side (CycleGAN)."""
    from .nets import sample_noise
    g = torch.Generator().manual_seed(seed)
    if model.family == "paired":
        if getattr(model, "super_resolution", False):
            side = model.img_size // model.scale
            return {"x": torch.rand(n, model.channels, side, side, generator=g)}
        return {"x": torch.rand(n, model.in_channels, model.img_size, model.img_size, generator=g) * 2 - 1}
    if model.family == "unpaired":
        s = model.img_size
        return {"a": torch.rand(n, model.channels_a, s, s, generator=g) * 2 - 1,
                "b": torch.rand(n, model.channels_b, s, s, generator=g) * 2 - 1}
    z = sample_noise(n, model.nz, model.noise, generator=g)
    return {"z": z, "y": torch.arange(n) % model.n_classes if model.n_classes else None}


@torch.no_grad()
def generate(G: nn.Module, model, inputs: dict[str, Tensor | None], device: torch.device | str = "cpu") -> Tensor:
    """G's output for `inputs` on `device` (float32 on the CPU; both directions of a CycleGAN, flattened)."""
    def on(v):
        return None if v is None else v.to(device)
    if model.family == "paired":
        return G(on(inputs["x"])).float().cpu()
    if model.family == "unpaired":
        return torch.cat([G.direction("a2b")(on(inputs["a"])).float().cpu().flatten(1),
                          G.direction("b2a")(on(inputs["b"])).float().cpu().flatten(1)], 1)
    return G(on(inputs["z"]), on(inputs["y"])).float().cpu()


def cpu_copy(module: nn.Module) -> nn.Module:
    """The in-memory model as a float32, contiguous-layout CPU module in eval mode (a copy)."""
    return copy.deepcopy(module).to("cpu", memory_format=torch.contiguous_format).float().eval()


def compare(a: Tensor, b: Tensor) -> dict[str, float]:
    d = (a.float() - b.float()).abs()
    return {"max_abs": _r(float(d.max())), "mean_abs": _r(float(d.mean()))}


# ---------------------------------------------------------------- train:ARCH

def _timed_steps(trainer, steps: int) -> tuple[dict[str, float], float, float]:
    """Train `steps` steps: (last step's stats, first step's seconds, mean seconds of the others)."""
    start = time.perf_counter()
    stats = trainer.train_step()
    _sync(trainer.device)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps - 1):
        stats = trainer.train_step()
    _sync(trainer.device)
    rest = (time.perf_counter() - start) / max(1, steps - 1)
    return stats, first, rest


def _layout_figures(trainer) -> dict[str, Any]:
    convs = [p for p in trainer.G.parameters() if p.dim() == 4]
    return {"device": str(trainer.device), "amp_bf16": bool(trainer.amp), "channels_last": bool(trainer.channels_last),
            "g_weights_channels_last": bool(convs) and all(p.is_contiguous(memory_format=torch.channels_last)
                                                           for p in convs)}


def _expectations(trainer, plan: Plan) -> list[str]:
    """What real training promises on this device: bf16 autocast on every model on a bf16 CUDA GPU."""
    problems = []
    if plan.gpu and torch.cuda.is_bf16_supported() and not trainer.amp:
        problems.append("bf16 autocast is off on a CUDA GPU that supports it")
    if trainer.channels_last and not _layout_figures(trainer)["g_weights_channels_last"]:
        problems.append("channels_last is on but G's convolution weights are not in that layout")
    return problems


def check_train(arch: str, plan: Plan) -> dict[str, Any]:
    if arch == "anomaly":
        return check_train_anomaly(plan)
    from .sampling import LoadedGenerator, load_generator
    from .train import make_trainer

    cfg, data = arch_recipe(arch, plan)
    trainer = make_trainer(cfg, plan.device, data=data)
    stats, first, per_step = _timed_steps(trainer, cfg.train.steps)
    figures: dict[str, Any] = {"recipe": cfg.name, "steps": trainer.step, "batch": cfg.train.batch_size,
                               "first_step_s": _r(first), "s_per_step": _r(per_step),
                               "losses": {k: _r(v, 6) for k, v in stats.items()}, **_layout_figures(trainer)}
    problems = _expectations(trainer, plan)
    if not _finite(stats):
        problems.append(f"non-finite training figures: {stats}")
    # the round trip: the run's checkpoint, loaded on the CPU, draws what the in-memory model draws there
    start = time.perf_counter()
    ckpt = trainer.save_state(plan.work / f"train_{arch}")
    model = cfg.model
    n = 4
    inputs = seeded_inputs(model, n)
    ref_G = cpu_copy(trainer.sampler())
    loaded = load_generator(ckpt, "cpu")
    if model.family in ("image", "points", "music"):  # the sampling path the CLI and pages use
        labels = inputs["y"]
        mine = LoadedGenerator(ref_G, loaded.card, model, torch.device("cpu"), Path(ckpt)).sample(
            n, SAMPLE_SEED, labels)
        theirs = loaded.sample(n, SAMPLE_SEED, labels)
    else:
        mine, theirs = generate(ref_G, model, inputs), generate(loaded.G, model, inputs)
    figures["roundtrip"] = {"checkpoint": Path(ckpt).name, "samples": tuple(theirs.shape),
                            "bitwise_equal": bool(torch.equal(mine, theirs)), **compare(mine, theirs),
                            "seconds": _r(time.perf_counter() - start)}
    if not torch.equal(mine, theirs):
        problems.append(f"the checkpoint loaded on the CPU draws other samples than the in-memory model "
                        f"(max |diff| {figures['roundtrip']['max_abs']})")
    if not torch.isfinite(theirs).all():
        problems.append("the loaded generator draws non-finite samples")
    # the device's own samples, under the run's autocast, against the CPU's
    if model.family == "paired":
        on_device = trainer.translate(inputs["x"])
    elif model.family == "unpaired":
        on_device = torch.cat([trainer.translate(inputs["a"], "a2b").flatten(1),
                               trainer.translate(inputs["b"], "b2a").flatten(1)], 1)
    else:
        on_device = trainer.sample(inputs["z"], inputs["y"])
    tol = TOL_AMP if trainer.amp else TOL_FP32
    figures["device_vs_cpu"] = {**compare(on_device, theirs), "tolerance_mean_abs": tol}
    if not figures["device_vs_cpu"]["mean_abs"] <= tol:
        problems.append(f"samples on {trainer.device} differ from the CPU's by {figures['device_vs_cpu']['mean_abs']}"
                        f" on average (tolerance {tol})")
    if problems:
        raise CheckFailed("; ".join(problems), figures)
    return figures


def check_train_anomaly(plan: Plan) -> dict[str, Any]:
    """The detector's pipeline (GAN, then the izi_f encoder, then thresholds) on the device; the saved
    detector loaded on the CPU scores fixed digits as the in-memory one copied to the CPU does."""
    from .apps.anomaly import Detector, fit_detector, load_detector, save_detector
    from .data.images import from_uint8, mnist5k
    from .train import Callback

    class LastStep(Callback):  # what the GAN stage's trainer did: its last losses and its layout
        def on_step(self, trainer, stats):
            self.stats, self.layout, self.problems = stats, _layout_figures(trainer), _expectations(trainer, plan)

    recipe, _ = arch_recipe("anomaly", plan)
    last = LastStep()
    start = time.perf_counter()
    det = fit_detector(recipe, plan.device, callbacks=[last], log=lambda *a: None)
    _sync(plan.device)
    fit_s = time.perf_counter() - start
    figures: dict[str, Any] = {"recipe": recipe.name, "steps": det.card["step"],
                               "encoder_steps": recipe.encoder.steps, "fit_s": _r(fit_s),
                               "losses": {k: _r(v, 6) for k, v in last.stats.items()}, **last.layout,
                               "thresholds": det.card["thresholds"]}
    problems = list(last.problems)
    if not _finite(last.stats):
        problems.append(f"non-finite training figures: {last.stats}")
    bad = {k: v for k, v in det.card["thresholds"].items() if not math.isfinite(v)}
    if bad:
        problems.append(f"non-finite thresholds {bad}")
    path = save_detector(det, plan.work / "train_anomaly")
    test = mnist5k("test")
    x = from_uint8(test.images[:8])
    ref = Detector(cpu_copy(det.G), cpu_copy(det.D), cpu_copy(det.E), det.card)
    loaded = load_detector(path, "cpu")
    mine, theirs = ref.score(x, "encoder").score, loaded.score(x, "encoder").score
    figures["roundtrip"] = {"checkpoint": path.name, "scores": len(theirs),
                            "bitwise_equal": bool(torch.equal(mine, theirs)), **compare(mine, theirs)}
    if not torch.equal(mine, theirs):
        problems.append("the detector loaded on the CPU scores other values than the in-memory one")
    if not torch.isfinite(theirs).all():
        problems.append("non-finite encoder scores")
    on_device = det.score(x.to(plan.device), "encoder").score.cpu()
    rel = float(((on_device - theirs).abs() / theirs.abs().clamp_min(1e-6)).max())
    figures["device_vs_cpu"] = {"max_relative": _r(rel), "tolerance_max_relative": 0.01}
    if not rel <= 0.01:
        problems.append(f"encoder scores on {plan.device} differ from the CPU's by {rel:.3g} (relative)")
    if problems:
        raise CheckFailed("; ".join(problems), figures)
    return figures


# ---------------------------------------------------------------- import:rrdb

def check_import_rrdb(plan: Plan) -> dict[str, Any]:
    """Weights in Real-ESRGAN's layout ({'params_ema': state dict}, a tiny RRDBNet made here) through
    import_esrgan, then upscaled on the device and on the CPU."""
    from .apps.superres import import_esrgan, load_upscaler
    from .nets.rrdb import RRDBNet

    torch.manual_seed(0)
    net = RRDBNet(4, 3, 3, num_feat=16, num_block=2, num_grow_ch=8)
    pth = plan.work / "RealESRGAN_tiny_x4.pth"
    torch.save({"params_ema": net.state_dict()}, pth)
    ckpt = import_esrgan(pth, plan.work / "import_rrdb")
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    cpu_out = np.asarray(load_upscaler(ckpt, "cpu").upscale(picture, tile=32), dtype=np.int16)
    up = load_upscaler(ckpt, plan.device).fast()
    start = time.perf_counter()
    dev_out = np.asarray(up.upscale(picture, tile=32), dtype=np.int16)
    figures = {"device": str(plan.device), "precision": up.precision,
               "output": f"{dev_out.shape[1]}x{dev_out.shape[0]}",
               "seconds": _r(time.perf_counter() - start),
               "levels_vs_cpu": {"max": int(np.abs(dev_out - cpu_out).max()),
                                 "mean": _r(float(np.abs(dev_out - cpu_out).mean()))},
               "tolerance_mean_levels": 1.0}
    if dev_out.shape != (192, 256, 3):
        raise CheckFailed(f"expected a 256x192 picture, got {dev_out.shape}", figures)
    if not figures["levels_vs_cpu"]["mean"] <= 1.0:
        raise CheckFailed(f"the device's picture differs from the CPU's by {figures['levels_vs_cpu']['mean']} "
                          "levels on average", figures)
    return figures


# ---------------------------------------------------------------- ddp

def ddp_recipe(plan: Plan, world: int):
    from .lab.toy2d import toy_recipe
    from .recipes import load_recipe
    if plan.gpu:
        return load_recipe(CONFIGS / "mnist_dcgan.yaml", {
            "name": "gpu_check_ddp", "train.steps": 6 if plan.quick else 20, "train.batch_size": 32 * world,
            "train.log_every": 1, "train.sample_every": 1000, "train.checkpoint_every": 3 if plan.quick else 10})
    # the tiny toy model of tests/train/test_ddp.py, in 2 gloo processes
    return toy_recipe("ring8", "nonsaturating", 0, {
        "name": "gpu_check_ddp", "model.g_width": 16, "model.d_width": 16, "train.batch_size": 32,
        "train.steps": 6, "train.log_every": 1, "train.sample_every": 1000, "train.checkpoint_every": 3})


def check_ddp(plan: Plan) -> dict[str, Any]:
    """`torchrun --standalone --nproc_per_node=N -m gan_core train RECIPE` as `launch.command` builds it
    for a background job: N = the GPUs here (NCCL),
    or 2 gloo processes on the CPU; rank 0 alone writes one run folder, every step once, losses finite."""
    import json

    from .recipes import dump_recipe

    world = torch.cuda.device_count() if plan.gpu else 2
    cfg = ddp_recipe(plan, world)
    recipe = plan.work / "ddp.yaml"
    recipe.write_text(dump_recipe(cfg), encoding="utf-8")
    run_dir = plan.work / "ddp_run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if not plan.gpu:
        env["OMP_NUM_THREADS"] = "1"
    # the command a background job of `world` processes runs (one GPU: one process, no torchrun)
    cmd = launch.command(launch.LaunchSpec(nproc_per_node=max(1, world)),
                         ["train", str(recipe), "--run-dir", str(run_dir), "--device", "cuda" if plan.gpu else "cpu",
                          "--quiet"])
    start = time.perf_counter()
    # a session of its own, so a hung run (a collective that never completes) is ended with its workers
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        raise CheckFailed(f"torchrun did not finish in 300 s: {' '.join(cmd[2:])}", {"processes": world}) from None
    seconds = time.perf_counter() - start
    figures: dict[str, Any] = {"processes": world, "backend": ("nccl" if world > 1 else "none (one process)")
                               if plan.gpu else "gloo", "recipe": cfg.name, "steps": cfg.train.steps,
                               "batch": cfg.train.batch_size, "command": " ".join(cmd[2:]), "wall_s": _r(seconds)}
    if plan.gpu and world < 2:
        figures["note"] = "one GPU: a single process without torchrun, so NCCL is not exercised"
    if proc.returncode != 0:
        raise CheckFailed(f"torchrun exited {proc.returncode}: {stderr.strip()[-1500:]}", figures)
    results = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    status = json.loads((run_dir / "status.json").read_text())
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").glob("step_*.safetensors"))
    losses = {k: v for k, v in metrics[-1].items() if k.startswith("loss")} if metrics else {}
    figures.update({"state": status.get("state"), "logged_steps": len(metrics), "checkpoints": ckpts,
                    "last_losses": {k: _r(v, 6) for k, v in losses.items()}})
    problems = []
    if len(results) != 1 or results[0].get("state") != "finished":
        problems.append(f"expected one finished result from rank 0, got {results}")
    if [m.get("step") for m in metrics] != list(range(1, cfg.train.steps + 1)):
        problems.append("metrics.jsonl does not hold each step once (more than one writer?)")
    if not losses or not _finite(losses):
        problems.append(f"last losses not finite: {losses}")
    if not ckpts:
        problems.append("no checkpoint written")
    if problems:
        raise CheckFailed("; ".join(problems), figures)
    return figures


# ---------------------------------------------------------------- bench:dcgan, sr, anomaly search

def check_bench_dcgan(plan: Plan) -> dict[str, Any]:
    """bench.bench_dcgan: our Trainer's DCGAN 64x64 against the textbook loop in the same run, on the
    device the plan checks (`bench dcgan --device cuda` on a GPU machine)."""
    from .bench import bench_dcgan
    want = "cuda:0" if plan.gpu else "cpu"
    rows = list(bench_dcgan(quick=plan.quick or not plan.gpu, device=want))
    mine = [r for r in rows if r["device"] == want]
    if not mine:
        raise CheckFailed(f"bench_dcgan measured no {want} row", {"rows": rows})
    figures: dict[str, Any] = {k: v for k, v in mine[0].items() if k != "bench"}
    if plan.gpu:
        figures["target_speedup"] = TARGET_DCGAN_SPEEDUP
        if not mine[0]["speedup"] >= TARGET_DCGAN_SPEEDUP:
            raise CheckFailed(f"DCGAN 64x64 training is {mine[0]['speedup']}x the textbook loop on {want}; "
                              f"target >= {TARGET_DCGAN_SPEEDUP}x", figures)
    return figures


def _test_picture(side: int) -> Image.Image:
    """A real photo (scikit-image's astronaut) at side x side."""
    from skimage import data
    return Image.fromarray(data.astronaut()).resize((side, side), Image.Resampling.BICUBIC)


def check_sr(plan: Plan) -> dict[str, Any]:
    """The shipped sr_srresnet_x4, as the page runs it (`load_upscaler(...).fast()`, 256-pixel tiles),
    upscaling a 1024x1024 picture 4x on the device (CPU: 256x256, --quick 96x96); the median of a few runs."""
    from .apps.superres import load_upscaler
    side = 1024 if plan.gpu else (64 if plan.quick else 256)
    path = checkpoints_dir() / "sr_srresnet_x4.safetensors"
    up = load_upscaler(path, plan.device).fast()
    picture = _test_picture(side)
    repeats = 3 if plan.gpu else 1

    def median_s(tile: int) -> float:
        if plan.gpu:
            up.upscale(picture, tile=tile)  # warm-up (cuDNN picks its kernels)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            out = up.upscale(picture, tile=tile)
            times.append(time.perf_counter() - start)
        if out.size != (4 * side, 4 * side):
            raise CheckFailed(f"{side}x{side} upscaled to {out.size}")
        return sorted(times)[len(times) // 2]

    figures: dict[str, Any] = {"model": up.name, "device": str(plan.device), "precision": up.precision,
                               "input": f"{side}x{side}", "output": f"{4 * side}x{4 * side}",
                               "seconds": _r(median_s(256))}
    if plan.gpu:
        figures["seconds_one_tile"] = _r(median_s(side))
    # the device's picture against the CPU's float32 one, on a crop
    crop = picture.crop((0, 0, 32, 32) if plan.quick and not plan.gpu else (0, 0, 64, 64))
    a = np.asarray(up.upscale(crop), dtype=np.int16)
    b = np.asarray(load_upscaler(path, "cpu").upscale(crop), dtype=np.int16)
    figures["levels_vs_cpu_float32"] = {"max": int(np.abs(a - b).max()), "mean": _r(float(np.abs(a - b).mean())),
                                        "tolerance_mean": 1.0}
    problems = []
    if not figures["levels_vs_cpu_float32"]["mean"] <= 1.0:
        problems.append(f"the device's picture differs from the CPU's by {figures['levels_vs_cpu_float32']['mean']} "
                        "levels on average")
    if plan.gpu:
        figures["target_seconds"] = TARGET_SR_SECONDS
        if not figures["seconds"] < TARGET_SR_SECONDS:
            problems.append(f"SR x4 of 1024x1024 took {figures['seconds']} s; target < {TARGET_SR_SECONDS} s")
    if problems:
        raise CheckFailed("; ".join(problems), figures)
    return figures


def check_anomaly_search(plan: Plan) -> dict[str, Any]:
    """The shipped anomaly_mnist_0 on the device: the latent search (its card's 500 Adam steps) and the
    encoder over the 500 MNIST-5k test digits; time and AUROC of each (CPU: fewer digits and steps)."""
    from .apps.anomaly import builtin_test_set, load_detector
    from .metrics.anomaly import auroc
    det = load_detector(checkpoints_dir() / "anomaly_mnist_0.safetensors", plan.device)
    test = builtin_test_set(det)
    n, search = (len(test.x), {}) if plan.gpu else ((20, {"steps": 5}) if plan.quick else (100, {"steps": 50}))
    pick = torch.arange(len(test.x)) if n == len(test.x) else \
        torch.randperm(len(test.x), generator=torch.Generator().manual_seed(0))[:n]
    x, labels = test.x[pick].to(plan.device), test.labels[pick]
    figures: dict[str, Any] = {"model": det.card.get("name"), "device": str(plan.device), "digits": n,
                               "anomalous": int(labels.sum()),
                               "search_steps": search.get("steps", det.card["search"]["steps"])}
    for method, extra in (("encoder", {}), ("anogan", search)):
        det.score(x[:2], method, **({"steps": 1} if method == "anogan" else {}))  # warm-up
        _sync(plan.device)
        start = time.perf_counter()
        scores = det.score(x, method, **extra).score
        _sync(plan.device)
        seconds = time.perf_counter() - start
        scores = scores.float().cpu()
        if not torch.isfinite(scores).all():
            raise CheckFailed(f"non-finite {method} scores", figures)
        figures[method] = {"seconds": _r(seconds), "ms_per_image": _r(1000 * seconds / n),
                           "auroc": _r(auroc(scores, labels)) if 0 < int(labels.sum()) < n else None}
    return figures


# ---------------------------------------------------------------- running them

def all_checks(plan: Plan) -> list[tuple[str, Callable[[], dict[str, Any]], str | None]]:
    """(name, check, reason to skip or None), in order."""
    checks: list[tuple[str, Callable[[], dict[str, Any]], str | None]] = [
        (f"train:{arch}", (lambda a=arch: check_train(a, plan)), None) for arch in ARCHS]
    checks += [
        ("import:rrdb", lambda: check_import_rrdb(plan), None),
        ("ddp", lambda: check_ddp(plan), None),
        ("bench:dcgan", lambda: check_bench_dcgan(plan),
         "--quick on a CPU: bench dcgan trains 64x64 pictures in batches of 64"
         if plan.quick and not plan.gpu else None),
        ("sr:x4-1024", lambda: check_sr(plan), None),
        ("anomaly:search", lambda: check_anomaly_search(plan), None),
    ]
    return checks


def run_check(name: str, fn: Callable[[], dict[str, Any]], skip: str | None, device: torch.device) -> dict[str, Any]:
    if skip:
        return {"name": name, "ok": None, "skipped": skip, "seconds": 0.0, "figures": {}, "error": None}
    start = time.perf_counter()
    row: dict[str, Any] = {"name": name, "ok": True, "seconds": 0.0, "figures": {}, "error": None}
    try:
        row["figures"] = fn()
    except CheckFailed as e:
        row.update(ok=False, error=str(e.args[0]), figures=e.args[1] if len(e.args) > 1 else {})
    except Exception as e:  # noqa: BLE001 - a crash is this check's result; the others still run
        row.update(ok=False, error=f"{type(e).__name__}: {e}",
                   traceback="".join(traceback.format_exception(e))[-4000:])
    finally:
        row["seconds"] = round(time.perf_counter() - start, 2)
        if device.type == "cuda":
            row["figures"]["peak_gpu_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
    return row


def machine_info(device: torch.device) -> dict[str, Any]:
    info = {"host": platform.node(), "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "threads": torch.get_num_threads(), "devices": describe_devices(), "versions": library_versions(),
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["bf16"] = torch.cuda.is_bf16_supported()
    return info


def run(out: Path, device: str = "auto", quick: bool = False, only: list[str] | None = None,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    dev = resolve_device(device)
    if dev.type == "mps":  # the check is for CUDA machines; elsewhere it is the CPU's
        dev = torch.device("cpu")
    started = time.perf_counter()
    report: dict[str, Any] = {
        "check": "gpu_check", "device": str(dev), "gpu": dev.type == "cuda", "quick": quick,
        "note": None if dev.type == "cuda" else "no CUDA GPU used: CPU parts only, at small sizes; the speed "
                                                 "targets apply on a GPU",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine_info(dev),
        "targets": {"dcgan_speedup_vs_textbook": TARGET_DCGAN_SPEEDUP, "sr_x4_1024_seconds": TARGET_SR_SECONDS},
        "tolerances": {"roundtrip": "bitwise equal (torch.equal) on the CPU",
                       "device_vs_cpu_mean_abs": {"bf16": TOL_AMP, "float32": TOL_FP32}},
        "checks": [], "ok": True, "seconds": 0.0}
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as work:
        plan = Plan(dev, quick, Path(work))
        checks = all_checks(plan)
        if only:
            unknown = sorted(set(only) - {name for name, _, _ in checks})
            if unknown:
                raise ValueError(f"unknown check(s) {', '.join(unknown)}; known: "
                                 + ", ".join(name for name, _, _ in checks))
            checks = [c for c in checks if c[0] in only]
        if report["note"]:
            log(f"gpu_check: {report['note']}")
        for name, fn, skip in checks:
            row = run_check(name, fn, skip, dev)
            report["checks"].append(row)
            report["ok"] = all(r["ok"] is not False for r in report["checks"])
            report["seconds"] = round(time.perf_counter() - started, 1)
            atomic_write_json(out, report)
            state = "skipped" if row["ok"] is None else "ok" if row["ok"] else "FAILED"
            log(f"gpu_check: {name:<16} {state:<7} {row['seconds']:7.1f} s"
                + (f"  {row['error']}" if row["error"] else f"  ({row['skipped']})" if row.get("skipped") else ""))
    report["seconds"] = round(time.perf_counter() - started, 1)
    atomic_write_json(out, report)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gan_core.gpu_check",
                                description="Train every architecture a few steps on the GPU (bf16, channels_last), "
                                            "round-trip checkpoints to the CPU, DDP through torchrun, and the speed "
                                            "targets; one JSON file of figures. Without CUDA: the CPU parts.")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"],
                   help="auto: CUDA when there is a GPU, else the CPU (default)")
    p.add_argument("--quick", action="store_true", help="fewer steps, smaller sizes (the test's setting)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these checks (e.g. train:dcgan ddp)")
    args = p.parse_args(argv)
    try:
        report = run(args.out, args.device, args.quick, args.only)
    except ValueError as e:  # an unknown check name, or --device cuda without a GPU (DeviceError)
        print(f"gpu_check: {e}", file=sys.stderr)
        return 2
    failed = [r["name"] for r in report["checks"] if r["ok"] is False]
    print(f"gpu_check: {len(report['checks']) - len(failed)} of {len(report['checks'])} checks passed or skipped "
          f"in {report['seconds']} s on {report['device']}; figures in {args.out}"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    if not report["gpu"]:
        print("gpu_check: no CUDA GPU here; the GPU parts ran on the CPU at small sizes (no speed targets)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
