"""Figures and pictures for the Anomaly detection page."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from gan_core.data.images import to_uint8

from .i18n import t
from .plots import COLORS


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
