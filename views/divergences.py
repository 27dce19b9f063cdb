"""Divergences: JS, KL, TV and W1 on two parallel lines, the gradient a trained D or critic gives
the generator (live), and one Gaussian fitted to two modes by KL both ways and by JS."""
import streamlit as st

from gan_core import theory
from gan_core.lab.divergences import (FIT_DIVERGENCES, GAN_LOSSES, LIPSCHITZ, GradientSettings,
                                      ParallelLinesGradients, fit_gaussians, parallel_lines_curves)
from ui.divergence_plots import (CONFIG, curves_figure, fits_figure, format_divergence, format_number, gradient_figure,
                                 lines_figure, training_figure)
from ui.i18n import localized_choice, t

LABS = "div_labs"        # session_state: {GradientSettings: ParallelLinesGradients}, this session's runs
KEEP_RUNS = 8
CHUNK_S = 0.4            # training time per live update; the page stays responsive in between
REFRESH_S = 0.1

st.title(t("divergences.title"))
st.caption(t("divergences.intro"))

# ---------------------------------------------------------------- 1. parallel lines
st.header(t("divergences.lines_title"))
st.markdown(t("divergences.lines_intro"))
theta = st.slider(t("divergences.theta"), -1.0, 1.0, 0.5, 0.05, key="div_theta", bind="query-params",
                  help=t("divergences.theta_help"))
now = theory.parallel_lines(theta)
for col, key in zip(st.columns(5), ("js", "kl_pq", "kl_qp", "tv", "w1")):
    col.metric(t(f"divergences.metric_{key}"), format_divergence(now[key]), help=t(f"divergences.metric_{key}_help"))

left, right = st.columns(2, gap="large")
left.plotly_chart(lines_figure(theta), key="div_lines_plot", config=CONFIG)
right.plotly_chart(curves_figure(parallel_lines_curves(), theta, now), key="div_curves_plot", config=CONFIG)

left, right = st.columns(2, gap="large")
with left:
    st.markdown(t("divergences.js_why"))
    st.latex(r"\begin{aligned}\mathrm{JS}(P_0, P_\theta) &= \tfrac12\,\mathrm{KL}(P_0 \Vert M)"
             r" + \tfrac12\,\mathrm{KL}(P_\theta \Vert M) \\ &= \tfrac12\log 2 + \tfrac12\log 2 = \log 2"
             r"\end{aligned}")
    st.markdown(t("divergences.js_gradient"))
with right:
    st.markdown(t("divergences.w1_why"))
    st.latex(r"\begin{aligned}W_1(P_0, P_\theta) &= \sup_{\|f\|_L \le 1}\; \mathbb{E}_{P_0}[f]"
             r" - \mathbb{E}_{P_\theta}[f] \\ &= |\theta|, \qquad"
             r" \frac{\mathrm{d}W_1}{\mathrm{d}\theta} = \operatorname{sign}\theta \end{aligned}")
    st.markdown(t("divergences.w1_gradient"))

# ---------------------------------------------------------------- 2. the gradient G gets, live
st.header(t("divergences.grad_title"))
st.markdown(t("divergences.grad_intro"))
labs: dict = st.session_state.setdefault(LABS, {})
running = any(not lab.done for lab in labs.values())


def experiment_settings() -> GradientSettings:
    c1, c2, c3, c4 = st.columns(4)
    n = c1.select_slider(t("divergences.grid"), [5, 9, 21, 41], value=9, key="div_grid",
                         help=t("divergences.grid_help"))
    steps = c2.select_slider(t("divergences.steps"), [50, 100, 200, 300, 500, 1000, 2000], value=300,
                             key="div_steps", help=t("divergences.steps_help"))
    with c3:
        gan_loss = localized_choice(st.selectbox, t("divergences.gan_loss"), list(GAN_LOSSES), "div_gan_loss",
                                    "minimax", lambda o: t(f"divergences.gan_loss_{o}"), in_url=True)
    with c4:
        lipschitz = localized_choice(st.selectbox, t("divergences.lipschitz"), list(LIPSCHITZ), "div_lipschitz",
                                     "gp", lambda o: t(f"divergences.lipschitz_{o}"), in_url=True)
        clip = 0.1
        if lipschitz == "clip":
            clip = st.select_slider(t("divergences.clip"), [0.01, 0.02, 0.05, 0.1], value=0.1, key="div_clip",
                                    help=t("divergences.clip_help"))
    st.caption(t("divergences.lipschitz_help"))
    return GradientSettings(n_thetas=n, steps=steps, gan_loss=gan_loss, lipschitz=lipschitz, clip_value=clip)


@st.fragment(run_every=REFRESH_S if running else None)
def gradient_experiment(theta: float) -> None:
    settings = experiment_settings()
    # a run left half-way when its settings changed is dropped: only the shown run trains
    for stale in [k for k, lab in labs.items() if k != settings and not lab.done]:
        del labs[stale]
    lab = labs.get(settings)
    label = t("divergences.restart") if lab is not None else t("divergences.start")
    clicked = st.button(label, key="div_start", type="primary", icon=":material/play_arrow:")
    if clicked:
        labs.pop(settings, None)
        while len(labs) >= KEEP_RUNS:
            labs.pop(next(iter(labs)))
        labs[settings] = lab = ParallelLinesGradients(settings)
    if lab is None:
        st.info(t("divergences.grad_press"))
    else:
        if not lab.done:
            lab.train_for(CHUNK_S)
        if lab.done:
            st.caption(t("divergences.grad_done", steps=settings.steps, n=settings.n_thetas,
                         seconds=f"{lab.seconds:.1f}"))
        else:
            st.progress(lab.progress, text=t("divergences.grad_progress", step=lab.step, steps=settings.steps))
        gan_name = t(f"divergences.gan_loss_{settings.gan_loss}")
        st.markdown(t("divergences.grad_plot_title", step=lab.history.read_at[-1]))
        st.plotly_chart(gradient_figure(lab.history, theta, gan_name), key="div_grad_plot", config=CONFIG)
        index = lab.history.nearest(theta)
        st.markdown(t("divergences.at_theta", theta=f"{lab.history.thetas[index]:.2f}"))
        st.plotly_chart(training_figure(lab.history, index, settings.lipschitz), key="div_train_plot", config=CONFIG)
    # switch the live refresh on or off; a run done within its first chunk relabels the button
    if running != (lab is not None and not lab.done) or (clicked and lab.done):
        st.rerun()


gradient_experiment(theta)
st.markdown(t("divergences.grad_read"))

# ---------------------------------------------------------------- 3. KL both ways
st.header(t("divergences.kl_title"))
st.markdown(t("divergences.kl_intro"))


@st.cache_data(max_entries=64, show_spinner=False)
def cached_fits(separation: float, std_left: float, std_right: float):
    return fit_gaussians(separation, std_left, std_right)


c1, c2, c3 = st.columns(3)
separation = c1.slider(t("divergences.separation"), 0.0, 8.0, 6.0, 0.5, key="div_sep", bind="query-params")
std_left = c2.slider(t("divergences.std_left"), 0.3, 2.0, 0.7, 0.1, key="div_std_left", bind="query-params")
std_right = c3.slider(t("divergences.std_right"), 0.3, 2.0, 1.0, 0.1, key="div_std_right", bind="query-params")
with st.spinner(t("divergences.fitting")):
    fits = cached_fits(separation, std_left, std_right)
plot, table = st.columns([3, 2], gap="large")
plot.plotly_chart(fits_figure(fits), key="div_fits_plot", config=CONFIG)
table.dataframe([{t("divergences.col_fit"): t(f"divergences.minimised_{name}"),
                  t("divergences.col_mean"): format_number(fits.fits[name].mean),
                  t("divergences.col_std"): format_number(fits.fits[name].std),
                  t("divergences.col_value"): format_divergence(fits.fits[name].value)} for name in FIT_DIVERGENCES],
                hide_index=True)
table.caption(t("divergences.fits_caption"))
for col, key in zip(st.columns(3, gap="large"), ("kl_cover", "kl_seek", "kl_js")):
    col.markdown(t(f"divergences.{key}"))
