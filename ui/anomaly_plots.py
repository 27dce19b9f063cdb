"""Figures, pictures and the words for a detector's measured quality on the Anomaly detection page."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from gan_core.data.images import to_uint8

from .i18n import t
from .plots import COLORS


# Image AUROC in words, from the best down (0.5 is chance, 1 perfect): the first bound it reaches.
AUROC_WORDS = ((0.95, "excellent"), (0.85, "good"), (0.75, "fair"), (0.65, "weak"), (0.0, "chance"))
# Below a "good" AUROC a detector is offered as an experiment, after the ones that work.
GOOD_AUROC = 0.85
METHOD_ORDER = ("encoder", "anogan")


def aurocs(card: dict) -> dict[str, float]:
    """The image AUROC each method reached on the card's validation pictures ({} when none was measured)."""
    val = card.get("validation") or {}
    return {m: float(val[m]["auroc"]) for m in METHOD_ORDER if isinstance(val.get(m), dict) and "auroc" in val[m]}


def auroc_word(value: float) -> str:
    return next(word for bound, word in AUROC_WORDS if value >= bound)


def is_experiment(card: dict) -> bool:
    """Measured, and not good with either method (the shipped texture detectors)."""
    a = aurocs(card)
    return bool(a) and max(a.values()) < GOOD_AUROC


def auroc_span(card: dict) -> str:
    """"0.60–0.63" (the two methods' AUROCs, lowest first) or "0.98" when they round alike."""
    a = sorted(aurocs(card).values())
    low, high = f"{a[0]:.2f}", f"{a[-1]:.2f}"
    return low if low == high else f"{low}–{high}"


def strength(card: dict) -> str:
    """The measured quality in words for the picker: "image AUROC 0.98, excellent", "experiment: image
    AUROC 0.60–0.63, close to chance"; "" for a detector nobody measured (no anomalous pictures)."""
    a = aurocs(card)
    if not a:
        return ""
    words = t("anomaly.strength", auroc=auroc_span(card), word=t(f"anomaly.auroc_{auroc_word(max(a.values()))}"))
    return t("anomaly.strength_experiment", strength=words) if is_experiment(card) else words


def ranked(cards: dict[str, dict]) -> list[str]:
    """Names, the detectors that work first (best AUROC first), then those nobody measured, then the
    experiments (best first); the order found is kept among equals."""
    def key(name: str):
        a = aurocs(cards[name])
        tier = 2 if is_experiment(cards[name]) else (0 if a else 1)
        return tier, -max(a.values(), default=0.0)
    return sorted(cards, key=key)


def false_alarms(figures: dict) -> float | None:
    """The share of normal validation pictures flagged at the automatic threshold, from the card's
    precision, recall and counts (TP = recall·m, FP = TP·(1 − precision)/precision); None if unknown."""
    try:
        tp = figures["recall"] * figures["n_anomalous"]
        return tp * (1 - figures["precision"]) / figures["precision"] / figures["n_normal"]
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def to_pil(x: np.ndarray) -> Image.Image:
    """(C, H, W) in [-1, 1] -> PIL image."""
    arr = to_uint8(torch.from_numpy(x)).numpy()
    return Image.fromarray(arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0))


def heat_overlay(x: np.ndarray, residual: np.ndarray, vmax: float = 1.0) -> Image.Image:
    """The input in grey with the residual |x - G(z*)| laid over it in red (opaque where it is large)."""
    grey = np.asarray(to_pil(x).convert("L"), np.float64) / 255.0
    heat = np.clip(residual / max(vmax, 1e-6), 0, 1)
    rgb = np.stack([grey * (1 - heat) + heat, grey * (1 - heat), grey * (1 - heat)], -1)
    return Image.fromarray((rgb * 255).round().astype(np.uint8))


def mask_picture(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8))


def enlarge(img: Image.Image, size: int = 112) -> Image.Image:
    return img.resize((size, size), Image.NEAREST)


def histogram(scores: np.ndarray, labels: np.ndarray, threshold: float | None, names: tuple[str, str]) -> go.Figure:
    fig = go.Figure()
    for value, name, colour in ((0, names[0], COLORS[2]), (1, names[1], COLORS[1])):
        fig.add_trace(go.Histogram(x=scores[labels == value], name=name, opacity=0.65, nbinsx=40,
                                   marker_color=colour))
    if threshold is not None:
        fig.add_vline(x=threshold, line={"color": "black", "dash": "dash"})
    fig.update_layout(barmode="overlay", height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis_title=t("anomaly.axis_score"), legend={"orientation": "h", "y": 1.1})
    return fig


def roc_pr(curves: dict[str, np.ndarray], auroc: float, auprc: float) -> go.Figure:
    from plotly.subplots import make_subplots
    fig = make_subplots(1, 2, subplot_titles=(t("anomaly.axis_roc", auroc=f"{auroc:.3f}"),
                                              t("anomaly.axis_pr", auprc=f"{auprc:.3f}")))
    fig.add_trace(go.Scatter(x=curves["fpr"], y=curves["tpr"], mode="lines", line={"color": COLORS[0]},
                             showlegend=False), 1, 1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "#bbbbbb", "dash": "dot"},
                             showlegend=False), 1, 1)
    fig.add_trace(go.Scatter(x=curves["recall"], y=curves["precision"], mode="lines", line={"color": COLORS[1]},
                             showlegend=False), 1, 2)
    fig.update_xaxes(title_text=t("anomaly.axis_fpr"), range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text=t("anomaly.axis_tpr"), range=[0, 1.02], row=1, col=1)
    fig.update_xaxes(title_text=t("anomaly.axis_recall"), range=[0, 1], row=1, col=2)
    fig.update_yaxes(title_text=t("anomaly.axis_precision"), range=[0, 1.02], row=1, col=2)
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig
