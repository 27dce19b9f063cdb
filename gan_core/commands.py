"""The CLI's commands (`python -m gan_core ...`): each reads its arguments, calls gan_core, prints JSON.
gan_core/cli.py holds the parser and loads this module only once a command is known, so that
`--help` answers at once instead of after torch and every pipeline are imported."""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm, trange

from . import __version__, jobs, launch
from .cli import CLIError
from .apps import music
from .apps.anomaly import TrainingStopped, fit_detector, load_detector, save_detector
from .apps.cyclegan import Translator, evaluate_translator, import_official_cyclegan, load_translator
from .apps.pix2pix import evaluate_sketcher, import_official_pix2pix, load_sketcher
from .apps.superres import (Upscaler, bicubic_upscaler, evaluate_upscaler, import_esrgan, load_upscaler,
                            self_ensemble, upscale_image)
from .checkpoint import library_versions, read_card, read_checkpoint, save_checkpoint
from .config import AnomalyRecipe, ClassifierRecipe
from .data.images import ImageError, decode_image, from_uint8, to_tensor_image
from .data.music import chorale_dataset
from .data.toy import get_toy
from .devices import describe_devices
from .errors import USER_ERRORS
from .lab import one_thread
from .lab.toy2d import ToyLab, toy_recipe
from .metrics.toy import toy_report
from .recipes import dump_recipe, load_recipe
from .runs import RunDir
from .sampling import grid_image, load_generator
from .train import ddp, make_trainer
from .train.callbacks import ProgressBar, standard_callbacks
from .train.classifier import fit_classifier

KNOWN_ERRORS = (CLIError, *USER_ERRORS)


# ---------------------------------------------------------------- train

def cmd_train(args: argparse.Namespace) -> int:
    if args.data_root:
        args.set = [f"data.root={args.data_root}", *args.set]
    if args.resume:
        run = RunDir(args.resume)
        if not (run.path / "config.yaml").exists():
            raise CLIError(f"{run.path} is not a run folder (no config.yaml)")
        cfg = load_recipe(args.config or run.path / "config.yaml", args.set)
    else:
        if not args.config:
            raise CLIError("give a recipe (CONFIG.yaml) or --resume RUN_DIR")
        cfg = load_recipe(args.config, args.set)
    made_by = f"python -m gan_core train {args.config}" + "".join(f" --set {s}" for s in args.set) \
        + f" --out {args.out}"

    if isinstance(cfg, ClassifierRecipe):
        if not args.out:
            raise CLIError("a classifier recipe needs --out PATH for the trained model")
        _, metrics = fit_classifier(cfg, args.device, args.out, progress=not args.quiet)
        print(json.dumps({"out": str(args.out), **metrics}))
        return 0
    if isinstance(cfg, AnomalyRecipe) and not args.resume:
        return _detector_in_memory(cfg, args, made_by)

    world = ddp.setup(args.device)  # under torchrun: join the other processes; alone: nothing
    try:
        # on several machines each reads its own copy of the recipe: a different copy would train
        # silently wrong (or hang at the first collective of another shape), so all stop at once
        if not ddp.agree(hashlib.sha256(dump_recipe(cfg).encode()).hexdigest(), world):
            raise CLIError("the training processes were given different recipes (a machine's copy of "
                           f"{args.config or 'the run folder'} differs from the one of rank 0's machine, or its "
                           "--set options do): give every machine the same recipe and options")
        if not args.resume:  # one folder for all processes, made by rank 0, its recipe written once
            run = RunDir(ddp.broadcast(str(_new_run(cfg, args.run_dir).path) if world.main else None, world))
        elif world.main and (args.config or args.set):  # resumed with a changed recipe
            run.write_config(dump_recipe(cfg))
        with jobs.running(run, world.main) as job:
            if isinstance(cfg, AnomalyRecipe):
                return _detector_in(run, cfg, args, job)
            state, trainer = _gan_in(run, cfg, args, world, job)
    finally:
        ddp.teardown()
    if not world.main:
        return 0 if state in ("finished", "stopped") else 1
    result = {"run": str(run.path), "state": state, "step": trainer.step}
    if args.out and state == "finished":
        result["out"] = str(trainer.export(args.out, {"made_by": made_by}))
    print(json.dumps(result))
    return 0 if state in ("finished", "stopped") else 1


def _new_run(cfg, path: Path | None) -> RunDir:
    run = RunDir.create(cfg.name, path=path)
    run.write_config(dump_recipe(cfg))
    return run


def _gan_in(run: RunDir, cfg, args: argparse.Namespace, world, job: jobs.RunningJob):
    """Train a GAN recipe in its run folder, from the run's last checkpoint when resuming."""
    callbacks = standard_callbacks(run, progress=not args.quiet) if world.main else []
    trainer = make_trainer(cfg, device=args.device, callbacks=callbacks)
    if args.resume:
        ckpt = run.latest_checkpoint()
        if ckpt is None:
            print(f"no usable checkpoint in {run.checkpoints}; starting from step 0", file=sys.stderr)
        else:
            trainer.load_state(ckpt)  # every process loads the same state
            if world.main:
                print(f"resuming {run.id} from step {trainer.step}", file=sys.stderr)
    return trainer.fit(should_stop=job.stop_requested), trainer


def _detector_in_memory(recipe, args: argparse.Namespace, made_by: str) -> int:
    """An anomaly recipe with --out alone: the GAN, the encoder and the thresholds, trained in memory."""
    if not args.out:
        raise CLIError("an anomaly recipe needs --out PATH for the trained detector")
    log = (lambda *a: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    det = fit_detector(recipe, args.device, callbacks=[ProgressBar(args.quiet)], log=log)
    det.card["made_by"] = made_by
    path = save_detector(det, args.out)
    print(json.dumps({"out": str(path), "thresholds": det.card["thresholds"], "validation": det.card["validation"]}))
    return 0


def _detector_in(run: RunDir, recipe, args: argparse.Namespace, job: jobs.RunningJob) -> int:
    """An anomaly recipe in a run folder (how a job from the app runs): the GAN stage writes the usual
    status, samples and checkpoints and resumes from its last checkpoint; the detector is written to
    RUN_DIR/detector (unless --out says otherwise)."""
    log = (lambda *a: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    try:
        det = fit_detector(recipe, args.device, callbacks=standard_callbacks(run, progress=not args.quiet),
                           log=lambda msg: (run.log(msg), log(msg)), resume_from=run.latest_checkpoint(),
                           stop=job.stop_requested, on_stage=lambda msg: run.set_status("running", message=msg))
    except TrainingStopped as e:
        run.set_status("stopped", message=str(e), ended_at=time.time())
        print(json.dumps({"run": str(run.path), "state": "stopped"}))
        return 0
    det.card["made_by"] = f"python -m gan_core train --resume {run.path}"
    path = save_detector(det, args.out or run.path / "detector")
    run.log(f"detector written to {path}")
    run.set_status("finished", message=f"detector written to {path}", detector=str(path), ended_at=time.time())
    print(json.dumps({"run": str(run.path), "state": "finished", "out": str(path),
                      "thresholds": det.card["thresholds"]}))
    return 0


# ---------------------------------------------------------------- launch (several machines)


def cmd_launch(args: argparse.Namespace) -> int:
    """Print what each machine runs to train a recipe together: the torchrun command (the same on every
    machine) under comments saying where it runs and what must be shared, or with --slurm a batch script.
    The recipe is validated here, and checked against the launch, so a mistake shows on this machine
    and not after every machine has started."""
    cfg = load_recipe(args.config, args.set)
    endpoint = args.rdzv_endpoint
    if args.slurm and not endpoint:
        endpoint = f"localhost:{launch.DEFAULT_PORT}"  # only the port is used: SLURM names the host
    spec = launch.LaunchSpec.of(nodes=args.nodes, nproc_per_node=args.nproc_per_node, rdzv_endpoint=endpoint,
                                rdzv_id=args.rdzv_id or launch.default_rdzv_id(cfg.name))
    launch.check(spec, cfg, args.device)
    train = launch.train_args(args.config, overrides=args.set, device=args.device, run_dir=args.run_dir,
                              out=args.out)
    if args.slurm:
        print(launch.sbatch_script(spec, args.config, train, device=args.device, made_by=_launch_made_by(args)),
              end="")
        return 0
    line = launch.shell(launch.command(spec, train, python="python"))
    where = f"the run folder {args.run_dir}" if args.run_dir else "the run folder under $GAN_STUDIO_RUNS (runs/ if unset)"
    print(f"# {cfg.name}: {_count(spec.nodes, 'machine')} x {_count(spec.nproc_per_node, 'process')} = "
          f"{_count(spec.world_size, 'training process')}, batch {cfg.train.batch_size} = "
          f"{cfg.train.batch_size // spec.world_size} rows each.")
    if spec.standalone:
        print(line)
        return 0
    print(f"# Run it from the GAN Studio folder, with {args.config} there. The process of rank 0 writes")
    print(f"# {where}: on storage every machine shares, any of them can resume it.")
    host, port = launch.split_endpoint(spec.rdzv_endpoint)
    print(f"# The same command on every machine. {host} hosts the rendezvous on port {port}, which the others must")
    print("# reach; start them all within a minute (torchrun numbers the machines itself). NCCL on CUDA, gloo on CPU.")
    for i in range(spec.nodes):
        print(f"\n# machine {i + 1} of {spec.nodes}" + (f" ({host}, the rendezvous)" if i == 0 else ""))
        print(line)
    return 0


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "es" if what.endswith("s") else "s")


def _launch_made_by(args: argparse.Namespace) -> str:
    """The launch command line that gives these arguments (written into a SLURM script)."""
    argv = ["python", "-m", "gan_core", "launch", args.config, "--nodes", str(args.nodes), "--nproc-per-node",
            str(args.nproc_per_node)]
    for flag, value in (("--rdzv-endpoint", args.rdzv_endpoint), ("--rdzv-id", args.rdzv_id),
                        ("--run-dir", args.run_dir), ("--out", args.out)):
        if value is not None:
            argv += [flag, str(value)]
    argv += ["--device", args.device, *(a for kv in args.set for a in ("--set", kv)), "--slurm"]
    return launch.shell(argv)


# ---------------------------------------------------------------- sample

def cmd_sample(args: argparse.Namespace) -> int:
    gen = load_generator(args.checkpoint, args.device)
    if args.label is not None and not gen.n_classes:
        raise CLIError(f"{Path(args.checkpoint).name} is not class-conditional; drop --label")
    labels = None
    if gen.n_classes:
        labels = torch.full((args.n,), args.label) if args.label is not None else torch.arange(args.n) % gen.n_classes
    try:
        x = gen.sample(args.n, args.seed, labels, args.truncation)
    except ValueError as e:
        raise CLIError(str(e)) from None
    written = []
    if args.npy:
        np.save(args.npy, x.numpy())
        written.append(args.npy)
    if args.out:
        if not gen.is_image:
            raise CLIError("this model makes points, not images: use --npy FILE")
        nrow = args.nrow or (gen.n_classes if gen.n_classes and args.label is None else round(args.n ** 0.5))
        grid_image(x, nrow=max(1, nrow)).save(args.out)
        written.append(args.out)
    if not written:
        raise CLIError("nothing to write: give --out grid.png and/or --npy samples.npy")
    print(json.dumps({"wrote": written, "n": args.n, "seed": args.seed, "label": args.label}))
    return 0


# ---------------------------------------------------------------- eval

def _eval_images(gen, args: argparse.Namespace) -> dict:
    from .metrics.images import default_classifier, evaluate_generator, load_classifier  # heavy: torchmetrics
    args.classifier = args.classifier or default_classifier()
    metrics = evaluate_generator(gen, load_classifier(args.classifier, args.device), n=args.n, seed=args.seed)
    return {**metrics, "classifier": Path(args.classifier).name}


def _eval_music(gen, args: argparse.Namespace) -> dict:
    metrics = {k: round(v, 4) for k, v in music.evaluate_music(music.MusicGenerator(gen), n=min(args.n, 1000),
                                                               seed=args.seed).items()}
    metrics["reference"] = {split: {k: round(v, 4) for k, v in music.data_metrics(split).items()}
                            for split in ("train", "validation")}
    metrics["reference"]["validation_chorales"] = sorted(set(chorale_dataset("validation").chorale))
    return metrics


# How each architecture is measured (an architecture without an entry is not measured by `eval`).
EVALUATORS = {
    "dcgan": _eval_images,
    "musegan": _eval_music,
    "pix2pix": lambda gen, args: evaluate_sketcher(load_sketcher(args.checkpoint, args.device)),
    "srresnet": lambda gen, args: evaluate_upscaler(Upscaler(gen)),
    "rrdb": lambda gen, args: evaluate_upscaler(Upscaler(gen)),
    "cyclegan": lambda gen, args: _eval_cyclegan(gen),
}


def _eval_cyclegan(gen) -> dict:
    try:
        return evaluate_translator(Translator(gen))
    except ValueError as e:  # a photo model: no held-out labels to measure with
        raise CLIError(str(e)) from None


def cmd_eval(args: argparse.Namespace) -> int:
    gen = load_generator(args.checkpoint, args.device)
    if gen.model.arch not in EVALUATORS:
        raise CLIError("eval measures image and music generators; toy models are measured by `toy` and `bench toy`")
    metrics = EVALUATORS[gen.model.arch](gen, args)
    if args.update_card:
        tensors, card = read_checkpoint(args.checkpoint)
        card["metrics"] = {**card.get("metrics", {}), **metrics}
        for key in ("format", "created_at", "versions", "weights_file", "weights_sha256", "weights_bytes"):
            card.pop(key, None)
        save_checkpoint(args.checkpoint, tensors, card)
    print(json.dumps(metrics))
    return 0


# ---------------------------------------------------------------- toy and bench

def cmd_toy(args: argparse.Namespace) -> int:
    try:
        cfg = toy_recipe(args.dataset, args.loss, args.seed, [*args.set, *([f"train.steps={args.steps}"]
                                                                        if args.steps else [])])
    except ValueError as e:
        raise CLIError(str(e)) from None
    data = get_toy(args.dataset)
    lab = ToyLab([cfg], data)
    start = time.perf_counter()
    with one_thread():  # these nets are too small to share between threads
        for _ in trange(cfg.train.steps, desc=cfg.name, disable=args.quiet or args.json, unit="step"):
            lab.train(1)
            if lab.diverged[0]:
                raise CLIError(f"{lab.diverged[0]}; lower the learning rates or try another loss")
    elapsed = time.perf_counter() - start
    x = lab.sample(args.samples, seed=args.seed + 1)[0].numpy()
    if args.out:
        np.save(args.out, x)
    report = {"dataset": args.dataset, "loss": args.loss, "seed": args.seed, "steps": cfg.train.steps,
              "seconds": round(elapsed, 2), "samples": args.samples, "out": args.out,
              **{k: round(v, 4) if isinstance(v, float) else v for k, v in toy_report(x, data, seed=args.seed).items()}}
    print(json.dumps(report) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run  # heavy: every benchmark's models and data
    try:
        choices = {k: v.split(",") for k, v in (("datasets", args.datasets), ("losses", args.losses),
                                                 ("protocols", args.protocols), ("digits", args.digits),
                                                 ("actions", getattr(args, "actions", None))) if v}
        if getattr(args, "device", None):
            choices["device"] = args.device
        if getattr(args, "shots", None):
            choices["shots"] = args.shots
        for line in run(args.area, args.quick, **choices):
            print(line, flush=True)
    except ValueError as e:
        raise CLIError(str(e)) from None
    return 0


# ---------------------------------------------------------------- anomaly

def cmd_anomaly(args: argparse.Namespace) -> int:
    if args.action == "train":
        args.resume, args.data_root, args.run_dir = None, None, None
        return cmd_train(args)

    if not args.images:
        raise CLIError("anomaly score needs a CHECKPOINT and at least one image")
    det = load_detector(args.config, args.device)
    xs, names, problems = [], [], []
    for path in args.images:
        try:
            img = decode_image(path)
        except ImageError as e:
            problems.append(str(e))
            continue
        xs.append(from_uint8(to_tensor_image(img, det.img_size, det.channels)))
        names.append(str(path))
    for p in problems:
        print(f"skipped: {p}", file=sys.stderr)
    if not xs:
        raise CLIError("no image could be read")
    start = time.perf_counter()
    result = det.score(torch.stack(xs), args.method)
    seconds = time.perf_counter() - start
    threshold = det.threshold(args.method) if args.threshold is None else args.threshold
    rows = [{"image": n, "score": round(float(s), 6),
             "anomalous": None if threshold is None else bool(s >= threshold)} for n, s in zip(names, result.score)]
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=["image", "score", "anomalous"])
            w.writeheader()
            w.writerows(rows)
    print(json.dumps({"method": args.method, "threshold": threshold, "seconds": round(seconds, 3),
                      "skipped": len(problems), "scores": rows}))
    return 0


# ---------------------------------------------------------------- music

def cmd_music(args: argparse.Namespace) -> int:
    if args.action == "data":

        bar = tqdm(total=1, desc="parsing chorales", unit="chorale", disable=args.quiet)

        def progress(done, total):
            bar.total = total
            bar.n = done
            bar.refresh()
        sizes = {split: len(chorale_dataset(split, progress)) for split in ("train", "validation")}
        bar.close()
        print(json.dumps({"windows": sizes}))
        return 0
    if not args.checkpoint:
        raise CLIError("music sample needs a CHECKPOINT")
    mg = music.load_music_generator(args.checkpoint, args.device)
    if args.voice is not None:
        try:
            roll = mg.with_voice_from(args.seed, args.voice, args.voice_seed)[0]
        except ValueError as e:
            raise CLIError(str(e)) from None
    else:
        roll = mg.sample(args.seed)[0]
    written = []
    if args.out:
        Path(args.out).write_bytes(music.midi_bytes(roll, args.bpm))
        written.append(args.out)
    if args.wav:
        audio, synth = music.render_wav(roll, args.bpm)
        Path(args.wav).write_bytes(audio)
        written.append(args.wav)
    if args.xml:
        Path(args.xml).write_bytes(music.musicxml_bytes(roll))
        written.append(args.xml)
    if args.png:
        music.roll_picture(roll).save(args.png)
        written.append(args.png)
    if not written:
        raise CLIError("nothing to write: give --out song.mid, --wav song.wav, --xml song.musicxml or --png roll.png")
    print(json.dumps({"wrote": written, "seed": args.seed, "notes": len(music.roll_notes(roll)),
                      **({"synth": synth} if args.wav else {})}))
    return 0


# ---------------------------------------------------------------- image to image

def _read_picture(path: str):
    return decode_image(Path(path), name=Path(path).name)


def cmd_pix2pix(args: argparse.Namespace) -> int:
    sk = load_sketcher(args.checkpoint, args.device)
    img = _read_picture(args.sketch)
    drawing = sk.edges(img, args.size) if args.photo else sk.drawing(img, args.size)
    if args.edges_out:
        Image.fromarray(drawing).save(args.edges_out)
    if sk.has_dropout or args.variation is None:
        out, seconds = sk.translate(drawing, args.variation)
    else:
        raise CLIError(f"{Path(args.checkpoint).name} has no dropout layers, so it has no variations")
    out.save(args.out)
    print(json.dumps({"wrote": args.out, "size": out.size[0], "ms": round(seconds * 1000, 1),
                      "input": "photo edges" if args.photo else "sketch", "variation": args.variation}))
    return 0


def cmd_cyclegan(args: argparse.Namespace) -> int:
    tr = load_translator(args.checkpoint, args.device)
    if args.direction not in tr.directions:
        raise CLIError(f"{Path(args.checkpoint).name} only translates A -> B (an imported one-way generator)")
    out = Path(args.out)
    several = len(args.images) > 1
    if several:
        out.mkdir(parents=True, exist_ok=True)
    done, problems = [], []
    for path in args.images:
        try:
            img = _read_picture(path)
        except ImageError as e:
            problems.append(str(e))
            continue
        start = time.perf_counter()
        result = tr.translate(img, args.direction, args.size, args.tile)
        target = out / f"{Path(path).stem}_{args.direction}.png" if several else out
        result.save(target)
        done.append({"input": str(path), "wrote": str(target), "size": list(result.size),
                     "seconds": round(time.perf_counter() - start, 3)})
    for p in problems:
        print(f"skipped: {p}", file=sys.stderr)
    if not done:
        raise CLIError("no picture could be read")
    if args.json:
        print(json.dumps({"model": tr.name, "direction": args.direction, "from": tr.side_name(args.direction[0]),
                          "to": tr.side_name(args.direction[2]), "pictures": done, "skipped": problems}))
    else:
        for d in done:
            print(f"{d['input']} -> {d['wrote']} ({d['size'][0]}x{d['size'][1]}, {d['seconds']} s)")
    return 0


def cmd_superres(args: argparse.Namespace) -> int:
    img = _read_picture(args.image)
    if args.checkpoint == "bicubic":
        if not args.scale:
            raise CLIError("bicubic needs --scale 2 or 4")
        model, scale = bicubic_upscaler(args.scale), args.scale
    else:
        model = load_upscaler(args.checkpoint, args.device)
        scale = model.scale
        if args.scale and args.scale != scale:
            raise CLIError(f"{Path(args.checkpoint).name} upscales {scale}x, not {args.scale}x")
        if args.ensemble:
            model = self_ensemble(model)
    bar = tqdm(total=1, desc="tiles", disable=args.quiet, unit="tile")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()
    start = time.perf_counter()
    out = upscale_image(img, model, scale, args.tile, args.overlap, progress)
    bar.close()
    out.save(args.out)
    print(json.dumps({"wrote": args.out, "scale": scale, "input": list(img.size), "output": list(out.size),
                      "self_ensemble": bool(args.ensemble and args.checkpoint != "bicubic"),
                      "seconds": round(time.perf_counter() - start, 2)}))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    if args.g_b and args.kind != "cyclegan":
        raise CLIError("--g-b is for cyclegan imports (the B -> A generator)")
    if args.kind == "pix2pix":
        path = import_official_pix2pix(args.weights, args.out, args.name)
    elif args.kind == "cyclegan":
        path = import_official_cyclegan(args.weights, args.out, args.g_b, args.name)
    else:
        path = import_esrgan(args.weights, args.out, args.name)
    print(json.dumps({"wrote": str(path), "kind": args.kind}))
    return 0


# ---------------------------------------------------------------- info

def cmd_info(args: argparse.Namespace) -> int:
    if args.checkpoint:
        read_checkpoint(args.checkpoint)  # verifies the weights against the card
        card = read_card(args.checkpoint)
        if args.json:
            print(json.dumps(card, indent=2, ensure_ascii=False))
            return 0
        print(f"{card.get('name')} ({card.get('kind')}), step {card.get('step')}")
        if card.get("description"):
            print(f"  {card['description']}")
        for section in ("model", "data", "metrics"):
            if card.get(section):
                print(f"  {section}: " + ", ".join(f"{k}={v}" for k, v in card[section].items()
                                                    if not isinstance(v, dict)))
        print(f"  created {card.get('created_at')} with {card.get('versions')}")
        return 0
    info = {"gan_studio": __version__, **library_versions(), "devices": describe_devices(),
            "checkpoints": sorted(p.stem for p in Path("checkpoints").glob("*.safetensors"))}
    print(json.dumps(info, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in info.items()))
    return 0


