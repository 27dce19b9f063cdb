"""Plotly figures for the GAN in 1D page: Figure 1 of Goodfellow et al. (2014), and V(G, D) and
C(G) over the training steps."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gan_core.lab.gan1d import View

from .i18n import t

# the paper's colours: data black, generator green, discriminator blue
DATA, MODEL, DISC, OPTIMAL, GHOST = "#222222", "#2ca02c", "#1f77b4", "#d62728", "#b8b8b8"
FONT = dict(family="sans-serif", size=13)
MINUS_LOG_4 = -math.log(4.0)
Z_SPAN = 0.8  # the z line [-1, 1] is drawn under the middle 80% of the x axis


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), font=FONT,
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), **kw)
    return fig


def z_positions(z: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Where z in [-1, 1] sits on the lower line: the middle Z_SPAN of [lo, hi]."""
    centre, half = (lo + hi) / 2, Z_SPAN * (hi - lo) / 2
    return centre + np.asarray(z) * half


def game_figure(view: View, before: View | None = None) -> go.Figure:
    """Upper panel: p_data (dashed), p_g (solid), D (dotted) and D* on [0, 1]; lower panel: the
    mapping x = G(z), a line from each z on the lower axis to G(z) on the upper one.
    `before` (phase (c)) adds p_g and G(z) as they were before G's update, in grey."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.04,
                        specs=[[{"secondary_y": True}], [{}]])
    x = view.x
    if before is not None:
        fig.add_trace(go.Scatter(x=before.x, y=before.p_g, mode="lines", line=dict(color=GHOST, width=2),
                                 name=t("gan_1d.plot_pg_before")), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=view.p_data, mode="lines", line=dict(color=DATA, width=2, dash="dash"),
                             name=t("gan_1d.plot_pdata")), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=view.p_g, mode="lines", line=dict(color=MODEL, width=2.5),
                             name=t("gan_1d.plot_pg")), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=view.d, mode="lines", line=dict(color=DISC, width=2.5, dash="dot"),
                             name=t("gan_1d.plot_d")), row=1, col=1, secondary_y=True)
    # D* is arbitrary where neither distribution has mass; draw it only where they do
    total = view.p_data + view.p_g
    d_star = np.where(total > 1e-3 * total.max(), view.d_star, np.nan)
    fig.add_trace(go.Scatter(x=x, y=d_star, mode="lines", line=dict(color=OPTIMAL, width=1.5, dash="dashdot"),
                             name=t("gan_1d.plot_d_star")), row=1, col=1, secondary_y=True)

    lo, hi = float(x[0]), float(x[-1])
    if before is not None:
        _mapping(fig, before.z, before.gz, lo, hi, GHOST)
    _mapping(fig, view.z, view.gz, lo, hi, MODEL)
    for y in (0, 1):  # the two domains: z below, x above
        fig.add_trace(go.Scatter(x=[lo, hi], y=[y, y], mode="lines", line=dict(color=DATA, width=1),
                                 hoverinfo="skip", showlegend=False), row=2, col=1)

    shown = [view.p_data, view.p_g] + ([before.p_g] if before is not None else [])
    top = 1.1 * max(max(float(p.max()) for p in shown), 1e-6)
    fig.update_yaxes(range=[0, top], title_text=t("gan_1d.plot_density"), row=1, col=1, secondary_y=False)
    fig.update_yaxes(range=[0, 1.05], title_text=t("gan_1d.plot_d_axis"), row=1, col=1, secondary_y=True,
                     showgrid=False, tickvals=[0, 0.5, 1])
    fig.update_yaxes(range=[-0.25, 1.25], tickvals=[0, 1], ticktext=["z", "x"], showgrid=False, zeroline=False,
                     row=2, col=1)
    fig.update_xaxes(range=[lo, hi], row=1, col=1)
    fig.update_xaxes(range=[lo, hi], title_text="x", row=2, col=1)
    return _layout(fig, 540, hovermode="x unified")


def _mapping(fig: go.Figure, z: np.ndarray, gz: np.ndarray, lo: float, hi: float, color: str) -> None:
    zx = z_positions(z, lo, hi)
    # one trace of segments separated by gaps keeps the figure small for the live view
    xs = np.column_stack([zx, gz, np.full_like(zx, np.nan)]).ravel()
    ys = np.tile([0.0, 1.0, np.nan], len(zx))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", line=dict(color=color, width=1.2),
                             marker=dict(size=5, color=color), showlegend=False,
                             hoverinfo="skip", connectgaps=False), row=2, col=1)


def history_figure(history: list[dict[str, float]]) -> go.Figure:
    """V(G, D) and C(G) after every action, over the generator steps, with C's minimum -log 4."""
    g = [h["g_steps"] for h in history]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=g, y=[h["value"] for h in history], mode="lines+markers", marker=dict(size=4),
                             line=dict(color=DISC, width=2), name=t("gan_1d.plot_value")))
    fig.add_trace(go.Scatter(x=g, y=[h["criterion"] for h in history], mode="lines+markers", marker=dict(size=4),
                             line=dict(color=MODEL, width=2), name=t("gan_1d.plot_criterion")))
    if g:  # C(G)'s minimum, as a legend entry: a label on the line would sit on the curves
        fig.add_trace(go.Scatter(x=[0, max(max(g), 1)], y=[MINUS_LOG_4] * 2, mode="lines", hoverinfo="skip",
                                 line=dict(color=DATA, width=1, dash="dot"), name=t("gan_1d.plot_minus_log4")))
    fig.update_xaxes(title_text=t("gan_1d.plot_g_steps"), rangemode="tozero")
    return _layout(fig, 300)
