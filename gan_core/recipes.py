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

from .config import (
    AnomalyRecipe,
    ClassifierRecipe,
    Config,
    ConfigError,
    validate_config,
)

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


def read_recipe(path: str | Path | None = None, *, text: str | None = None) -> dict[str, Any]:
    """The raw (unvalidated) recipe in a file or in YAML text; {} for neither."""
    source = str(path) if path is not None else "recipe"
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
                *, text: str | None = None) -> Recipe:
    """The validated recipe from a file (`path`) or YAML `text` (or the defaults), with `overrides`
    (a dict, or the CLI's 'key=value' strings)."""
    raw = read_recipe(path, text=text)
    if overrides:
        typed = parse_overrides(overrides) if isinstance(overrides, (list, tuple)) else overrides
        raw = apply_overrides(raw, typed)
    return validate_config(raw, str(path) if path is not None else "recipe")


def dump_recipe(cfg: BaseModel) -> str:
    """The resolved recipe as YAML (what config.yaml and model cards hold)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
