"""GAN in 1D: Figure 1 of Goodfellow et al. (2014), made live with a small G and D on a 1D p_data."""
from functools import partial

import streamlit as st

from gan_core.lab.gan1d import (EQUILIBRIUM_JS, GAN_LOSSES, PHASE_CHUNK, PHASES, Gan1D, InvalidMixture, Mixture,
                                Settings)
from gan_core.errors import TrainingDiverged
from ui.gan1d_plots import game_figure, history_figure
from ui.i18n import localized_choice, t

LAB, PLAYING, ERROR = "gan_1d_lab", "gan_1d_playing", "gan_1d_error"
DEFAULT_COMPONENTS = [(1.5, 0.5, 1.0), (-1.5, 0.4, 1.0), (0.0, 0.3, 1.0)]
LEARNING_RATES = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2]
TICK_SECONDS = 0.4

st.title(t("gan_1d.title"))
st.caption(t("gan_1d.intro"))

# Widgets start from this person's model, so that coming back from another page (which drops
# the widgets' state) neither changes p_data nor restarts training with the default seed.
lab: Gan1D | None = st.session_state.get(LAB)
now = lab.settings if lab else Settings()
shown = list(zip(lab.mixture.means, lab.mixture.stds, lab.mixture.weights)) if lab else DEFAULT_COMPONENTS[:1]
components = shown + DEFAULT_COMPONENTS[len(shown):]

controls, main = st.columns([1, 2.4], gap="large")
with controls:
    st.subheader(t("gan_1d.data_title"))
    n = st.segmented_control(t("gan_1d.components"), [1, 2, 3], default=len(shown), key="gan_1d_n",
                             required=True) or 1
    means, stds, weights = [], [], []
    for i, (mean, std, weight) in enumerate(components[:n]):
        a, b, c = st.columns(3)
        means.append(a.number_input(t("gan_1d.mean", k=i + 1), -5.0, 5.0, mean, 0.1, key=f"gan_1d_mean{i}"))
        stds.append(b.number_input(t("gan_1d.std", k=i + 1), 0.0, 3.0, std, 0.05, key=f"gan_1d_std{i}"))
        weights.append(c.number_input(t("gan_1d.weight", k=i + 1), 0.0, 10.0, weight, 0.1, key=f"gan_1d_weight{i}"))
    st.caption(t("gan_1d.noise_note"))

    with st.expander(t("gan_1d.settings_title")):
        loss = localized_choice(st.selectbox, t("gan_1d.loss"), list(GAN_LOSSES), "gan_1d_loss", GAN_LOSSES[0],
                                lambda name: t(f"gan_1d.loss_{name}"), help=t("gan_1d.loss_help"))
        k = st.slider(t("gan_1d.k"), 1, 10, now.k_d, key="gan_1d_k", help=t("gan_1d.k_help"))
        lr_d = st.select_slider(t("gan_1d.lr_d"), LEARNING_RATES, now.lr_d, format_func="{:g}".format,
                                key="gan_1d_lr_d")
        lr_g = st.select_slider(t("gan_1d.lr_g"), LEARNING_RATES, now.lr_g, format_func="{:g}".format,
                                key="gan_1d_lr_g")
        seed = st.number_input(t("gan_1d.seed"), 0, 2**31 - 1, now.seed, key="gan_1d_seed", help=t("gan_1d.seed_help"))
        speed = st.slider(t("gan_1d.speed"), 1, 50, 10, key="gan_1d_speed", help=t("gan_1d.speed_help"))

try:
    mixture = Mixture(tuple(means), tuple(stds), tuple(weights))
except InvalidMixture as e:
    st.session_state[PLAYING] = False
    with main:
        st.error(t(f"gan_1d.invalid_{e.reason}", k=e.component or ""))
    st.stop()

settings = Settings(loss=loss, lr_g=lr_g, lr_d=lr_d, k_d=k, seed=int(seed))
if lab is None:
    lab = st.session_state[LAB] = Gan1D(mixture, settings)
lab.set_mixture(mixture)
if lab.update_settings(settings):
    st.toast(t("gan_1d.restarted"))


def run(action, *args) -> None:
    """Do one training action (a button callback, so that the page draws the state after it);
    a diverged model stops playing and says so instead of a traceback."""
    try:
        action(*args)
    except TrainingDiverged:
        st.session_state[PLAYING] = False
        lab.leave_stepper()
        st.session_state[ERROR] = t("gan_1d.diverged")


def set_playing(value: bool) -> None:
    """Play or pause, as the button said when it was drawn: a click that Streamlit delivers twice
    (a rerun request merged with a live-view tick) must not toggle back."""
    st.session_state[PLAYING] = value
    if value:
        lab.leave_stepper()  # now, so that the stepper is drawn without a phase while it plays


def stop_and(action) -> None:
    st.session_state[PLAYING] = False
    run(action)


def num(value: float) -> str:
    """Three decimals with a true minus sign, as in the formulas around it."""
    return f"{value:.3f}".replace("-", "\u2212")


def phase_facts(v) -> str:
    """What the last phase operation did, in numbers."""
    if lab.phase == "a":
        return t("gan_1d.phase_a_facts", steps=lab.phase_steps, js=num(v.js))
    if lab.phase == "b":
        return t("gan_1d.phase_b_facts", steps=lab.phase_steps, gap=num(v.d_gap()))
    if lab.phase == "c":
        return t("gan_1d.phase_c_facts", steps=lab.phase_steps, before=num(lab.before.js), after=num(v.js))
    if v.js > EQUILIBRIUM_JS:
        return t("gan_1d.phase_d_unfinished", steps=lab.phase_steps, js=num(v.js), c=num(v.criterion))
    return t("gan_1d.phase_d_facts", steps=lab.phase_steps, js=num(v.js), c=num(v.criterion),
             spread=num(v.d_spread()))


playing = st.session_state.get(PLAYING, False)
with main:
    buttons = st.columns([1, 1, 1.4, 0.9, 0.9])
    buttons[0].button(t("gan_1d.d_steps", k=k), key="gan_1d_d", width="stretch", help=t("gan_1d.d_steps_help"),
                      on_click=run, args=(lab.train_d,))
    buttons[1].button(t("gan_1d.g_step"), key="gan_1d_g", width="stretch", help=t("gan_1d.g_step_help"),
                      on_click=run, args=(lab.train_g,))
    buttons[2].button(t("gan_1d.alg1_step"), key="gan_1d_alg1", width="stretch", help=t("gan_1d.alg1_help"),
                      on_click=run, args=(lab.algorithm1,))
    buttons[3].button(t("gan_1d.pause") if playing else t("gan_1d.play"), key="gan_1d_play", width="stretch",
                      on_click=set_playing, args=(not playing,), type="primary",
                      icon=":material/pause:" if playing else ":material/play_arrow:")
    buttons[4].button(t("gan_1d.reset"), key="gan_1d_reset", width="stretch", icon=":material/restart_alt:",
                      on_click=stop_and, args=(lab.reset,))

    with st.container(border=True):
        step_col, badge_col = st.columns([1, 2.2], vertical_alignment="center")
        next_label = (t("gan_1d.phase_start") if lab.phase in (None, "d")
                      else t("gan_1d.phase_next", phase=PHASES[PHASES.index(lab.phase) + 1]))
        step_col.button(next_label, key="gan_1d_next_phase", icon=":material/skip_next:", width="stretch",
                        on_click=stop_and, args=(partial(lab.next_phase, PHASE_CHUNK),), help=t("gan_1d.phase_help"),
                        disabled=lab.phase_running)
        badge_col.markdown(t("gan_1d.phases_label") + " " + " ".join(
            f":{'blue' if p == lab.phase else 'gray'}-badge[({p}) {t(f'gan_1d.phase_{p}_short')}]" for p in PHASES))
        if lab.phase is None:
            st.markdown(t("gan_1d.phase_none"))
        else:
            st.markdown(t(f"gan_1d.phase_{lab.phase}_caption"))
            st.caption(t("gan_1d.phase_running") if lab.phase_running else phase_facts(lab.view()))

    if st.session_state.get(ERROR):
        st.error(st.session_state.pop(ERROR))
    live = st.container()


@st.fragment(run_every=TICK_SECONDS if playing or lab.phase_running else None)
def live_view() -> None:
    if st.session_state.get(PLAYING):
        run(lab.algorithm1, speed)
        if not st.session_state.get(PLAYING):  # it diverged: stop the timer and show why
            st.rerun(scope="app")
    elif lab.phase_running:  # phase (a) or (d) on its way, one frame at a time
        run(lab.advance, PHASE_CHUNK)
        if not lab.phase_running:  # arrived (or diverged): the stepper shows the result
            st.rerun(scope="app")
    v = lab.view()
    cols = st.columns(5)
    cols[0].metric(t("gan_1d.metric_value"), num(v.value), help=t("gan_1d.metric_value_help"))
    cols[1].metric(t("gan_1d.metric_criterion"), num(v.criterion), help=t("gan_1d.metric_criterion_help"))
    cols[2].metric(t("gan_1d.metric_js"), num(v.js), help=t("gan_1d.metric_js_help"))
    cols[3].metric(t("gan_1d.metric_g_steps"), v.g_steps)
    cols[4].metric(t("gan_1d.metric_d_steps"), v.d_steps)
    st.plotly_chart(game_figure(v, lab.before if lab.phase == "c" else None), key="gan_1d_figure",
                    config={"displayModeBar": False})
    st.plotly_chart(history_figure(lab.history), key="gan_1d_history", config={"displayModeBar": False})


with live:
    live_view()

with st.expander(t("gan_1d.read_title")):
    st.markdown(t("gan_1d.read_body"))
    st.latex(r"D^*(x) = \frac{p_{\mathrm{data}}(x)}{p_{\mathrm{data}}(x) + p_g(x)}, \qquad"
             r" C(G) = \max_D V(G, D) = -\log 4 + 2\,\mathrm{JS}(p_{\mathrm{data}} \,\|\, p_g)")
