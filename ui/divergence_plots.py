"""Plotly figures for the Divergences page: the parallel lines, the divergences over theta, the
generator's gradient from a trained D and critic, and Gaussian fits to a two-mode mixture."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gan_core.lab.divergences import FIT_DIVERGENCES, GradientHistory, MixtureFits

from .i18n import t

DATA, MODEL = "#1f77b4", "#ff7f0e"           # P0 and P_theta
GAN, WGAN = "#d62728", "#2ca02c"             # the GAN discriminator and the WGAN critic
FIT_STYLE = {"kl_pq": ("#1f77b4", "solid"), "kl_qp": ("#d62728", "dash"), "js": ("#9467bd", "dot")}
FONT = dict(family="sans-serif", size=13)
CONFIG = {"displayModeBar": False}  # its buttons would sit on the legends; drag to zoom still works


def format_divergence(value: float) -> str:
    """Three decimals, or ∞; a divergence is >= 0, so a rounding error below 0 shows as 0.000."""
    return "∞" if math.isinf(value) else f"{max(value, 0.0):.3f}"


def format_number(value: float, digits: int = 2) -> str:
    """Fixed decimals without a "-0.00" for a value that rounds to zero."""
    return f"{round(value, digits) + 0.0:.{digits}f}"


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    """Shared look: the legend in a row above the plot unless `legend` says otherwise."""
    kw.setdefault("legend", dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), font=FONT, **kw)
    return fig


def lines_figure(theta: float) -> go.Figure:
    """P0 = (0, Z) and P_theta = (theta, Z), Z ~ U[0, 1], as two vertical segments."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 0], y=[0, 1], mode="lines", line=dict(color=DATA, width=6),
                             name=t("divergences.p0_name")))
    # dashed, so that at theta = 0 the data line still shows through the model's
    fig.add_trace(go.Scatter(x=[theta, theta], y=[0, 1], mode="lines", line=dict(color=MODEL, width=4, dash="dash"),
                             name=t("divergences.ptheta_name")))
    if theta != 0:
        fig.add_annotation(x=theta, y=0.5, ax=0, ay=0.5, xref="x", yref="y", axref="x", ayref="y",
                           showarrow=True, arrowhead=2, arrowside="start", arrowcolor="#555")
        # beside the outer line, not between them: at small theta the gap is narrower than the label
        fig.add_annotation(x=max(0.0, theta) + 0.04, y=0.5, text=t("divergences.w1_arrow", value=f"{abs(theta):.2f}"),
                           showarrow=False, xanchor="left", font=dict(color="#333"), bgcolor="rgba(255,255,255,0.85)")
    fig.update_xaxes(range=[-1.25, 1.25], title_text="x", zeroline=False)
    fig.update_yaxes(range=[-0.1, 1.1], title_text="z", zeroline=False)
    return _layout(fig, 320)


def curves_figure(curves: dict[str, np.ndarray], theta: float, now: dict[str, float]) -> go.Figure:
    """JS, TV and W1 over theta (KL is infinite off theta = 0, so it is named, not drawn), with the
    jump at theta = 0 shown by the values there and `now` marked at the current theta."""
    fig = go.Figure()
    names = {"js": t("divergences.js_short"), "tv": t("divergences.tv_short"), "w1": t("divergences.w1_short")}
    colors = {"js": GAN, "tv": "#7f7f7f", "w1": WGAN}
    for key, name in names.items():
        fig.add_trace(go.Scatter(x=curves["theta"], y=curves[key], mode="lines", name=name,
                                 line=dict(color=colors[key], width=2.5)))
    # at theta = 0 JS and TV drop to 0: an open circle where the line is, a dot at the value
    fig.add_trace(go.Scatter(x=[0, 0], y=[math.log(2), 1], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(symbol="circle-open", size=10, color=[GAN, "#7f7f7f"], line=dict(width=2))))
    fig.add_trace(go.Scatter(x=[0], y=[0], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(size=9, color="#333")))
    fig.add_trace(go.Scatter(x=[theta] * 3, y=[now["js"], now["tv"], now["w1"]], mode="markers",
                             name=t("divergences.current_theta"),
                             marker=dict(size=12, color=[GAN, "#7f7f7f", WGAN], line=dict(color="black", width=1.5))))
    fig.add_vline(x=theta, line=dict(color="#999", dash="dot"))
    fig.add_annotation(x=0, y=1.22, text=t("divergences.kl_infinite"), showarrow=False, font=dict(color="#555"))
    fig.update_xaxes(range=[-1.05, 1.05], title_text="θ")
    fig.update_yaxes(range=[-0.05, 1.32], title_text=t("divergences.divergence_axis"))
    return _layout(fig, 320)


def gradient_figure(history: GradientHistory, theta: float, gan_loss_name: str) -> go.Figure:
    """|dL_G/dtheta| over the theta grid at the latest reading, on a log scale, next to
    |dW1/dtheta| = 1."""
    thetas = history.thetas
    gan, wgan = np.abs(history.gan_grad[-1]), np.abs(history.wgan_grad[-1])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=thetas, y=gan, mode="lines+markers", line=dict(color=GAN, width=2.5),
                             name=t("divergences.gan_trace", loss=gan_loss_name)))
    fig.add_trace(go.Scatter(x=thetas, y=wgan, mode="lines+markers", line=dict(color=WGAN, width=2.5),
                             name=t("divergences.wgan_trace")))
    fig.add_hline(y=1.0, line=dict(color="#555", dash="dash"),
                  annotation_text=t("divergences.w1_slope"), annotation_position="bottom right")
    fig.add_vline(x=theta, line=dict(color="#999", dash="dot"))
    fig.update_xaxes(range=[-1.05, 1.05], title_text="θ")
    fig.update_yaxes(type="log", dtick=1, title_text=t("divergences.grad_axis"), exponentformat="power")
    return _layout(fig, 380)


def training_figure(history: GradientHistory, index: int, lipschitz: str) -> go.Figure:
    """At one grid theta, over the training steps: the losses of D and of the critic (left) and
    the generator's |dL_G/dtheta| from each (right, log scale)."""
    steps = history.read_at
    theta = float(history.thetas[index])
    d_loss = [row[index] for row in history.d_loss]
    c_loss = [row[index] for row in history.critic_loss]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=(t("divergences.losses_title"), t("divergences.grad_steps_title")))
    fig.add_trace(go.Scatter(x=steps, y=d_loss, mode="lines", line=dict(color=GAN, width=2.5),
                             name=t("divergences.d_loss_trace")), 1, 1)
    fig.add_trace(go.Scatter(x=steps, y=c_loss, mode="lines", line=dict(color=WGAN, width=2.5),
                             name=t("divergences.c_loss_trace")), 1, 1)
    # where the losses head: L_D -> log 4 - 2 JS = 0, and L_C -> -W1 = -|theta| for a slope-1 critic
    if theta != 0:
        fig.add_trace(go.Scatter(x=[steps[0], steps[-1]], y=[0, 0], mode="lines", line=dict(color=GAN, dash="dot"),
                                 name=t("divergences.d_loss_limit")), 1, 1)
        if lipschitz == "gp":
            fig.add_trace(go.Scatter(x=[steps[0], steps[-1]], y=[-abs(theta)] * 2, mode="lines",
                                     line=dict(color=WGAN, dash="dot"), name=t("divergences.c_loss_limit")), 1, 1)
    fig.add_trace(go.Scatter(x=steps, y=[abs(row[index]) for row in history.gan_grad], mode="lines",
                             line=dict(color=GAN, width=2.5), showlegend=False), 1, 2)
    fig.add_trace(go.Scatter(x=steps, y=[abs(row[index]) for row in history.wgan_grad], mode="lines",
                             line=dict(color=WGAN, width=2.5), showlegend=False), 1, 2)
    fig.update_xaxes(title_text=t("divergences.step_axis"))
    fig.update_yaxes(title_text=t("divergences.loss_axis"), row=1, col=1)
    fig.update_yaxes(type="log", dtick=1, title_text=t("divergences.grad_axis"), exponentformat="power", row=1, col=2)
    fig.update_annotations(font=FONT)
    return _layout(fig, 360, legend=dict(orientation="h", yanchor="top", y=-0.22, x=0))


def fits_figure(fits: MixtureFits) -> go.Figure:
    """The two-mode density p, filled, and the Gaussian q that each divergence chose."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=fits.x, y=fits.p, mode="lines", fill="tozeroy", line=dict(color="#444", width=1.5),
                             fillcolor="rgba(100,100,100,0.2)", name=t("divergences.p_trace")))
    for name in FIT_DIVERGENCES:
        color, dash = FIT_STYLE[name]
        fig.add_trace(go.Scatter(x=fits.x, y=fits.density(name), mode="lines", line=dict(color=color, dash=dash, width=3),
                                 name=t(f"divergences.fit_{name}")))
    # the fits' grid reaches far past p, so that no fit loses mass off it; show where there is mass
    densities = np.vstack([fits.p] + [fits.density(name) for name in FIT_DIVERGENCES])
    seen = fits.x[densities.max(axis=0) > 1e-3 * densities.max()]
    fig.update_xaxes(title_text="x", range=[seen.min(), seen.max()])
    fig.update_yaxes(title_text=t("divergences.density_axis"), rangemode="tozero")
    return _layout(fig, 380)
