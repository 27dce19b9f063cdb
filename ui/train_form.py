"""The Train page's form and the recipe it makes, in both directions, in one place.

    form (widget values by session key)  --recipe()-->   a validated recipe (gan_core.config.Config)
    a run's recipe                       --form_of()-->  the form that makes it (what Clone puts back)

A form value reaches the recipe as a typed override (`{"train.lr_g": 1e-4}`), validated once by
`load_recipe` and written once, to the run's config.yaml, by `jobs.submit`. Advanced settings left
empty (None) keep the recipe's value: the base recipe's, after the loss's preset (LOSS_PRESETS).
No streamlit here: the page draws the widgets, this module only maps values.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from gan_core.config import Config
from gan_core.losses import LOSSES
from gan_core.paths import CONFIGS
from gan_core.recipes import LOSS_PRESETS, load_recipe

BASE = {False: CONFIGS / "mnist_dcgan.yaml", True: CONFIGS / "mnist_cgan.yaml"}  # by tr_conditional
BATCHES = [16, 32, 64, 128, 256]
SIZES = [28, 32, 64]
TORCHVISION = ["mnist", "fashion_mnist", "cifar10"]
# DiffAugment policies the form offers: the widget's value (the policy, as text) -> its label's key
DIFFAUGMENT = {"[]": "none", "[translation,cutout]": "tc", "[color,translation,cutout]": "ctc"}

DEFAULTS: dict[str, Any] = {"tr_name": "my-gan", "tr_data": "mnist5k", "tr_colour": True, "tr_conditional": False,
                            "tr_size": 28, "tr_loss": "nonsaturating", "tr_steps": 2000, "tr_batch": 64}
# Advanced settings: session key -> recipe key. None in the form: the recipe's own value.
ADVANCED: dict[str, str] = {
    "tr_train_optimizer": "train.optimizer", "tr_train_lr_g": "train.lr_g", "tr_train_lr_d": "train.lr_d",
    "tr_train_k_d": "train.k_d", "tr_train_seed": "train.seed", "tr_model_nz": "model.nz",
    "tr_model_ngf": "model.ngf", "tr_model_ndf": "model.ndf", "tr_train_lr_decay": "train.lr_decay",
    "tr_model_n_codes": "model.n_codes", "tr_train_diffaugment": "train.diffaugment",
    "tr_beta1": "train.betas.0", "tr_beta2": "train.betas.1"}


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


def overrides(form: Mapping[str, Any], data: Mapping[str, Any], channels: int = 1, classes: int = 10
              ) -> dict[str, Any]:
    """The form as overrides of BASE[conditional]: size, channels, classes, the loss and its preset,
    steps and batch with intervals that follow the steps, every advanced setting that is set, the data."""
    steps = int(form["tr_steps"])
    out: dict[str, Any] = {
        "name": str(form.get("tr_name") or "").strip() or "run",
        "model.img_size": int(form["tr_size"]), "model.channels": channels,
        "model.n_classes": classes if form["tr_conditional"] else 0,
        "train.loss": form["tr_loss"], **LOSS_PRESETS[form["tr_loss"]],
        "train.steps": steps, "train.batch_size": int(form["tr_batch"]),
        "train.log_every": max(1, min(10, steps // 50)), "train.sample_every": max(50, steps // 20),
        "train.checkpoint_every": max(100, steps // 10),
        **({"train.eval_every": max(50, steps // 10)} if tracks_metrics(data) else {}),
        **data}
    if LOSSES[form["tr_loss"]].gradient_penalty:  # a per-sample penalty: D may not use batch norm
        out["model.d_norm"] = "layer"
    betas = [form.get("tr_beta1"), form.get("tr_beta2")]
    for key, path in ADVANCED.items():
        value = form.get(key)
        if value is None or path.startswith("train.betas."):
            continue
        out[path] = _policy(value) if path == "train.diffaugment" else value
    if betas != [None, None]:  # one beta given: the other stays the recipe's
        plain = load_recipe(BASE[bool(form["tr_conditional"])], out).train.betas
        out["train.betas"] = tuple(plain[i] if b is None else float(b) for i, b in enumerate(betas))
    return out


def recipe(form: Mapping[str, Any], data: Mapping[str, Any], channels: int = 1, classes: int = 10) -> Config:
    """The validated recipe the form makes (ConfigError says what is wrong)."""
    return load_recipe(BASE[bool(form["tr_conditional"])], overrides(form, data, channels, classes))


def _value(cfg: Config, path: str) -> Any:
    *sections, last = path.split(".")
    node: Any = cfg
    for part in sections:
        node = node[int(part)] if part.isdigit() else getattr(node, part)
    return node[int(last)] if last.isdigit() else getattr(node, last)


def form_of(cfg: Config) -> dict[str, Any]:
    """The form that makes `cfg` (Clone): the advanced settings are None where the recipe has the
    value the rest of the form gives anyway, so a clone shows only what was really changed."""
    m, d, t = cfg.model, cfg.data, cfg.train
    kind = {"mnist5k": "mnist5k", "folder": "upload"}.get(d.name, "torchvision")
    form: dict[str, Any] = {
        "tr_name": cfg.name, "tr_data": kind, "tr_conditional": bool(m.n_classes),
        "tr_colour": m.channels == 3 if kind == "upload" else DEFAULTS["tr_colour"],  # asked for uploads only
        "tr_size": m.img_size, "tr_loss": t.loss, "tr_steps": t.steps,
        "tr_batch": t.batch_size if t.batch_size in BATCHES else DEFAULTS["tr_batch"]}
    if kind == "torchvision":
        form["tr_tv"] = d.name
    data = data_overrides(kind, torchvision=d.name, root=d.root, path=d.path)
    plain = recipe({**form, **dict.fromkeys(ADVANCED)}, data, m.channels, m.n_classes or 10)
    for key, path in ADVANCED.items():
        value = _value(cfg, path)
        if path == "train.diffaugment":
            form[key] = "[" + ",".join(value) + "]" if value != plain.train.diffaugment else None
        else:
            form[key] = value if value != _value(plain, path) else None
    return form
