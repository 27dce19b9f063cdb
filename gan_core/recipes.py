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
from .config import AnomalyRecipe, ClassifierRecipe, Config, ConfigError, validate_config
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
