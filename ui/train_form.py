"""The Train page's form and the recipe it makes, in both directions, in one place.

    form (widget values by session key)  --recipe()-->   a validated recipe (gan_core.config.Config)
    a run's recipe                       --form_of()-->  the form that makes it (what Clone puts back)

The form makes three models (`tr_model`): a DCGAN, a conditional DCGAN, and a CycleGAN between
two collections of pictures (its own keys, `tr_cg_*`, so each model keeps its settings while the
other is chosen). A form value reaches the recipe as a typed override (`{"train.lr_g": 1e-4}`),
validated once by `load_recipe` and written once, to the run's config.yaml, by `jobs.submit`.
Advanced settings left empty (None) keep the recipe's value: the base recipe's, after the loss's
preset (LOSS_PRESETS). `not_kept` lists what of a run's recipe the form cannot make again (Clone
says so). No widgets here: the page draws them, this module only maps values (and writes the run's
description in both languages from the catalogs, as a shipped recipe carries both).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from gan_core.config import Config
from gan_core.launch import LaunchSpec, check, command, default_rdzv_id, train_args
from gan_core.losses import LOSSES
from gan_core.paths import CONFIGS
from gan_core.recipes import LOSS_PRESETS, load_recipe

from .i18n import catalog

MODELS = ["dcgan", "conditional", "cyclegan"]  # the choice tr_model
BASE = {"dcgan": CONFIGS / "mnist_dcgan_plain.yaml", "conditional": CONFIGS / "mnist_cgan.yaml",
        "cyclegan": CONFIGS / "cyclegan_digits.yaml"}  # by tr_model
BATCHES = [16, 32, 64, 128, 256]
SIZES = [28, 32, 64]
TORCHVISION = ["mnist", "fashion_mnist", "cifar10"]
# DiffAugment policies the form offers: the widget's value (the policy, as text) -> its label's key
DIFFAUGMENT = {"[]": "none", "[translation,cutout]": "tc", "[color,translation,cutout]": "ctc"}

DEFAULTS: dict[str, Any] = {"tr_name": "my-gan", "tr_model": "dcgan", "tr_data": "mnist5k", "tr_colour": True,
                            "tr_size": 28, "tr_loss": "nonsaturating", "tr_steps": 2000, "tr_batch": 64,
                            "tr_track": False}
# tr_name, tr_model and tr_track are every model's; tr_track: log to the operator's MLflow server
# (train.track 'mlflow' with no tracking_uri, so gan_core.tracking_server picks the operator's)
# Advanced settings: session key -> recipe key. None in the form: the recipe's own value.
ADVANCED: dict[str, str] = {
    "tr_train_optimizer": "train.optimizer", "tr_train_lr_g": "train.lr_g", "tr_train_lr_d": "train.lr_d",
    "tr_train_k_d": "train.k_d", "tr_train_seed": "train.seed", "tr_model_nz": "model.nz",
    "tr_model_ngf": "model.ngf", "tr_model_ndf": "model.ndf", "tr_train_lr_decay": "train.lr_decay",
    "tr_model_n_codes": "model.n_codes", "tr_train_diffaugment": "train.diffaugment",
    "tr_beta1": "train.betas.0", "tr_beta2": "train.betas.1"}
DCGAN_ONLY = ("tr_model_nz", "tr_model_n_codes", "tr_train_diffaugment")  # CycleGAN has no noise, codes or DiffAugment

# ---------------------------------------------------------------- CycleGAN

CYCLE_SIZES = [32, 64, 128, 256]
CYCLE_BLOCKS = [4, 6, 9]
CYCLE_BATCHES = [1, 2, 4, 8, 16, 32]
# built-in pairs of domains: (A, B) as (set, half); a set paired with its own strokes takes
# alternate halves, so no digit is on both sides
PAIRS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "digits": (("mnist5k", "all"), ("uci_digits", "all")),
    "strokes": (("mnist5k_strokes", "even"), ("mnist5k", "odd"))}
CYCLE_DEFAULTS: dict[str, Any] = {
    "tr_cg_data": "builtin", "tr_cg_pair": "digits", "tr_cg_size": 32, "tr_cg_blocks": 6, "tr_cg_cycle": 10.0,
    "tr_cg_identity": 0.5, "tr_cg_loss": "lsgan", "tr_cg_steps": 3000, "tr_cg_batch": 32}
# a cloned run's stored uploads (DCGAN: one zip; CycleGAN: one per domain), used until a zip is uploaded
KEPT = ("tr_kept_zip", "tr_cg_kept_a", "tr_cg_kept_b")


def cycle_defaults(source: str, gpu: bool = False) -> dict[str, Any]:
    """Size, blocks, batch and steps for a CycleGAN on the built-in digits (the shipped recipe's:
    32 px, narrow nets, batch 32) or on uploaded pictures (128 px, 6 blocks; batch 1 as the paper
    on a GPU, 4 on a CPU, which does better with a few pictures at a time)."""
    if source == "builtin":
        return {"tr_cg_size": 32, "tr_cg_blocks": 6, "tr_cg_batch": 32, "tr_cg_steps": 3000}
    return {"tr_cg_size": 128, "tr_cg_blocks": 6, "tr_cg_batch": 1 if gpu else 4, "tr_cg_steps": 3000}


def cycle_widths(size: int) -> tuple[int, int, int]:
    """(ngf, ndf, PatchGAN layers) for a crop size: the paper's 64/64/3 from 128 px, narrow nets and
    34-px patches at 32 px (configs/cyclegan_digits.yaml), in between at 64 px."""
    if size <= 32:
        return 16, 32, 2
    if size <= 64:
        return 32, 64, 3
    return 64, 64, 3


def cycle_data(source: str, pair: str = "digits", a: str | Path | None = None, b: str | Path | None = None
               ) -> dict[str, Any]:
    """The data section of a CycleGAN: a built-in pair (no flips: digits have a handedness), or two
    folders/zips (uploads), flipped at random as in the paper."""
    if source == "builtin":
        (sa, ha), (sb, hb) = PAIRS[pair]
        return {"data.name": "unpaired", "data.a": {"name": sa, "half": ha}, "data.b": {"name": sb, "half": hb},
                "data.flip": False}
    return {"data.name": "unpaired", "data.a": {"name": "folder", "path": str(a)},
            "data.b": {"name": "folder", "path": str(b)}, "data.flip": True}


def upload_name(path: str | Path) -> str:
    """A stored upload's file name as it was uploaded (without the content digest save_upload puts first)."""
    return re.sub(r"^[0-9a-f]{16}-", "", Path(path).name)


def _domain_name(side: Mapping[str, Any]) -> str:
    if side.get("name") == "folder":
        return upload_name(str(side.get("path")))
    return str(side.get("name")) + ("" if side.get("half", "all") == "all" else f" ({side['half']} half)")


DATA_NAMES = {"mnist5k": "MNIST-5k", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


def _descriptions(key: str, **values: Any) -> dict[str, str]:
    """A form-made run's description in English and Chinese (catalog entry train.describe.<key>):
    without them the run kept its base recipe's, "... trained on MNIST-5k" for a zip of cats."""
    return {"description": catalog("en")[f"train.describe.{key}"].format(**values),
            "description_zh": catalog("zh")[f"train.describe.{key}"].format(**values)}


# ---------------------------------------------------------------- form -> recipe


def data_overrides(kind: str, *, torchvision: str = "mnist", root: str | None = None,
                   path: str | Path | None = None) -> dict[str, Any]:
    """The data section for the form's dataset choice (mnist5k, torchvision or an upload)."""
    if kind == "mnist5k":
        return {"data.name": "mnist5k"}
    if kind == "torchvision":
        return {"data.name": torchvision, "data.root": root}
    return {"data.name": "folder", "data.path": str(path)}


def tracks_metrics(data: Mapping[str, Any]) -> bool:
    """FD/KID/precision are measured on the digit classifier: digits (and, roughly, clothes) only."""
    return data.get("data.name") in ("mnist5k", "mnist", "fashion_mnist")


def _policy(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.strip("[]").split(",") if p.strip())


def _intervals(steps: int) -> dict[str, int]:
    return {"train.log_every": max(1, min(10, steps // 50)), "train.sample_every": max(50, steps // 20),
            "train.checkpoint_every": max(100, steps // 10)}


def _tracking(form: Mapping[str, Any]) -> dict[str, Any]:
    """train.track 'mlflow' when the form asks for it; the server stays the operator's (no tracking_uri)."""
    return {"train.track": "mlflow"} if form.get("tr_track") else {}


def _advanced(form: Mapping[str, Any], out: dict[str, Any], model: str) -> dict[str, Any]:
    """Every advanced setting that is set, into `out` (betas: one given keeps the recipe's other)."""
    betas = [form.get("tr_beta1"), form.get("tr_beta2")]
    for key, path in ADVANCED.items():
        value = form.get(key)
        if value is None or path.startswith("train.betas.") or (model == "cyclegan" and key in DCGAN_ONLY):
            continue
        out[path] = _policy(value) if path == "train.diffaugment" else value
    if betas != [None, None]:  # one beta given: the other stays the recipe's
        plain = load_recipe(BASE[model], out).train.betas
        out["train.betas"] = tuple(plain[i] if b is None else float(b) for i, b in enumerate(betas))
    return out


def cycle_channels(channels: int | tuple[int, int], identity: float) -> tuple[int, int]:
    """Channels (A, B) of a CycleGAN from those of its pictures: the identity term feeds pictures of B
    to G_AB (and of A to G_BA), so with an identity share > 0 a greyscale domain beside a colour one
    is used in colour too."""
    ca, cb = channels if isinstance(channels, (tuple, list)) else (channels, channels)
    return (3, 3) if identity > 0 and ca != cb else (int(ca), int(cb))


def _cycle_overrides(form: Mapping[str, Any], data: Mapping[str, Any], channels: int | tuple[int, int]
                     ) -> dict[str, Any]:
    ca, cb = cycle_channels(channels, float(form["tr_cg_identity"]))
    size, steps, loss = int(form["tr_cg_size"]), int(form["tr_cg_steps"]), form["tr_cg_loss"]
    ngf, ndf, layers = cycle_widths(size)
    a, b = (_domain_name(data.get(f"data.{s}") or {}) for s in "ab")
    out: dict[str, Any] = {
        "name": str(form.get("tr_name") or "").strip() or "run",
        **_descriptions("cyclegan", a=a, b=b, size=size),
        "model.img_size": size, "model.channels_a": ca, "model.channels_b": cb,
        "model.n_blocks": int(form["tr_cg_blocks"]), "model.ngf": ngf, "model.ndf": ndf, "model.n_layers": layers,
        "train.loss": loss, **LOSS_PRESETS[loss],
        "train.steps": steps, "train.batch_size": int(form["tr_cg_batch"]),
        "train.lr_decay_start": steps // 2,  # the paper: constant for half the run, then linear to 0
        "train.cycle_weight": float(form["tr_cg_cycle"]), "train.identity_weight": float(form["tr_cg_identity"]),
        **_intervals(steps), **_tracking(form), **data}
    return _advanced(form, out, "cyclegan")


def overrides(form: Mapping[str, Any], data: Mapping[str, Any], channels: int | tuple[int, int] = 1,
              classes: int = 10) -> dict[str, Any]:
    """The form as overrides of BASE[tr_model]. DCGANs: size, channels, classes, the loss and its
    preset, steps and batch with intervals that follow the steps, every advanced setting that is set,
    the data. CycleGAN: the same from its own keys, with the nets' widths following the size,
    channels (A, B), blocks, the cycle and identity weights and the decay from half the steps."""
    model = form.get("tr_model") or "dcgan"
    if model == "cyclegan":
        return _cycle_overrides(form, data, channels)
    steps = int(form["tr_steps"])
    source = data.get("data.name")
    shown = upload_name(data.get("data.path") or "") if source == "folder" else DATA_NAMES.get(source, str(source))
    out: dict[str, Any] = {
        "name": str(form.get("tr_name") or "").strip() or "run",
        **_descriptions(f"{model}_{'colour' if channels == 3 else 'grey'}", size=int(form["tr_size"]), data=shown),
        "model.img_size": int(form["tr_size"]), "model.channels": channels,
        "model.n_classes": classes if model == "conditional" else 0,
        "train.loss": form["tr_loss"], **LOSS_PRESETS[form["tr_loss"]],
        "train.steps": steps, "train.batch_size": int(form["tr_batch"]), **_intervals(steps),
        **({"train.eval_every": max(50, steps // 10)} if tracks_metrics(data) else {}),
        **_tracking(form), **data}
    if LOSSES[form["tr_loss"]].gradient_penalty:  # a per-sample penalty: D may not use batch norm
        out["model.d_norm"] = "layer"
    return _advanced(form, out, model)


def recipe(form: Mapping[str, Any], data: Mapping[str, Any], channels: int | tuple[int, int] = 1,
           classes: int = 10) -> Config:
    """The validated recipe the form makes (ConfigError says what is wrong). `channels` is (A, B)
    for a CycleGAN."""
    return load_recipe(BASE[form.get("tr_model") or "dcgan"], overrides(form, data, channels, classes))


def usable_cpus() -> int:
    """The CPUs this process (and a job it starts) may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def training_threads(environ: Mapping[str, str] = os.environ,
                     cpus: Path = Path("/sys/devices/system/cpu")) -> int:
    """How many threads a training job computes on when it runs on the CPU. The job is its own
    process (`python -m gan_core train`) and keeps PyTorch's default: OMP_NUM_THREADS (MKL_NUM_THREADS
    over it) when set, else one thread per physical core, never more than the CPUs the process may
    use (torch 2.14 here: OMP_NUM_THREADS=3 on 2 CPUs gives 2). This app's own torch.get_num_threads()
    says nothing about it: the Learn pages drop the app to 1 thread while they compute."""
    try:
        usable = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        usable = list(range(os.cpu_count() or 1))
    for var in ("MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        value = str(environ.get(var, "")).strip()
        if value.isdigit() and int(value) > 0:
            return min(int(value), len(usable))
    cores = set()
    for i in usable:
        topology = cpus / f"cpu{i}" / "topology"
        try:
            cores.add(tuple((topology / f).read_text().strip() for f in ("physical_package_id", "core_id")))
        except OSError:
            return len(usable)  # no topology to tell cores from hyper-threads: count CPUs
    return len(cores) or len(usable)


def inferred_channels(images: torch.Tensor, tolerance: int = 4) -> int:
    """1 when every picture of uint8 (N, 3, H, W) is grey (its channels differ by at most `tolerance`
    of 255 anywhere: JPEG leaves a little colour in grey pictures), else 3."""
    if images.shape[1] == 1:
        return 1
    x = images.to(torch.int16)
    spread = (x.amax(1) - x.amin(1)).amax() if len(x) else torch.tensor(0)
    return 1 if int(spread) <= tolerance else 3


# ---------------------------------------------------------------- several machines

# "Several machines": machines, processes on each, the rendezvous, where they train, the recipe's path there
MACHINES_DEFAULTS: dict[str, Any] = {"tr_mm_nodes": 2, "tr_mm_nproc": 1, "tr_mm_endpoint": "", "tr_mm_device": "cuda",
                                     "tr_mm_recipe": ""}
MACHINE_DEVICES = ["cuda", "cpu"]  # the choice tr_mm_device: one GPU per process (NCCL), or CPUs (gloo)


def machines_recipe_path(form: Mapping[str, Any], cfg: Config) -> str:
    """Where each machine reads the recipe: the path typed in the form, else recipes/<name>.yaml (relative
    to the GAN Studio folder the command runs in)."""
    return str(form.get("tr_mm_recipe") or "").strip() or f"recipes/{default_rdzv_id(cfg.name)}.yaml"


def machines_command(form: Mapping[str, Any], cfg: Config) -> tuple[LaunchSpec, list[str]]:
    """The launch spec of the form's "Several machines" values and the command every machine runs
    (gan_core.launch, as `python -m gan_core launch` prints it) to train `cfg`, read from
    machines_recipe_path; a LaunchError says what to change."""
    endpoint = str(form.get("tr_mm_endpoint") or "").strip() or None
    spec = LaunchSpec.of(nodes=int(form["tr_mm_nodes"]), nproc_per_node=int(form["tr_mm_nproc"]),
                         rdzv_endpoint=endpoint, rdzv_id=default_rdzv_id(cfg.name))
    device = form.get("tr_mm_device") or "cuda"
    check(spec, cfg, device)
    return spec, command(spec, train_args(machines_recipe_path(form, cfg), device=device), python="python")


# ---------------------------------------------------------------- recipe -> form


class NotInForm(ValueError):
    """A recipe the form cannot make at all (the message says why)."""


def _value(cfg: Config, path: str) -> Any:
    *sections, last = path.split(".")
    node: Any = cfg
    for part in sections:
        node = node[int(part)] if part.isdigit() else getattr(node, part)
    return node[int(last)] if last.isdigit() else getattr(node, last)


def _cycle_source(cfg: Config) -> tuple[str, str | None]:
    """("builtin", pair) or ("upload", None) for a CycleGAN recipe's domains; NotInForm otherwise."""
    a, b = cfg.data.a, cfg.data.b
    if a.name == b.name == "folder":
        return "upload", None
    for pair, sides in PAIRS.items():
        if ((a.name, a.half), (b.name, b.half)) == sides:
            return "builtin", pair
    raise NotInForm(f"its domains ({_domain_name(a.model_dump())} <-> {_domain_name(b.model_dump())}) are not "
                    "a built-in pair this form offers, nor two uploads")


def _inputs(cfg: Config, form: Mapping[str, Any]) -> tuple[dict[str, Any], Any, int]:
    """The data, channels and classes the page gives recipe() for the form of `cfg`."""
    m, d = cfg.model, cfg.data
    if m.arch == "cyclegan":
        data = cycle_data(form["tr_cg_data"], form.get("tr_cg_pair", "digits"), d.a.path, d.b.path)
        return data, (m.channels_a, m.channels_b), 0
    data = data_overrides(form["tr_data"], torchvision=d.name, root=d.root, path=d.path)
    return data, m.channels, m.n_classes or 10


def _cycle_form(cfg: Config) -> dict[str, Any]:
    m, t = cfg.model, cfg.train
    source, pair = _cycle_source(cfg)
    form: dict[str, Any] = {"tr_name": cfg.name, "tr_model": "cyclegan", "tr_cg_data": source,
                            "tr_cg_size": m.img_size, "tr_cg_blocks": m.n_blocks, "tr_cg_cycle": t.cycle_weight,
                            "tr_cg_identity": t.identity_weight, "tr_cg_loss": t.loss, "tr_cg_steps": t.steps,
                            "tr_cg_batch": t.batch_size}
    if source == "builtin":
        form["tr_cg_pair"] = pair
    else:
        form["tr_cg_kept_a"], form["tr_cg_kept_b"] = cfg.data.a.path, cfg.data.b.path
    for key, options in (("tr_cg_size", CYCLE_SIZES), ("tr_cg_blocks", CYCLE_BLOCKS),
                         ("tr_cg_batch", CYCLE_BATCHES)):
        if form[key] not in options:  # what the widget cannot show: the default (not_kept says so)
            form[key] = cycle_defaults(source)[key]
    return form


def _dcgan_form(cfg: Config) -> dict[str, Any]:
    m, d, t = cfg.model, cfg.data, cfg.train
    kind = {"mnist5k": "mnist5k", "folder": "upload"}.get(d.name, "torchvision")
    form: dict[str, Any] = {
        # a self-conditioned DCGAN (data.clusters) is unconditional to its user: the form's DCGAN, less the groups
        "tr_name": cfg.name, "tr_model": "conditional" if m.n_classes and not d.clusters else "dcgan", "tr_data": kind,
        "tr_colour": m.channels == 3 if kind == "upload" else DEFAULTS["tr_colour"],  # asked for uploads only
        "tr_size": m.img_size, "tr_loss": t.loss, "tr_steps": t.steps,
        "tr_batch": t.batch_size if t.batch_size in BATCHES else DEFAULTS["tr_batch"]}
    if kind == "torchvision":
        form["tr_tv"] = d.name
    if kind == "upload":
        form["tr_kept_zip"] = d.path
    return form


def form_of(cfg: Config) -> dict[str, Any]:
    """The form that makes `cfg` (Clone): its model's keys only (the other model's settings stay as
    they are), an upload's stored path as a kept one (tr_kept_zip, tr_cg_kept_a/b); the advanced
    settings are None where the recipe has the value the rest of the form gives anyway, so a clone
    shows only what was really changed. NotInForm for a recipe the form cannot make at all."""
    arch = getattr(cfg.model, "arch", None)
    if arch not in ("dcgan", "cyclegan"):
        raise NotInForm(f"the form makes DCGANs and CycleGANs, not {arch}")
    form = _cycle_form(cfg) if arch == "cyclegan" else _dcgan_form(cfg)
    form["tr_track"] = cfg.train.track == "mlflow"
    data, channels, classes = _inputs(cfg, form)
    plain = recipe({**form, **dict.fromkeys(ADVANCED)}, data, channels, classes)
    for key, path in ADVANCED.items():
        if arch == "cyclegan" and key in DCGAN_ONLY:
            continue
        value = _value(cfg, path)
        if path == "train.diffaugment":
            form[key] = "[" + ",".join(value) + "]" if value != plain.train.diffaugment else None
        else:
            form[key] = value if value != _value(plain, path) else None
    return form


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_leaves(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): node}


def not_kept(cfg: Config, form: Mapping[str, Any]) -> list[str]:
    """What of `cfg` the form `form_of(cfg)` does not make again, as 'key: run's value -> form's value'
    (the name and description aside): settings the form has no field for, or values its widgets
    do not offer."""
    data, channels, classes = _inputs(cfg, form)
    again = recipe({**DEFAULTS, **CYCLE_DEFAULTS, **dict.fromkeys(ADVANCED), **form}, data, channels, classes)
    before, after = _leaves(cfg.model_dump(mode="json")), _leaves(again.model_dump(mode="json"))
    return [f"{k}: {before.get(k)} -> {after.get(k)}" for k in sorted(set(before) | set(after))
            if k not in ("name", "description") and before.get(k) != after.get(k)]
