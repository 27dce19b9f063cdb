"""The models pages offer (one catalog: shipped, imported this session, trained in runs) and their
loading, cached per checkpoint file version and shared read-only by all sessions."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from gan_core.apps.anomaly import load_detector, run_detectors
from gan_core.apps.cyclegan import load_translator
from gan_core.apps.music import load_music_generator
from gan_core.apps.pix2pix import load_sketcher
from gan_core.apps.superres import load_upscaler
from gan_core.checkpoint import list_checkpoints, read_card
from gan_core.config import MODEL_CONFIGS
from gan_core.paths import checkpoints_dir
from gan_core.runs import RunDir, RunIndex, runs_root
from gan_core.sampling import LoadedGenerator, load_generator

from .auth import may_view
from .imports import session_folder


def archs_of(*families: str) -> tuple[str, ...]:
    """The architectures whose generator maps to one of these families ("image", "points", "music", "paired")."""
    return tuple(arch for arch, config in MODEL_CONFIGS.items() if config.family in families)


@dataclass(frozen=True)
class PageModel:
    """A model a page offers."""
    label: str           # its name in the page's list (unique there): the card's name, or "name (run id)"
    path: Path           # its weights (the card is beside them)
    card: dict
    source: str          # "shipped", "imported" (this session, for this page) or "run"
    run: RunDir | None = None


def page_models(archs: tuple[str, ...], kind: str = "gan", imports: str | None = None,
                runs: bool = False) -> dict[str, PageModel]:
    """The models of these architectures and card kind a page offers, by label: the shipped ones
    (checkpoints_dir()), then this session's imports for the page whose key prefix is `imports`,
    then, with `runs`, those trained in runs that the visitor may see (with sign-in: their own and
    those shared with the team; ui/auth.py) — a run's latest checkpoint, a detector run's detector —
    newest run first."""
    found: dict[str, PageModel] = {}

    def offer(path: Path, card: dict, source: str, run: RunDir | None = None) -> None:
        if (card.get("model") or {}).get("arch", "dcgan") not in archs:
            return
        label = card["name"]
        if label in found:
            if run is None:  # an import never hides a shipped model of its name
                return
            label = f"{label} ({run.id})"
        found[label] = PageModel(label, path, card, source, run)

    for path, card in list_checkpoints(checkpoints_dir(), kinds=(kind,)):
        offer(path, card, "shipped")
    folder = session_folder(imports, create=False) if imports else None
    for path, card in list_checkpoints(folder, kinds=(kind,)) if folder else []:
        offer(path, card, "imported")
    for path, card, run in _run_models(kind) if runs else []:
        offer(path, card, "run", run)
    return found


def _run_models(kind: str) -> list[tuple[Path, dict, RunDir]]:
    """(weights, card, run) of what runs trained: detectors for kind "anomaly", else each run's latest
    checkpoint."""
    if kind == "anomaly":
        detectors = [(path, card, RunDir(path.parent)) for path, card in run_detectors()]
        return [(path, card, run) for path, card, run in detectors if may_view(run)]
    out = []
    for run in (RunDir(runs_root() / row["id"]) for row in RunIndex().rows()):
        ckpt = run.latest_checkpoint() if may_view(run) else None  # others' checkpoints are not even read
        if ckpt is not None:
            out.append((ckpt, read_card(ckpt), run))
    return out


def _load_classifier(path, device):
    # heavy (torchmetrics): imported only when a page reads digits
    from gan_core.metrics.images import load_classifier
    return load_classifier(path, device)


LOADERS = {"generator": load_generator, "music": load_music_generator, "detector": load_detector,
           "sketcher": load_sketcher, "upscaler": load_upscaler, "translator": load_translator,
           "classifier": _load_classifier}


@st.cache_resource(max_entries=32, show_spinner=False)
def _load(kind: str, path: str, mtime_ns: int):
    return LOADERS[kind](path, "cpu")


def cached_model(kind: str, path: Path):
    """The model at `path` ('generator', 'music', 'detector', 'sketcher', 'upscaler', 'translator' or
    'classifier', the digit readers); a rewritten file (new mtime) is loaded afresh. Callers must not
    modify it: the same object serves every session."""
    return _load(kind, str(path), path.stat().st_mtime_ns)


def cached_generator(path: Path) -> LoadedGenerator:
    return cached_model("generator", path)


# What a shipped card is loaded as, by its kind and its generator's architecture.
_LOADER_OF_ARCH = {"pix2pix": "sketcher", "srresnet": "upscaler", "rrdb": "upscaler", "cyclegan": "translator",
                   "musegan": "music"}
# The models pages open on, loaded first.
OPENING = ("mnist_cgan", "pix2pix_digits", "sr_srresnet_x4", "cyclegan_digits", "anomaly_mnist_0", "music_hybrid",
           "mnist_classifier")


def loader_kind(card: dict) -> str:
    """'generator', 'sketcher', ... : how `cached_model` loads the checkpoint of this card."""
    if card.get("kind") in ("anomaly", "classifier"):
        return {"anomaly": "detector", "classifier": "classifier"}[card["kind"]]
    return _LOADER_OF_ARCH.get((card.get("model") or {}).get("arch", "dcgan"), "generator")


def warm_models() -> list[str]:
    """Read every shipped model into the shared cache, the ones pages open on first (ui/serve.py runs
    this at server start). Returns the names loaded; one that fails to load is left to its page."""
    shipped = list_checkpoints(checkpoints_dir())
    shipped.sort(key=lambda pc: OPENING.index(pc[1]["name"]) if pc[1].get("name") in OPENING else len(OPENING))
    loaded = []
    for path, card in shipped:
        try:
            cached_model(loader_kind(card), path)
            loaded.append(card["name"])
        except Exception:  # noqa: BLE001  (a damaged checkpoint is reported by the page that offers it)
            continue
    return loaded
