"""Toy Lab: 2D GANs trained live, up to four configurations side by side."""
import csv
import io
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import ot  # noqa: F401  (W1 runs on a worker thread: a first import racing the page's own leaves modules half-initialised)
import streamlit as st
import torch

from gan_core.data.images import DataError
from gan_core.data.toy import (get_toy, points_distribution, points_from_csv, points_from_drawing,
                               standardize)
from gan_core.lab import one_thread
from gan_core.lab.live import LiveLab
from gan_core.lab.toy2d import TOY_SOURCES, LabSpec, ModelSpec, ToyLab
from gan_core.losses import LOSSES
from gan_core.metrics.toy import toy_report
from ui.i18n import localized_choice, t
from ui.plots import COLORS, curves
from ui.toylab_plots import render_view, snapshot_png
from ui.urlstate import write_to_url

S = st.session_state
N_VIEW = 1000           # points drawn per cloud
METRICS_EVERY = 250     # generator steps between metric snapshots while playing ...
METRICS_S = 5.0         # ... or seconds, whichever comes first (four slow configurations: 250 steps take ~20 s)
GRID = 40               # heat-map resolution (scaled up smoothly to the picture; each point is a pass through D)
KEEP = "session"        # settings survive a visit to another page (Streamlit drops unrendered widgets' state)
FRAME_S = 0.2           # a picture every 0.2 s while playing, however long a training step takes
RATES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 0]  # the speed limit's choices, steps per second (0: none)

st.title(t("toylab.title"))
st.caption(t("toylab.intro"))


# ---------------------------------------------------------------- the experiment's settings, from the link once

def load_link_once() -> None:
    if "tl_loaded" in S:
        return
    S.tl_loaded = True
    spec = LabSpec()
    if "lab" in st.query_params:
        try:
            spec = LabSpec.from_url(st.query_params["lab"])
        except ValueError as e:
            S.tl_link_error = str(e)
    S.tl_data, S.tl_seed, S.tl_batch, S.tl_n = spec.data, spec.seed, spec.batch, len(spec.models)
    for i, m in enumerate(spec.models):
        put_model(i, m)


def put_model(i: int, m: ModelSpec) -> None:
    for field, value in m.model_dump().items():
        S[f"tl{i}_{field}"] = value


def get_model(i: int) -> ModelSpec:
    if f"tl{i}_loss" not in S:
        put_model(i, ModelSpec.default(["nonsaturating", "minimax", "wgan", "wgan-gp"][i % 4]))
    base = ModelSpec.default(S[f"tl{i}_loss"]).model_dump()  # for a setting whose widget was never drawn
    return ModelSpec(**{f: S.get(f"tl{i}_{f}", base[f]) for f in ModelSpec.model_fields})


def loss_changed(i: int) -> None:
    """A new loss brings its own defaults (WGAN: RMSProp, lr 5e-5, clipping, k = 5 ...)."""
    put_model(i, ModelSpec.default(S[f"tl{i}_loss"]))


def classic() -> None:
    """The classic comparison: minimax vs non-saturating vs WGAN (clipping) vs WGAN-GP."""
    S.tl_n = 4
    for i, loss in enumerate(["minimax", "nonsaturating", "wgan", "wgan-gp"]):
        put_model(i, ModelSpec.default(loss))


load_link_once()
if S.get("tl_link_error"):
    st.warning(t("toylab.bad_link", reason=S.pop("tl_link_error")))

# ---------------------------------------------------------------- data

top = st.columns([2, 1, 1, 1, 1.4], vertical_alignment="bottom")
with top[0]:
    source = localized_choice(st.selectbox, t("toylab.data"), list(TOY_SOURCES), "tl_data", "ring8",
                              lambda s: t(f"toylab.source_{s}"))
with top[1]:
    st.number_input(t("toylab.seed"), 0, 2**31 - 1, step=1, key="tl_seed", persist_state=KEEP)
with top[2]:
    st.select_slider(t("toylab.batch"), [32, 64, 128, 256, 512, 1024], key="tl_batch", persist_state=KEEP)
with top[3]:
    st.number_input(t("toylab.n_models"), 1, 4, step=1, key="tl_n", persist_state=KEEP)
with top[4]:
    st.button(t("toylab.classic"), on_click=classic, icon=":material/compare:", help=t("toylab.classic_help"),
              key="tl_classic")

data, data_id = None, source
if source == "draw":
    from streamlit_drawable_canvas import st_canvas  # only importable under `streamlit run` / AppTest
    st.caption(t("toylab.draw_help"))
    canvas = st_canvas(stroke_width=S.get("tl_brush", 12), stroke_color="#000000", background_color="#ffffff",
                       height=280, width=280, drawing_mode="freedraw", key="tl_canvas", return_image_data=True)
    st.slider(t("toylab.brush"), 2, 40, 12, key="tl_brush", persist_state=KEEP)
    points = points_from_drawing(canvas.image_data) if canvas is not None and canvas.image_data is not None \
        else torch.empty(0, 2)
    if len(points) < 2:
        st.info(t("toylab.draw_empty"))
    else:
        data = points_distribution(points, std=0.02, name="drawing")
        data_id = f"draw:{hash(points.numpy().tobytes())}"
elif source == "csv":
    upload = st.file_uploader(t("toylab.csv_upload"), type=["csv", "txt", "tsv"], key="tl_csv")
    if upload is None:
        st.info(t("toylab.csv_help"))
    else:
        try:
            # parsed once per upload, not on every rerun (a file may hold up to 100 MB)
            if S.get("tl_csv_parsed", (None,))[0] != upload.file_id:
                S.tl_csv_parsed = (upload.file_id, *points_from_csv(upload.getvalue()))
            _, points, notes = S.tl_csv_parsed
            scaled = standardize(points)
        except DataError as e:
            st.error(t("toylab.csv_error", reason=str(e)))
        else:
            data = points_distribution(scaled, std=0.02, name=upload.name)
            data_id = f"csv:{upload.file_id}"
            if notes["skipped"]:
                st.warning(t("toylab.csv_skipped", n=notes["skipped"]))
            if notes["truncated"]:
                st.warning(t("toylab.csv_truncated", n=f"{len(points):,}"))
            st.caption(t("toylab.csv_scaled", n=len(points)))
else:
    data = get_toy(source)
if source in ("draw", "csv"):
    st.caption(t("toylab.not_in_link"))

# ---------------------------------------------------------------- configurations

n_models = int(S.tl_n)
cols = st.columns(n_models)
for i, col in enumerate(cols):
    get_model(i)  # makes sure the widgets have values
    with col, st.container(border=True):
        st.markdown(f"<span style='color:{COLORS[i]}'>■</span> **{t('toylab.config', n=i + 1)}**",
                    unsafe_allow_html=True)
        st.selectbox(t("toylab.loss"), list(LOSSES), key=f"tl{i}_loss", persist_state=KEEP, on_change=loss_changed, args=(i,),
                     help=t("toylab.loss_help"))
        loss = S[f"tl{i}_loss"]
        a, b = st.columns(2)
        a.number_input(t("toylab.lr_g"), 1e-6, 1e9, format="%.1e", key=f"tl{i}_lr_g", persist_state=KEEP)
        b.number_input(t("toylab.lr_d"), 1e-6, 1e9, format="%.1e", key=f"tl{i}_lr_d", persist_state=KEEP)
        a.selectbox(t("toylab.optimizer"), ["adam", "rmsprop", "sgd"], key=f"tl{i}_optimizer", persist_state=KEEP)
        b.number_input(t("toylab.k_d"), 1, 20, step=1, key=f"tl{i}_k_d", persist_state=KEEP, help=t("toylab.k_d_help"))
        if loss == "wgan":
            st.number_input(t("toylab.clip"), 1e-4, 10.0, format="%.3f", key=f"tl{i}_clip", persist_state=KEEP)
        if LOSSES[loss].gradient_penalty:
            st.number_input(t("toylab.gp"), 0.0, 1000.0, key=f"tl{i}_gp", persist_state=KEEP)
        with st.popover(t("toylab.more"), width="stretch"):
            c1, c2 = st.columns(2)
            c1.number_input(t("toylab.beta1"), 0.0, 0.999, format="%.3f", key=f"tl{i}_beta1", persist_state=KEEP)
            c2.number_input(t("toylab.beta2"), 0.0, 0.9999, format="%.4f", key=f"tl{i}_beta2", persist_state=KEEP)
            c1.number_input(t("toylab.sigma"), 0.0, 5.0, format="%.2f", key=f"tl{i}_sigma", persist_state=KEEP, help=t("toylab.sigma_help"))
            c2.selectbox(t("toylab.anneal"), ["linear", "exponential", "none"], key=f"tl{i}_anneal", persist_state=KEEP)
            c1.number_input(t("toylab.g_depth"), 1, 6, key=f"tl{i}_g_depth", persist_state=KEEP)
            c2.number_input(t("toylab.g_width"), 4, 512, key=f"tl{i}_g_width", persist_state=KEEP)
            c1.number_input(t("toylab.d_depth"), 1, 6, key=f"tl{i}_d_depth", persist_state=KEEP)
            c2.number_input(t("toylab.d_width"), 4, 512, key=f"tl{i}_d_width", persist_state=KEEP)
            c1.selectbox(t("toylab.activation"), ["relu", "leaky_relu", "tanh", "elu", "gelu", "silu"],
                         key=f"tl{i}_activation", persist_state=KEEP)
            c2.number_input(t("toylab.nz"), 1, 64, key=f"tl{i}_nz", persist_state=KEEP)
            c1.selectbox(t("toylab.noise"), ["normal", "uniform"], key=f"tl{i}_noise", persist_state=KEEP)
            localized_choice(c2.selectbox, t("toylab.lr_decay"), ["linear", "none"], f"tl{i}_lr_decay", "linear",
                             lambda v: t(f"toylab.lr_decay_{v}"), help=t("toylab.lr_decay_help"), persist_state=KEEP)
            c1.number_input(t("toylab.pack"), 1, 8, key=f"tl{i}_pack", persist_state=KEEP, help=t("toylab.pack_help"))

spec = LabSpec(data=source, seed=int(S.tl_seed), batch=int(S.tl_batch), models=[get_model(i) for i in range(n_models)])
link = spec.to_url()
write_to_url("lab", link)
if data is None:
    st.stop()  # no points yet: the message above says what to give; the settings above were kept

# ---------------------------------------------------------------- the lab (one per session, rebuilt when the settings change)

def stop_training() -> None:
    """Pause this session's background training, if it has any (returns once it has stopped)."""
    if "tl_live" in S:
        S.tl_live.pause()


key = (link, data_id)
if S.get("tl_key") != key:
    stop_training()  # the previous experiment's thread: its lab is about to be replaced
    try:
        S.tl_lab = ToyLab(spec.configs(), data)
    except ValueError as e:
        st.error(t("toylab.bad_settings", reason=str(e)))
        st.stop()
    S.tl_live = LiveLab(S.tl_lab)
    S.tl_key, S.tl_metrics, S.tl_pending, S.tl_metrics_t = key, [], None, 0.0
    for stale in ("tl_frame_s", "tl_drawn"):  # the previous lab's picture timing and last picture
        S.pop(stale, None)
    real = data.sample(N_VIEW, torch.Generator().manual_seed(7)).numpy()
    S.tl_real = real
    S.tl_extent = float(max(np.abs(real).max() * 1.25, 1.5))
lab: ToyLab = S.tl_lab
live: LiveLab = S.tl_live


def set_playing(value: bool) -> None:
    """Play or pause, as the button said when it was drawn: a click that Streamlit delivers twice
    (a rerun request merged with a live-view tick) must not toggle back."""
    S.tl_playing = value
    if not value:
        stop_training()


def reset() -> None:
    stop_training()
    S.tl_key = None
    S.tl_playing = False


def max_rate() -> float | None:
    return float(S.tl_rate) if S.get("tl_rate") else None


# Training runs in a background thread (gan_core.lab.live) while the person wants it to; the page
# only draws it. It stops by itself when nothing is left to train (then Play shows again).
playing = S.get("tl_playing", False)
if playing:
    live.play(max_rate())
    if not live.running:
        S.tl_playing = playing = False
else:
    live.pause()
if live.error is not None:
    st.error(t("toylab.train_error", reason=f"{type(live.error).__name__}: {live.error}"))


controls = st.columns([1, 1, 1, 1, 1, 3], vertical_alignment="bottom")
controls[0].button(t("toylab.pause") if playing else t("toylab.play"), on_click=set_playing, args=(not playing,),
                   type="primary",
                   icon=":material/pause:" if playing else ":material/play_arrow:", width="stretch", key="tl_play")
step_d = controls[1].button(t("toylab.step_d"), width="stretch", disabled=playing, key="tl_step_d")
step_g = controls[2].button(t("toylab.step_g"), width="stretch", disabled=playing, key="tl_step_g")
step_both = controls[3].button(t("toylab.step"), width="stretch", disabled=playing, key="tl_step")
controls[4].button(t("toylab.reset"), on_click=reset, width="stretch", icon=":material/restart_alt:",
                   key="tl_reset")
with controls[5]:
    localized_choice(st.select_slider, t("toylab.speed"), RATES, "tl_rate", 0,
                     lambda r: t("toylab.speed_max") if r == 0 else str(r), help=t("toylab.speed_help"),
                     persist_state=KEEP)
# the recipe's linear decay reaches lr = 0 at train.steps: past it nothing changes, so say so
horizon = min((c.train.steps for c in lab.cfgs if c.train.lr_decay != "none"), default=None)
if horizon is not None and lab.step >= horizon:
    st.info(t("toylab.schedule_done", steps=f"{horizon:,}"))
with live.reading(), one_thread():  # the buttons are disabled while playing: nothing else trains
    if step_d:
        lab.train(1, "d")
    if step_g:
        lab.train(1, "g")
    if step_both:
        lab.train(1)

views = localized_choice(st.pills, t("toylab.views"), ["real", "fake", "heat", "manifold", "arrows"], "tl_views",
                         ["real", "fake", "heat"], lambda v: t(f"toylab.view_{v}"), selection_mode="multi",
                         persist_state=KEEP)
st.caption(t("toylab.legend"))


# ---------------------------------------------------------------- metrics, off the drawing path

def metrics_worker() -> ThreadPoolExecutor:
    if "tl_pool" not in S:
        S.tl_pool = ThreadPoolExecutor(max_workers=1)  # per session; W1 is an exact (slow) transport problem
    return S.tl_pool


def collect_metrics(force: bool = False) -> None:
    """Take in finished measurements; start a new one every METRICS_EVERY steps or METRICS_S seconds
    (force: now), one at a time, on samples drawn from the lab as it stands."""
    pending = S.get("tl_pending")
    if pending is not None and pending.done():
        S.tl_metrics.append(pending.result())
        S.tl_pending = pending = None
    last = S.tl_metrics[-1]["step"] if S.tl_metrics else 0
    due = force or lab.step - last >= METRICS_EVERY or time.monotonic() - S.tl_metrics_t >= METRICS_S
    if pending is None and lab.step > last and due:
        snap = live.snapshot()
        with one_thread():
            clouds = [x.numpy() for x in snap.sample(2500, seed=11)]
        step = snap.step
        dataset = lab.data
        S.tl_metrics_t = time.monotonic()
        S.tl_pending = metrics_worker().submit(
            lambda: {"step": step, "reports": [toy_report(c, dataset, seed=0) for c in clouds]})


# ---------------------------------------------------------------- the live view

def render_panels() -> tuple[list, int]:
    """Every configuration's picture and the step it shows, computed before anything is sent to the
    page (see live_view()), from a snapshot of the lab: drawing never waits for training. A lab
    that has not changed since the last pictures, shown the same way, shows the same pictures."""
    snap = live.snapshot()
    drawn = (id(lab), snap.updates, tuple(views))
    if S.get("tl_drawn") == drawn and S.get("tl_panels"):
        return S.tl_panels, snap.step
    extent = S.tl_extent
    axis = torch.linspace(-extent, extent, GRID)
    grid = torch.cartesian_prod(axis, axis)[:, [1, 0]]  # row-major over y, then x: a (y, x) heat map
    n = len(snap.cfgs)
    with one_thread():
        heat = [h.numpy() for h in snap.discriminator(grid)] if "heat" in views else [None] * n
        fakes = [x.numpy() for x in snap.sample(N_VIEW, seed=3)] if "fake" in views else [None] * n
        manifolds = [m if m is None else m.numpy() for m in snap.manifold()] if "manifold" in views else [None] * n
        pushes = [p if p is None else tuple(v.numpy() for v in p) for p in snap.push(300)] \
            if "arrows" in views else [None] * n
    S.tl_drawn = drawn
    return [render_view(extent, real=S.tl_real if "real" in views else None, fake=fakes[i], color=COLORS[i],
                        heat=None if heat[i] is None else heat[i].reshape(GRID, GRID),
                        probability=cfg.train.loss in ("minimax", "nonsaturating"),
                        manifold=manifolds[i], push=pushes[i], title=f"{i + 1}. {cfg.train.loss}")
            for i, cfg in enumerate(snap.cfgs)], snap.step


def show(panels: list, step: int) -> None:
    if S.get("tl_playing") and live.rate:
        st.markdown(t("toylab.status_playing", step=step, rate=f"{live.rate:,.0f}"))
    else:
        st.markdown(t("toylab.status", step=step))
    S.tl_panels = panels
    for i, col in enumerate(st.columns(len(panels))):
        with col:
            st.image(panels[i], width="stretch")
            if lab.diverged[i]:
                st.error(t("toylab.diverged", reason=lab.diverged[i]))
            report = S.tl_metrics[-1]["reports"][i] if S.tl_metrics else None
            if report and "modes" in report:
                st.caption(t("toylab.modes_caption", modes=report["modes"], k=report["n_modes"],
                             hq=f"{100 * report['hq']:.1f}", w1=f"{report['w1']:.3f}"))
                if S.tl_metrics[-1]["step"] >= 1000 and report["modes"] <= report["n_modes"] // 2:
                    st.warning(t("toylab.collapse", modes=report["modes"], k=report["n_modes"]))
            elif report and "w1" in report:
                st.caption(t("toylab.w1_caption", w1=f"{report['w1']:.3f}", js=f"{report.get('js', float('nan')):.3f}"))


def refresh_interval() -> float:
    """Seconds between live pictures: FRAME_S, or a little longer than a picture takes to make. A
    timer tick that arrives while a picture is still being made restarts it, so a too-short interval
    would show nothing at all (a busy machine, a slow browser)."""
    return max(FRAME_S, 1.3 * S.get("tl_frame_s", 0.05) + 0.02)


if not playing:
    collect_metrics(force=True)  # paused or stepping: measure where training stands
S.tl_interval = refresh_interval()


@st.fragment(run_every=S.tl_interval if playing else (1.0 if S.get("tl_pending") else None))
def live_view() -> None:
    start = time.perf_counter()
    live.touch()  # someone is watching: the trainer goes on (it stops by itself a few seconds after the last look)
    if S.get("tl_playing"):
        if not live.running:
            if live.stopped != "idle":
                S.tl_playing = False
                st.rerun()  # nothing left to train, or an error: show Play again (and the error)
            live.play(max_rate())  # the page was away (another page, a frozen tab) and is back
        collect_metrics()
    # everything is computed before the first element is sent: Streamlit checks for a newer
    # rerun request at each element, and a picture cut short there would be lost
    panels, step = render_panels()
    frame_s = time.perf_counter() - start
    S.tl_frame_s = 0.7 * S.get("tl_frame_s", frame_s) + 0.3 * frame_s
    if S.get("tl_playing") and S.tl_frame_s > 0.9 * S.tl_interval:
        st.rerun()  # pictures take longer than the timer allows: retime it (shorter again at the next pause)
    show(panels, step)
    pending = S.get("tl_pending")
    if not S.get("tl_playing") and pending is not None and pending.done():
        st.rerun()  # the metrics asked for while paused are in: draw their tab, stop polling


live_view()

# ---------------------------------------------------------------- curves, downloads, share

names = [f"{i + 1}. {c.train.loss}" for i, c in enumerate(lab.cfgs)]
tab_loss, tab_metrics, tab_share = st.tabs([t("toylab.tab_losses"), t("toylab.tab_metrics"), t("toylab.tab_share")])
# The curves are drawn with the page, not with the live view: eight plotly charts take ~0.2 s to
# build, and a live-view tick that arrives meanwhile would cut them short.
with tab_loss:
    if playing:
        st.caption(t("toylab.curves_when_paused"))
    every = max(1, len(lab.history[0]) // 400)
    c1, c2 = st.columns(2)
    c1.plotly_chart(curves({n: [(r["step"], r["loss_d"]) for r in h[::every] if "loss_d" in r]
                            for n, h in zip(names, lab.history)}, t("toylab.loss_d"), t("toylab.value")),
                    width="stretch")
    c2.plotly_chart(curves({n: [(r["step"], r["loss_g"]) for r in h[::every] if "loss_g" in r]
                            for n, h in zip(names, lab.history)}, t("toylab.loss_g"), t("toylab.value")),
                    width="stretch")
with tab_metrics:
    if playing:
        st.caption(t("toylab.curves_when_paused"))
    elif not S.tl_metrics:
        st.info(t("toylab.no_metrics", every=METRICS_EVERY, seconds=f"{METRICS_S:g}"))
    if S.tl_metrics:
        last = S.tl_metrics[-1]["reports"]  # a diverged configuration reports only {"finite": 0}
        keys = [k for k in ("modes", "hq", "w1", "js", "kl_pq", "kl_qp") if any(k in r for r in last)]
        columns = st.columns(2)
        for j, k in enumerate(keys):
            # a marker on every measurement: the first one is a single point per configuration
            columns[j % 2].plotly_chart(curves({n: [(m["step"], m["reports"][i].get(k)) for m in S.tl_metrics]
                                                for i, n in enumerate(names)}, t(f"toylab.metric_{k}"), "",
                                               markers=True, y_format=".1~%" if k == "hq" else None),
                                        width="stretch")
with tab_share:
    st.markdown(t("toylab.share_help"))
    st.code(f"?lab={link}", language=None)
    with one_thread():
        samples = live.snapshot().sample(2500, seed=11)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["configuration", "loss", "x", "y"])
    for i, x in enumerate(samples):
        writer.writerows([i + 1, lab.cfgs[i].train.loss, f"{a:.6g}", f"{b:.6g}"] for a, b in x.tolist())
    d1, d2, d3 = st.columns(3)
    d1.download_button(t("toylab.download_samples"), buf.getvalue(), "toylab_samples.csv", "text/csv",
                       icon=":material/download:")
    mbuf = io.StringIO()
    mw = csv.writer(mbuf)
    mw.writerow(["step", "configuration", "loss", "metric", "value"])
    for m in S.tl_metrics:
        for i, report in enumerate(m["reports"]):
            mw.writerows([m["step"], i + 1, lab.cfgs[i].train.loss, k, v] for k, v in report.items())
    d2.download_button(t("toylab.download_metrics"), mbuf.getvalue(), "toylab_metrics.csv", "text/csv",
                       icon=":material/download:")
    if S.get("tl_panels"):
        d3.download_button(t("toylab.download_png"), snapshot_png(S.tl_panels), "toylab.png", "image/png",
                           icon=":material/image:")
