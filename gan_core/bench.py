"""python -m gan_core bench AREA: speed and quality figures, one JSON object per line."""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Iterator

import torch
from PIL import Image, ImageDraw

from .apps.anomaly import evaluate_texture, fit_detector
from .apps.cyclegan import evaluate_translator, load_translator
from .apps.music import data_metrics, evaluate_music, load_music_generator, render_wav
from .apps.pix2pix import evaluate_sketcher, load_sketcher
from .apps.superres import evaluate_upscaler, load_upscaler, self_ensemble, upscale_image
from .checkpoint import list_checkpoints
from .config import SR_ARCHS, build_gan
from .data.images import ImageData, mnist5k
from .data.textures import TEXTURES
from .data.toy import get_toy
from .devices import describe_devices
from .lab import one_thread
from .lab.toy2d import ToyLab, toy_recipe
from .losses import LOSSES
from .metrics.anomaly import auprc, auroc
from .metrics.toy import toy_report
from .paths import CONFIGS
from .recipes import load_recipe
from .pages_bench import bench_pages
from .serve_bench import bench_serve
from .train import Trainer


def machine() -> dict:
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def sgemm_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Peak single-precision matmul rate of this machine, now (the yardstick for efficiency)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - start) / 1e9


TOY_BENCH_DATASETS = ("ring8", "grid25")


def bench_toy(quick: bool = False, datasets: list[str] | None = None, losses: list[str] | None = None
              ) -> Iterator[dict]:
    """Per loss and dataset over seeds with the default recipe: mean modes, HQ share and W1; then the
    training speed of the default model against the same run's sgemm rate."""
    datasets, losses = datasets or list(TOY_BENCH_DATASETS), losses or list(LOSSES)
    for name, given, known in (("dataset", datasets, TOY_BENCH_DATASETS), ("loss", losses, LOSSES)):
        for g in given:
            if g not in known:
                raise ValueError(f"unknown {name} {g!r}; choose from: {', '.join(known)}")
    seeds = range(2 if quick else 10)
    steps = 500 if quick else None
    for dataset in datasets:
        data = get_toy(dataset)
        for loss in losses:
            cfgs = [toy_recipe(dataset, loss, seed) for seed in seeds]
            lab = ToyLab(cfgs, data)
            n = steps or cfgs[0].train.steps
            start = time.perf_counter()
            with one_thread():
                lab.train(n)
            elapsed = time.perf_counter() - start
            reports = [toy_report(x, data, seed=i) for i, x in enumerate(lab.sample(2500, seed=123))]
            # means over the seeds that did not diverge (JSON has no NaN); "diverged" counts the others
            mean = {k: _mean([r[k] for r in reports if math.isfinite(r.get(k, math.nan))])
                    for k in ("modes", "hq", "w1")}
            yield {"bench": "toy-quality", "dataset": dataset, "loss": loss, "seeds": len(cfgs), "steps": n,
                   "modes": mean["modes"], "n_modes": len(data.modes), "hq": mean["hq"],
                   "w1": mean["w1"], "diverged": sum(d is not None for d in lab.diverged),
                   "per_seed_modes": [r.get("modes") for r in reports], "train_seconds": round(elapsed, 1)}
    yield from bench_toy_speed(quick)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


CLASSIC = ("minimax", "nonsaturating", "wgan", "wgan-gp")  # the Toy Lab's classic comparison


def _steps_per_s(lab: ToyLab, steps: int, warmup: int = 3, repeats: int = 3) -> float:
    """Training steps per second of `lab` on this thread: the best of `repeats` runs of `steps`
    (the machine may be shared: the best run is the one least disturbed)."""
    lab.train(warmup)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        lab.train(steps)
        best = min(best, time.perf_counter() - start)
    return steps / best


def bench_toy_comparison(quick: bool = False) -> Iterator[dict]:
    """Four configurations side by side against one alone, on one thread (the app's setting).

    Rows: the classic comparison (CLASSIC with their papers' settings: WGAN and WGAN-GP take k = 5
    critic steps per generator step, WGAN-GP a gradient penalty) and four default models (seeds 0-3).
    Side by side the models advance together, one step each per lab step, so each advances at the
    lab's rate; `ratio` = that rate / the rate of the default model (nonsaturating) alone, and
    `ratio_to_alone` per model = that rate / the model's own rate alone. `flop_ratio` is the lab's
    matmul FLOPs per step over the single model's: at equal arithmetic speed, ratio = 1/flop_ratio."""
    data = get_toy("ring8")
    steps, repeats = (6, 1) if quick else (60, 3)  # quick: ~2 s on 2 idle cores, for a look (and the tests)

    def lab_of(losses: list[str], seeds: list[int]) -> ToyLab:
        return ToyLab([toy_recipe("ring8", loss, seed) for loss, seed in zip(losses, seeds)], data)

    with one_thread():
        peak = sgemm_gflops(1024, 5)
        single = lab_of(["nonsaturating"], [0])
        base = _steps_per_s(single, 4 * steps, repeats=repeats)
        for case, losses, seeds in (("classic", list(CLASSIC), [0] * 4), ("4x-default", ["nonsaturating"] * 4,
                                                                             [0, 1, 2, 3])):
            lab = lab_of(losses, seeds)
            rate = _steps_per_s(lab, steps, repeats=repeats)
            alone = {loss: round(_steps_per_s(lab_of([loss], [0]), 2 * steps, repeats=repeats), 1)
                     for loss in dict.fromkeys(losses)}
            yield {"bench": "toy-comparison", "case": case, "models": losses, "batch": lab.cfgs[0].train.batch_size,
                   "threads": torch.get_num_threads(), "single_steps_per_s": round(base, 1),
                   "steps_per_s_per_model": round(rate, 1), "ratio": round(rate / base, 3),
                   "alone_steps_per_s": alone, "ratio_to_alone": {k: round(rate / v, 3) for k, v in alone.items()},
                   "flop_ratio": round(lab.flops_per_step() / single.flops_per_step(), 2),
                   "gflops": round(lab.flops_per_step() * rate / 1e9, 1),
                   "single_gflops": round(single.flops_per_step() * base / 1e9, 1), "sgemm_gflops": round(peak, 1)}


def bench_toy_speed(quick: bool = False) -> Iterator[dict]:
    """Steps/s and GFLOP/s of the default 2D model (nonsaturating, ring8) in the lab, against a
    textbook autograd loop of the same model (the Trainer) and the same run's sgemm rate; then four
    models side by side against one alone (bench_toy_comparison).

    Each figure is taken twice: on one thread against one-thread sgemm (the app's setting: on a
    machine also serving pages and rendering, threads fight; see lab.one_thread), and on all
    cores against all-core sgemm."""
    data = get_toy("ring8")
    steps = 30 if quick else 500  # quick: a look at the figures (and the tests), a few seconds

    def timed(step) -> float:
        for _ in range(20):
            step()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - start) / steps

    for threads in (one_thread, nullcontext):
        with threads():
            peak = sgemm_gflops(1024, 5) if quick else sgemm_gflops()
            for models, batch in ((1, 256), (4, 256), (1, 512)):
                cfgs = [toy_recipe("ring8", "nonsaturating", seed, [f"train.batch_size={batch}"])
                        for seed in range(models)]
                lab = ToyLab(cfgs, data)
                dt = timed(lambda: lab.train(1))
                gflops = lab.flops_per_step() / dt / 1e9
                row = {"bench": "toy-speed", "models": models, "batch": batch, "width": cfgs[0].model.g_width,
                       "depth": cfgs[0].model.g_depth, "threads": torch.get_num_threads(),
                       "lab_ms_per_step": round(dt * 1e3, 3), "lab_gflops": round(gflops, 1),
                       "sgemm_gflops": round(peak, 1), "lab_fraction_of_sgemm": round(gflops / peak, 3)}
                if models == 1:
                    tr = Trainer(cfgs[0], "cpu", data=data)
                    dt_ref = timed(tr.train_step)
                    row.update({"autograd_ms_per_step": round(dt_ref * 1e3, 3),
                                "autograd_fraction_of_sgemm": round(lab.flops_per_step() / dt_ref / 1e9 / peak, 3),
                                "speedup": round(dt_ref / dt, 2)})
                yield row
    yield from bench_toy_comparison(quick)


def _reference_dcgan_step(G, D, opt_G, opt_D, x: torch.Tensor, nz: int) -> None:
    """One step of the textbook DCGAN loop (as in the PyTorch DCGAN tutorial): BCE on sigmoid
    outputs, real and fake through D separately, G's fakes through D twice, zero_grad() before
    each backward."""
    bce = torch.nn.BCELoss()
    n = len(x)
    ones, zeros = torch.ones(n, device=x.device), torch.zeros(n, device=x.device)
    D.zero_grad()
    err_real = bce(torch.sigmoid(D(x)).view(-1), ones)
    err_real.backward()
    fake = G(torch.randn(n, nz, device=x.device))
    err_fake = bce(torch.sigmoid(D(fake.detach())).view(-1), zeros)
    err_fake.backward()
    opt_D.step()
    G.zero_grad()
    err_g = bce(torch.sigmoid(D(fake)).view(-1), ones)
    err_g.backward()
    opt_G.step()


def bench_dcgan(quick: bool = False, device: str | None = None) -> Iterator[dict]:
    """Training images/s of our DCGAN 64x64 (batch 64, nz 100, ngf = ndf = 64) through the Trainer,
    against the textbook loop of the same networks in the same run, on each device here (--device:
    only that one, cpu or cuda). Both train on the same in-memory pictures (random, the speed does
    not depend on them)."""
    here = [d["device"] for d in describe_devices() if d["device"] in ("cpu", "cuda:0")]
    if device is not None:
        want = {"cpu": "cpu", "cuda": "cuda:0", "cuda:0": "cuda:0"}.get(device)
        if want is None:
            raise ValueError(f"bench dcgan measures cpu or cuda, not {device!r}")
        if want not in here:
            raise ValueError(f"bench dcgan --device {device}: there is no CUDA device here")
        here = [want]
    cfg = load_recipe(None, ["model.img_size=64", "model.channels=3", "model.nz=100", "model.ngf=64",
                             "model.ndf=64", "train.batch_size=64", "train.loss=nonsaturating"])
    images = torch.randint(0, 256, (512, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    data = ImageData(images, None, "random")
    steps, warmup = (3, 1) if quick else (20, 3)
    fp32 = cfg.model_copy(update={"train": cfg.train.model_copy(update={"amp": False})})
    for dev in here:
        tr = Trainer(cfg, dev, data=data)
        tr_fp32 = Trainer(fp32, dev, data=data)
        torch.manual_seed(0)
        G, D = build_gan(cfg.model)
        G, D = G.to(dev), D.to(dev)
        opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        x = data.batch(torch.arange(64))[0].to(dev)

        def ours() -> None:
            tr.train_step()

        def ours_fp32() -> None:
            tr_fp32.train_step()

        def textbook() -> None:
            _reference_dcgan_step(G, D, opt_G, opt_D, x, cfg.model.nz)

        rates = {}
        for name, fn in (("ours", ours), ("textbook", textbook), ("ours_fp32", ours_fp32), ("ours_again", ours)):
            for _ in range(warmup):
                fn()
            if dev.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            if dev.startswith("cuda"):
                torch.cuda.synchronize()
            rates[name] = 64 * steps / (time.perf_counter() - start)
        ours_rate = max(rates["ours"], rates["ours_again"])  # measured before and after the reference
        yield {"bench": "dcgan-speed", "device": dev, "img_size": 64, "batch": 64, "steps": steps,
               "threads": torch.get_num_threads(), "ours_images_s": round(ours_rate, 1),
               "textbook_images_s": round(rates["textbook"], 1),
               "speedup": round(ours_rate / rates["textbook"], 2),
               "amp_bf16": bool(tr.amp), "channels_last": tr.channels_last, "fused_d": tr.fuse_d,
               # the same Trainer without autocast: what channels_last and the loop alone give
               "ours_fp32_images_s": round(rates["ours_fp32"], 1),
               "fp32_speedup": round(rates["ours_fp32"] / rates["textbook"], 2)}


def bench_music(quick: bool = False, checkpoints: str = "checkpoints") -> Iterator[dict]:
    """MuseGAN's metrics of each shipped music model (1,000 samples; 200 with --quick) and of the
    training and validation chorales; then the time to generate 4 bars and render them to audio."""
    rounded = lambda m: {k: round(v, 4) for k, v in m.items()}  # noqa: E731
    for split in ("train", "validation"):
        yield {"bench": "music", "music": f"bach_{split}", **rounded(data_metrics(split))}
    models = [(p, c) for p, c in list_checkpoints(Path(checkpoints), kinds=("gan",))
              if (c.get("model") or {}).get("arch") == "musegan"]
    for path, card in models:
        mg = load_music_generator(path)
        yield {"bench": "music", "music": card["name"], "design": mg.design, "steps": card.get("step"),
               **rounded(evaluate_music(mg, n=200 if quick else 1000))}
    for path, card in models:
        mg = load_music_generator(path)
        mg.sample(0)  # warm-up
        times = []
        for seed in range(3 if quick else 10):
            start = time.perf_counter()
            roll = mg.sample(seed)[0]
            _, synth = render_wav(roll)
            times.append(time.perf_counter() - start)
        yield {"bench": "music-speed", "music": card["name"], "synth": synth,
               "generate_and_render_4_bars_s": round(sorted(times)[len(times) // 2], 4),
               "worst_s": round(max(times), 4)}


def bench_anomaly(quick: bool = False, protocols: list[str] | None = None, digits: list[str] | None = None
                  ) -> Iterator[dict]:
    """Per MNIST-5k digit and protocol: train a detector from configs/anomaly_mnist_0.yaml, score the
    500 held-out test digits with the encoder and with the latent search; AUROC, AUPRC and the
    time per image of each; then the mean AUROC per protocol and method."""
    protocols = protocols or ["one-normal", "one-anomalous"]
    for p in protocols:
        if p not in ("one-normal", "one-anomalous"):
            raise ValueError(f"unknown protocol {p!r}; choose one-normal or one-anomalous")
    classes = [int(d) for d in digits] if digits else list(range(10))
    recipe_path = CONFIGS / "anomaly_mnist_0.yaml"
    test = mnist5k("test")
    x, y = test.batch(torch.arange(len(test)))
    quick_sets = ["gan.train.steps=300", "encoder.steps=200", "search.steps=100"] if quick else []
    for protocol in protocols:
        results: dict[str, list[float]] = {"encoder": [], "anogan": []}
        for k in classes:
            which = [f"gan.data.classes=[{k}]"] if protocol == "one-normal" else \
                ["gan.data.classes=null", f"gan.data.exclude_classes=[{k}]"]
            recipe = load_recipe(recipe_path, [*which, f"name=anomaly_mnist_{protocol}_{k}", *quick_sets])
            start = time.perf_counter()
            det = fit_detector(recipe, "cpu", log=lambda *a: None)
            train_s = time.perf_counter() - start
            labels = (y != k) if protocol == "one-normal" else (y == k)
            row = {"bench": "anomaly", "protocol": protocol, "digit": k, "train_s": round(train_s, 1)}
            for method in ("encoder", "anogan"):
                start = time.perf_counter()
                scores = det.score(x, method).score
                row[f"{method}_ms_per_image"] = round(1000 * (time.perf_counter() - start) / len(x), 4)
                row[f"auroc_{method}"] = round(auroc(scores, labels), 4)
                row[f"auprc_{method}"] = round(auprc(scores, labels), 4)
                results[method].append(row[f"auroc_{method}"])
            row["speedup"] = round(row["anogan_ms_per_image"] / row["encoder_ms_per_image"], 1)
            yield row
        yield {"bench": "anomaly-summary", "protocol": protocol, "classes": len(results["encoder"]),
               **{f"mean_auroc_{m}": round(sum(v) / len(v), 4) for m, v in results.items()}}


def bench_anomaly_texture(quick: bool = False) -> Iterator[dict]:
    """Per texture: train a detector from configs/anomaly_brick.yaml (texture swapped), then image and
    pixel AUROC of both methods on 200 test patches (half with cut-paste, scratch or foreign-texture
    defects)."""
    recipe_path = CONFIGS / "anomaly_brick.yaml"
    quick_sets = ["gan.train.steps=300", "encoder.steps=200", "search.steps=100"] if quick else []
    for name in TEXTURES:
        recipe = load_recipe(recipe_path, [f"gan.data.texture={name}", f"name=anomaly_{name}", *quick_sets])
        start = time.perf_counter()
        det = fit_detector(recipe, "cpu", log=lambda *a: None)
        yield {"bench": "anomaly-texture", "texture": name, "train_s": round(time.perf_counter() - start, 1),
               **{k: round(v, 4) for k, v in evaluate_texture(det).items()}}


def _shipped(checkpoints: str, arch: tuple[str, ...]):
    return [(p, c) for p, c in list_checkpoints(Path(checkpoints), kinds=("gan",))
            if (c.get("model") or {}).get("arch") in arch]


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def bench_pix2pix(quick: bool = False, checkpoints: str = "checkpoints") -> Iterator[dict]:
    """Per shipped Pix2Pix model: time of a 256x256 canvas sketch -> picture, thinning included, at the
    size the page works at (median of 20), then its held-out figures (apps.pix2pix.evaluate_sketcher):
    for the digit model the share of MNIST-5k test digits the metric classifier reads as the digit
    whose skeleton was drawn."""
    canvas = Image.new("L", (256, 256), 255)  # what the page's canvas hands over: strokes on 256x256
    ImageDraw.Draw(canvas).line([(40, 200), (128, 50), (216, 200), (70, 140), (190, 140)], fill=0, width=9)
    for path, card in _shipped(checkpoints, ("pix2pix",)):
        sk = load_sketcher(path)
        size = sk.work_size() if sk.data.name == "mnist5k" else sk.work_size(256)  # as the page does
        drawing = sk.drawing(canvas, size)
        total = _median_seconds(lambda: sk.translate(sk.drawing(canvas, size)), 5 if quick else 20)
        net = _median_seconds(lambda: sk.translate(drawing), 5 if quick else 20)
        row = {"bench": "pix2pix", "model": path.stem, "canvas": "256x256", "works_at": f"{size}x{size}",
               "ms_sketch_to_image": round(total * 1000, 1), "ms_network": round(net * 1000, 1)}
        row.update(evaluate_sketcher(sk, 100 if quick else None))
        yield row


def bench_sr(quick: bool = False, checkpoints: str = "checkpoints") -> Iterator[dict]:
    """Per shipped super-resolution model and bicubic: PSNR / SSIM (Y, border = scale) on the held-out
    china and flower pictures, shrunk by the training degradation; time of a 256x256 upscale; and
    (not --quick) the peak memory of upscaling a 4000x3000 picture 4x, in a fresh process."""
    models = [load_upscaler(p) for p, _ in _shipped(checkpoints, SR_ARCHS)]
    x4 = sorted((m for m in models if m.scale == 4), key=lambda m: "srresnet" not in m.name)
    for m in models:
        yield {"bench": "sr", "model": m.name, "scale": m.scale, **evaluate_upscaler(m)}
    if x4:  # the same model with EDSR's self-ensemble: what eight passes buy
        yield {"bench": "sr", "model": x4[0].name, "scale": 4, "self_ensemble": True,
               **evaluate_upscaler(x4[0], ensemble=True)}
    picture = Image.fromarray(torch.randint(0, 256, (256, 256, 3), dtype=torch.uint8).numpy())
    for m in models:
        seconds = _median_seconds(lambda: m.upscale(picture), 2 if quick else 5)
        yield {"bench": "sr-speed", "model": m.name, "scale": m.scale, "input": "256x256",
               "seconds": round(seconds, 3)}
    if x4:
        seconds = _median_seconds(lambda: upscale_image(picture, self_ensemble(x4[0]), 4), 2 if quick else 3)
        yield {"bench": "sr-speed", "model": x4[0].name, "scale": 4, "self_ensemble": True, "input": "256x256",
               "seconds": round(seconds, 3)}
    if x4 and not quick:
        code = ("import resource, sys, time, numpy as np, torch\n"
                "from PIL import Image\nfrom gan_core.apps.superres import load_upscaler\n"
                "torch.set_num_threads(%d)\n"
                "img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8))\n"
                "t = time.perf_counter(); out = load_upscaler(sys.argv[1]).upscale(img, tile=256)\n"
                "print(out.size[0], out.size[1], time.perf_counter() - t, "
                "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n") % torch.get_num_threads()
        done = subprocess.run([sys.executable, "-c", code, str(x4[0].net.path)], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"the 4000x3000 upscale failed: {done.stderr.strip()[-500:]}")
        w, h, seconds, rss_kb = done.stdout.split()
        yield {"bench": "sr-memory", "model": x4[0].name, "input": "4000x3000", "output": f"{w}x{h}",
               "seconds": round(float(seconds), 1), "peak_rss_gb": round(int(rss_kb) / 2**20, 3)}


def bench_cyclegan(quick: bool = False, checkpoints: str = "checkpoints") -> Iterator[dict]:
    """Per shipped digits CycleGAN: held-out label preservation both ways (apps.cyclegan.evaluate_translator;
    the card's train.cycle_weight tells the models with and without the cycle loss apart), and for the
    strokes model pix2pix_digits' recognised rate on the same 500 held-out strokes beside it. Then CPU
    time (median) of one 256x256 picture through a 9-block, 64-wide ResNet generator, the official
    size, in float32, channels_last and bf16 autocast; and of one 32x32 digit through each shipped model."""
    shipped = _shipped(checkpoints, ("cyclegan",))
    translators = [load_translator(p) for p, _ in shipped]
    pix2pix = {p.stem: p for p, _ in _shipped(checkpoints, ("pix2pix",))}
    for tr in translators:
        if not tr.is_digits:
            continue
        row = {"bench": "cyclegan", "model": tr.name, "cycle_weight": tr.train.get("cycle_weight"),
               "a": tr.side_name("a"), "b": tr.side_name("b"), **evaluate_translator(tr)}
        if tr.source("a") == "mnist5k_strokes" and "pix2pix_digits" in pix2pix:
            row["pix2pix_digits_recognised"] = evaluate_sketcher(load_sketcher(pix2pix["pix2pix_digits"]))["recognised"]
        yield row
    from .nets.cyclegan import ResnetGenerator
    G = ResnetGenerator(3, 3, 64, 9).eval()
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    repeats = 3 if quick else 7
    for variant in ("float32", "channels_last", "bf16") if not quick else ("float32",):
        net, inp = G, x
        if variant != "float32":
            net, inp = G.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
        amp = torch.autocast("cpu", dtype=torch.bfloat16) if variant == "bf16" else nullcontext()

        def once() -> None:
            with torch.no_grad(), amp:
                net(inp)
        yield {"bench": "cyclegan-speed", "generator": "resnet_9blocks ngf 64", "input": "256x256",
               "variant": variant, "seconds": round(_median_seconds(once, repeats), 3)}
    for tr in translators:
        if tr.model.img_size <= 64:
            digit = torch.rand(1, tr.channels("a"), tr.model.img_size, tr.model.img_size) * 2 - 1
            yield {"bench": "cyclegan-speed", "model": tr.name, "input": f"{tr.model.img_size}x{tr.model.img_size}",
                   "ms": round(_median_seconds(lambda: tr.run(digit, "a2b"), 20) * 1000, 2)}


AREAS = {"toy": bench_toy, "toy-speed": bench_toy_speed, "dcgan": bench_dcgan, "music": bench_music,
         "anomaly": bench_anomaly, "anomaly-texture": bench_anomaly_texture, "pix2pix": bench_pix2pix,
         "sr": bench_sr, "serve": bench_serve, "cyclegan": bench_cyclegan,
         "pages": bench_pages}


def run(area: str, quick: bool = False, **choices) -> Iterator[str]:
    """choices narrow an area: datasets=, losses= (toy); protocols=, digits= (anomaly)."""
    if area not in AREAS:
        raise ValueError(f"unknown benchmark area {area!r}; choose one of: {', '.join(AREAS)}")
    info = machine()
    allowed = {"toy": ("datasets", "losses"), "anomaly": ("protocols", "digits"), "pages": ("shots",), "serve": ("actions",),
               "dcgan": ("device",)}.get(area, ())
    unknown = sorted(set(choices) - set(allowed))
    if unknown:
        raise ValueError(f"bench {area} takes no --{unknown[0]}")
    rows = AREAS[area](quick, **choices)
    for row in rows:
        yield json.dumps({**row, "machine": info})
