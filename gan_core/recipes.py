"""Recipes in one place: read one (a file or YAML text), apply typed overrides, validate once, dump.

    cfg = load_recipe("configs/mnist_dcgan.yaml", {"train.lr_g": 1e-4, "model.ngf": 32})
    cfg = load_recipe(text=run_yaml)                          # a recipe held as text (a run, a card)
    cfg = load_recipe(None, parse_overrides(["train.steps=200"]))   # the CLI's --set strings

Overrides are a flat dict of dotted keys to values (`Overrides`); the CLI turns `--set k=v`
strings into one with `parse_overrides`, the pages build them directly, so a number from the
browser reaches the schema as a number. `LOSS_PRESETS` holds what each loss changes from the
defaults (its paper's optimiser settings), for every page and lab that offers a choice of loss.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel

from .checkpoint import CheckpointError, read_checkpoint
from .config import AnomalyRecipe, ClassifierRecipe, Config, ConfigError, DataConfig, TrainConfig, validate_config
from .paths import allowed_data_roots

Recipe = Config | ClassifierRecipe | AnomalyRecipe
Overrides = Mapping[str, Any]  # {"train.lr_g": 1e-4, "train.betas": (0.0, 0.9)}

# What each loss changes from the defaults: the optimiser settings its paper trained with.
# WGAN (Arjovsky 2017, Algorithm 1): RMSProp, lr 5e-5, clip c = 0.01, n_critic = 5.
# WGAN-GP (Gulrajani 2017, Algorithm 1): Adam lr 1e-4, betas (0, 0.9), n_critic = 5, lambda = 10.
LOSS_PRESETS: dict[str, dict[str, Any]] = {
    "minimax": {}, "nonsaturating": {}, "lsgan": {}, "hinge": {},
    "wgan": {"train.clip_value": 0.01, "train.optimizer": "rmsprop", "train.lr_g": 5e-5, "train.lr_d": 5e-5,
             "train.k_d": 5},
    "wgan-gp": {"train.k_d": 5, "train.betas": (0.0, 0.9), "train.lr_g": 1e-4, "train.lr_d": 1e-4,
                "train.gp_weight": 10.0},
}


def _scalar(raw: str) -> Any:
    """A --set value as YAML reads it, except that '1e-4' (a string to YAML 1.1) is a float."""
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        return raw
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def parse_overrides(pairs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """["train.lr_d=1e-4", "model.ngf=32"] -> {"train.lr_d": 1e-4, "model.ngf": 32} (the CLI's --set)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        out[key.strip()] = _scalar(raw)
    return out


def apply_overrides(raw: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    """A copy of the nested recipe `raw` with each dotted key set (sections made as needed)."""
    out = _copy(raw)
    for key, value in overrides.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part, {}), dict):
                raise ConfigError(f"{key}: '{part}' is a value, not a section")
            node = node.setdefault(part, {})
        node[parts[-1]] = list(value) if isinstance(value, tuple) else value
    return out


def _copy(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in raw.items()}


def read_recipe(path: str | Path | None = None, *, text: str | None = None, source: str | None = None
                ) -> dict[str, Any]:
    """The raw (unvalidated) recipe in a file or in YAML text; {} for neither. `source` names it in
    messages (default: the path)."""
    source = source or (str(path) if path is not None else "recipe")
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"no such recipe: {path}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read recipe {path}: {e}") from None
    if text is None:
        return {}
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{source} is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} must hold a mapping of sections (model, data, train), not {type(raw).__name__}")
    return raw


def load_recipe(path: str | Path | None = None, overrides: Overrides | list[str] | tuple[str, ...] | None = None,
                *, text: str | None = None, source: str | None = None) -> Recipe:
    """The validated recipe from a file (`path`) or YAML `text` (or the defaults), with `overrides`
    (a dict, or the CLI's 'key=value' strings)."""
    source = source or (str(path) if path is not None else "recipe")
    raw = read_recipe(path, text=text, source=source)
    if overrides:
        typed = parse_overrides(overrides) if isinstance(overrides, (list, tuple)) else overrides
        raw = apply_overrides(raw, typed)
    return validate_config(raw, source)


def recipe_paths(cfg: BaseModel, prefix: str = "") -> dict[str, str]:
    """Every filesystem location a recipe names, {dotted key: value}: the fields typed PathField."""
    out: dict[str, str] = {}
    for name, field in type(cfg).model_fields.items():
        value = getattr(cfg, name)
        if isinstance(value, BaseModel):
            out.update(recipe_paths(value, f"{prefix}{name}."))
        elif value is not None and (field.json_schema_extra or {}).get("path"):
            out[f"{prefix}{name}"] = str(value)
    return out


def check_paths(cfg: BaseModel, roots: list[Path] | None = None) -> None:
    """Refuse a recipe (from a browser or a bundle) that names a place outside `roots` (default: the
    folders the server allows, gan_core.paths.allowed_data_roots); links are followed first."""
    roots = allowed_data_roots() if roots is None else roots
    for key, value in recipe_paths(cfg).items():
        where = Path(value).expanduser().resolve()
        if not any(where == root or where.is_relative_to(root) for root in roots):
            raise ConfigError(f"{key}: {value} is outside the folders this server lets a recipe read "
                              f"({', '.join(map(str, roots))}); the operator can add a folder to "
                              "GAN_STUDIO_DATA_ROOTS")


def check_init_g(cfg: BaseModel) -> None:
    """train.init_g, if set, must be a checkpoint (verified) whose generator has this recipe's
    architecture: said before a run is queued, not by the run failing later."""
    gan = getattr(cfg, "gan", cfg)  # an anomaly recipe's GAN is its `gan` section
    path = getattr(getattr(gan, "train", None), "init_g", None)
    if path is None:
        return
    try:
        _, card = read_checkpoint(path)
    except CheckpointError as e:
        raise ConfigError(f"train.init_g: {e}") from None
    arch = (card.get("model") or {}).get("arch")
    if arch != gan.model.arch:
        raise ConfigError(f"train.init_g: {Path(path).name} holds a {arch!r} generator, and this recipe trains "
                          f"{gan.model.arch!r}")


def dump_recipe(cfg: BaseModel) -> str:
    """The resolved recipe as YAML (what config.yaml and model cards hold)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# Fields that only some recipes read, by what decides it. A field left at its default where nothing
# reads it is noise on a page ("texture: brick" under an MNIST model), so `essential_recipe` drops it.
_FAMILY_OF_ARCH = {"pix2pix": "paired", "srresnet": "sr", "rrdb": "sr", "cyclegan": "unpaired"}
_DATA_READ_BY = {  # data field -> the data.name values (or "family:<f>") that read it
    "root": {"mnist", "fashion_mnist", "cifar10"}, "download": {"mnist", "fashion_mnist", "cifar10"},
    "path": {"folder", "paired"}, "toy": {"toy"}, "texture": {"texture"}, "patches": {"texture"},
    "split": {"mnist", "fashion_mnist", "cifar10", "mnist5k", "bach_chorales", "uci_digits"},
    "edges": {"family:paired"}, "edge_sigma": {"family:paired"}, "direction": {"paired"},
    "photo_scales": {"photos"}, "photo_set": {"photos"},
    "flip": {"texture", "photos", "folder", "paired", "family:sr"},
    "rotate": {"texture", "photos", "folder", "paired", "family:sr"}, "a": {"unpaired"}, "b": {"unpaired"},
    "max_images": {"mnist", "fashion_mnist", "cifar10", "mnist5k", "folder"},
}
_TRAIN_READ_BY = {  # train field -> the families (or "loss:<l>") that read it
    "gp_weight": {"loss:wgan-gp"}, "momentum": {"opt:sgd"}, "betas": {"opt:adam"},
    "pixel_loss": {"paired", "sr"}, "pixel_weight": {"paired", "sr"}, "perceptual_weight": {"sr"},
    "perceptual_layer": {"sr"}, "adv_weight": {"paired", "sr"}, "init_g": {"paired", "sr"},
    "cycle_weight": {"unpaired"}, "cycle_weight_b": {"unpaired"}, "identity_weight": {"unpaired"},
    "pool_size": {"unpaired"}, "lr_decay_start": {"decay:linear"}, "info_weight": {"codes"},
}


def essential_recipe(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """A resolved recipe (as dumped) without the fields nothing in it reads while they sit at their
    defaults: a texture for MNIST, Canny edges for a DCGAN, a gradient-penalty weight without
    WGAN-GP, instance noise of sigma 0. A field set to anything else is kept: someone chose it.
    Anomaly recipes are trimmed inside their `gan` part."""
    out = _copy(dict(recipe))
    if isinstance(out.get("gan"), dict):
        out["gan"] = essential_recipe(out["gan"])
        return out
    model, data, train = out.get("model") or {}, out.get("data") or {}, out.get("train") or {}
    if not (isinstance(model, dict) and isinstance(data, dict) and isinstance(train, dict)):
        return out
    defaults = {"data": DataConfig().model_dump(mode="json"), "train": TrainConfig().model_dump(mode="json")}
    family = _FAMILY_OF_ARCH.get(model.get("arch"), "gan")
    readers_d = {data.get("name"), f"family:{family}"}
    for key, readers in _DATA_READ_BY.items():
        if key in data and not readers & readers_d and data[key] == defaults["data"].get(key):
            del data[key]
    if data.get("classes") is None:
        data.pop("classes", None)
    if data.get("exclude_classes") == []:
        data.pop("exclude_classes")
    if data.get("clusters") == 0:  # no self-conditioning
        data.pop("clusters")
    readers_t = {family, f"loss:{train.get('loss')}", f"opt:{train.get('optimizer')}",
                 f"decay:{train.get('lr_decay')}", "codes" if model.get("n_codes") else ""}
    for key, readers in _TRAIN_READ_BY.items():
        if key in train and not readers & readers_t and train[key] == defaults["train"].get(key):
            del train[key]
    for key in ("clip_value", "ema_decay", "eval_every", "init_g", "cycle_weight_b"):
        if key in train and train[key] is None:
            del train[key]
    if (train.get("instance_noise") or {}).get("sigma") == 0:
        train.pop("instance_noise")
    if train.get("diffaugment") == []:
        train.pop("diffaugment")
    return out
