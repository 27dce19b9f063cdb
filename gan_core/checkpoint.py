"""Checkpoints: NAME.safetensors (tensors only) + NAME.json (the model card).

Nothing here unpickles. The card records the sha256 of the weights file, so a
weights file that was modified, swapped or half-written is refused with a
message rather than loaded. Both files are written atomically (temp + rename),
weights first: a crash between the two renames leaves a card whose hash does
not match, which `read_checkpoint` reports and resume skips.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import platform
import re
import time
import warnings
from pathlib import Path
from typing import Any

import numpy
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor, nn

from . import __version__
from .io import atomic_write_bytes, atomic_write_json

FORMAT = "gan-studio/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says why."""


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """'x', 'x.safetensors' or 'x.json' -> (x.safetensors, x.json)."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def library_versions() -> dict[str, str]:
    return {"gan_core": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def save_checkpoint(path: str | Path, tensors: dict[str, Tensor], card: dict[str, Any]) -> Path:
    """Write tensors and their card; returns the .safetensors path."""
    weights_path, card_path = checkpoint_paths(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    blob = st_save(tensors, metadata={"format": FORMAT})
    full_card = {
        "format": FORMAT,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": library_versions(),
        **card,
        "weights_file": weights_path.name,
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
        "weights_bytes": len(blob),
    }
    atomic_write_bytes(weights_path, blob)
    atomic_write_json(card_path, full_card)
    return weights_path


def read_card(path: str | Path) -> dict[str, Any]:
    _, card_path = checkpoint_paths(path)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{card_path.name}: model card not found (a checkpoint is NAME.safetensors "
                              "plus NAME.json side by side)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{card_path.name}: the model card is not readable JSON ({e})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError(f"{card_path.name}: not a GAN Studio model card (format {FORMAT!r} expected)")
    return card


def read_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """(tensors, card), after checking that the weights are the ones the card describes."""
    weights_path, _ = checkpoint_paths(path)
    card = read_card(path)
    try:
        blob = weights_path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{weights_path.name}: weights file not found") from None
    except OSError as e:
        raise CheckpointError(f"{weights_path.name}: cannot be read ({e})") from None
    if hashlib.sha256(blob).hexdigest() != card.get("weights_sha256"):
        raise CheckpointError(f"{weights_path.name}: the weights do not match their model card "
                              "(the file was modified, truncated or only partly written)")
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{weights_path.name}: not a valid safetensors file ({e})") from None
    return tensors, card


def load_module(module: nn.Module, tensors: dict[str, Tensor], prefix: str, source: str = "checkpoint") -> None:
    """Load tensors[prefix + '.' + key] into module, reporting every missing, unexpected or misshapen key."""
    want = module.state_dict()
    got = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    missing = [k for k in want if k not in got]
    unexpected = sorted(k for k in got if k not in want)
    misshapen = [f"{k}: checkpoint {tuple(got[k].shape)} vs model {tuple(want[k].shape)}"
                 for k in want if k in got and got[k].shape != want[k].shape]
    if missing or unexpected or misshapen:
        def listing(title: str, keys: list[str], show: int = 12) -> str:
            more = f"\n    ... and {len(keys) - show} more" if len(keys) > show else ""
            return f"{title} ({len(keys)}):\n    " + "\n    ".join(keys[:show]) + more
        parts = []
        if misshapen:
            parts.append(listing("shape mismatches", misshapen))
        if missing:
            parts.append(listing("missing keys", missing))
        if unexpected:
            parts.append(listing("unexpected keys", unexpected))
        raise CheckpointError(f"{source}: the '{prefix}' weights do not fit this architecture\n  "
                              + "\n  ".join(parts))
    module.load_state_dict(got)


def generator_prefix(tensors: dict[str, Tensor]) -> str:
    """Which generator to sample from: the EMA copy 'G_ema' when the checkpoint has one, else 'G'."""
    return "G_ema" if any(k.startswith("G_ema.") for k in tensors) else "G"


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The newest step_*.json in `directory` whose weights verify; damaged ones are skipped."""
    for card in sorted(Path(directory).glob("step_*.json"), reverse=True):
        try:
            read_checkpoint(card)
            return card.with_suffix(".safetensors")
        except CheckpointError:
            continue
    return None


def module_tensors(module: nn.Module, prefix: str) -> dict[str, Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def optimizer_tensors(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer's state dict into tensors (for safetensors) and JSON (the rest)."""
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                tensors[f"{prefix}.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict[str, Any],
                   prefix: str) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            idx, key = name[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(idx), {})[key] = value
    for idx, values in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(values)
    try:
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (KeyError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"optimizer '{prefix}' state does not fit this model ({e})") from None


def import_torch_state_dict(path: str | Path) -> dict[str, Tensor]:
    """A .pth/.pt state dict from elsewhere, loaded with weights_only=True: no code runs, pickled
    objects other than tensors and plain containers are refused."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols: not the user's business
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{Path(path).name}: no such file") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, OSError) as e:
        # torch's message suggests weights_only=False, which would run the file's code: name the
        # offending object, never that advice
        found = re.search(r"(Unsupported global: GLOBAL [\w.]+|Unsupported operand \d+|[^\n]*truncat[^\n]*|"
                          r"invalid load key[^\n]*)", str(e))
        detail = found.group(1).strip() if found else type(e).__name__
        raise CheckpointError(f"{Path(path).name}: refused, not a plain tensor state dict (only weights are ever "
                              f"loaded, never code; {detail})") from None
    for key in ("params_ema", "params", "state_dict", "model"):  # common wrappers
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{Path(path).name}: expected a dict of tensors (a state dict)")
    return dict(obj)


def list_checkpoints(directory: str | Path, kinds: tuple[str, ...] | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """(weights path, card) for every readable model card in `directory`, sorted by name.
    Only cards are read here (cheap); weights are verified when a checkpoint is loaded."""
    out = []
    for card_path in sorted(Path(directory).glob("*.json")):
        try:
            card = read_card(card_path)
        except CheckpointError:
            continue
        if kinds is None or card.get("kind") in kinds:
            out.append((card_path.with_suffix(".safetensors"), card))
    return out
