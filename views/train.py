"""Train: start a GAN training run as a background job, watch it live, stop, resume, clone it."""
import os

import streamlit as st
import torch

from gan_core import jobs
from gan_core.apps.training import time_per_step
from gan_core.config import ConfigError
from gan_core.data.images import ImageData, image_collection
from gan_core.devices import describe_devices
from gan_core.errors import USER_ERRORS
from gan_core.losses import LOSSES
from gan_core.recipes import dump_recipe, load_recipe
from gan_core.runs import RunDir, RunIndex, discard_upload, runs_root, save_upload
from gan_core.sampling import grid_image
from ui import train_form
from ui.auth import may_manage, user
from ui.i18n import t
from ui.images import enlarge
from ui.jobs_view import LIVE_STATES, POLL_S, duration, run_panel, state_label
from ui.train_form import BATCHES, DIFFAUGMENT, SIZES, TORCHVISION

S = st.session_state
MAX_UPLOAD_IMAGES = 20_000
KEEP = "session"  # the form survives a visit to another page

for key, value in train_form.DEFAULTS.items():  # set once, so a clone can overwrite them before the widgets draw
    S.setdefault(key, value)

st.title(t("train.title"))
st.caption(t("train.intro"))
if refused := S.pop("tr_clone_refused", None):
    st.warning(t("train.clone_refused", run=refused))


# ---------------------------------------------------------------- data


@st.cache_resource(max_entries=4, show_spinner=False)
def upload_images(path: str, size: int, channels: int) -> ImageData:
    """The decoded pictures of a stored upload (shared by sessions; never modified)."""
    return image_collection(path, size, channels, max_images=MAX_UPLOAD_IMAGES)


def data_root() -> str | None:
    return os.environ.get("GAN_STUDIO_DATA_ROOT") or None


def choose_data(size: int) -> tuple[dict, ImageData | None, int, int] | None:
    """Dataset widgets -> (data overrides, decoded upload or None, channels, classes); None until usable."""
    options = ["mnist5k", "upload", "torchvision"]
    kind = st.radio(t("train.dataset"), options, key="tr_data", horizontal=True, persist_state=KEEP,
                    format_func=lambda o: t(f"train.data_{o}"))
    if kind == "mnist5k":
        st.caption(t("train.mnist5k_help"))
        return train_form.data_overrides(kind), None, 1, 10
    if kind == "torchvision":
        root = data_root()
        if not root:
            st.info(t("train.torchvision_missing"))
            return None
        name = st.selectbox(t("train.torchvision_name"), TORCHVISION, key="tr_tv", persist_state=KEEP)
        st.caption(t("train.torchvision_help", root=root))
        # the metric classifier reads greyscale digits (and, roughly, clothes)
        return train_form.data_overrides(kind, torchvision=name, root=root), None, 3 if name == "cifar10" else 1, 10
    colour = st.toggle(t("train.colour"), key="tr_colour", persist_state=KEEP)
    channels = 3 if colour else 1
    upload = st.file_uploader(t("train.upload"), type=["zip"], key="tr_zip", help=t("train.upload_help"))
    if upload is None:
        st.info(t("train.upload_first"))
        return None
    path = save_upload(upload.getvalue(), upload.name)
    try:
        with st.spinner(t("train.decoding")):
            data = upload_images(str(path), size, channels)
    except USER_ERRORS as e:
        discard_upload(path)
        st.error(t("train.upload_bad", message=str(e)))
        return None
    if len(data) < 2:
        discard_upload(path)
        st.error(t("train.upload_too_few", n=len(data)))
        return None
    st.success(t("train.upload_ok", n=f"{len(data):,}", classes=", ".join(data.classes) or "—"))
    if data.skipped:
        st.warning(t("train.upload_skipped", n=len(data.skipped),
                     files=", ".join(name for name, _ in data.skipped[:8])))
    preview = grid_image(data.batch(torch.arange(min(64, len(data))))[0], nrow=8)
    st.image(enlarge(preview, 320), caption=t("train.preview"))
    return train_form.data_overrides(kind, path=path), data, channels, len(data.classes)


# ---------------------------------------------------------------- the recipe


def diffaugment_options() -> list[str | None]:
    """The offered policies, plus a cloned run's own one when the form does not offer it."""
    cloned = S.get("tr_train_diffaugment")
    return [None, *DIFFAUGMENT, *([cloned] if cloned and cloned not in DIFFAUGMENT else [])]


def diffaugment_label(policy: str | None) -> str:
    if policy is None:
        return t("train.default")
    if policy in DIFFAUGMENT:
        return t(f"train.diffaugment_{DIFFAUGMENT[policy]}")
    return " + ".join(policy.strip("[]").split(","))


def recipe_widgets() -> None:
    """The model and training widgets; their values (session keys of ui/train_form.py) make the recipe."""
    c1, c2, c3 = st.columns(3)
    c1.selectbox(t("train.loss"), list(LOSSES), key="tr_loss", persist_state=KEEP)
    c2.number_input(t("train.steps"), 1, 1_000_000, step=500, key="tr_steps", persist_state=KEEP)
    c3.selectbox(t("train.batch"), BATCHES, key="tr_batch", persist_state=KEEP)
    with st.expander(t("train.advanced")):
        st.caption(t("train.advanced_help"))
        a1, a2, a3 = st.columns(3)
        fields = [
            (a1, "tr_train_optimizer", st.selectbox, dict(label=t("train.optimizer"), options=[None, "adam", "rmsprop", "sgd"],
                                                          format_func=lambda o: t("train.default") if o is None else o)),
            (a2, "tr_train_lr_g", st.number_input, dict(label=t("train.lr_g"), value=None, min_value=1e-7, max_value=1.0,
                                                        format="%.1e", placeholder=t("train.default"))),
            (a3, "tr_train_lr_d", st.number_input, dict(label=t("train.lr_d"), value=None, min_value=1e-7, max_value=1.0,
                                                        format="%.1e", placeholder=t("train.default"))),
            (a1, "tr_train_k_d", st.number_input, dict(label=t("train.k_d"), value=None, min_value=1, max_value=20,
                                                       placeholder=t("train.default"))),
            (a2, "tr_train_seed", st.number_input, dict(label=t("train.seed"), value=None, min_value=0,
                                                        placeholder="0")),
            (a3, "tr_model_nz", st.number_input, dict(label=t("train.nz"), value=None, min_value=1, max_value=512,
                                                      placeholder=t("train.default"))),
            (a1, "tr_model_ngf", st.number_input, dict(label=t("train.ngf"), value=None, min_value=4, max_value=256,
                                                       placeholder=t("train.default"))),
            (a2, "tr_model_ndf", st.number_input, dict(label=t("train.ndf"), value=None, min_value=4, max_value=256,
                                                       placeholder=t("train.default"))),
            (a3, "tr_train_lr_decay", st.selectbox, dict(label=t("train.lr_decay"), options=[None, "none", "linear"],
                                                         format_func=lambda o: t("train.default") if o is None else o)),
            (a2, "tr_model_n_codes", st.number_input, dict(label=t("train.n_codes"), value=None, min_value=0,
                                                           max_value=1000, placeholder=t("train.default"),
                                                           help=t("train.n_codes_help"))),
            (a1, "tr_train_diffaugment", st.selectbox, dict(label=t("train.diffaugment"), options=diffaugment_options(),
                                                            help=t("train.diffaugment_help"),
                                                            format_func=diffaugment_label)),
        ]
        for col, key, widget, kwargs in fields:
            with col:
                widget(key=key, persist_state=KEEP, **kwargs)
        b1, b2 = st.columns(2)
        b1.number_input(t("train.beta1"), value=None, min_value=0.0, max_value=0.999, format="%.3f",
                        placeholder=t("train.default"), key="tr_beta1", persist_state=KEEP)
        b2.number_input(t("train.beta2"), value=None, min_value=0.0, max_value=0.9999, format="%.4f",
                        placeholder=t("train.default"), key="tr_beta2", persist_state=KEEP)


def clone(run: RunDir) -> None:
    """Put a run's recipe into the form (a callback: runs before the widgets are drawn)."""
    try:
        cfg = load_recipe(run.path / "config.yaml")
    except ConfigError:
        return
    cfg = getattr(cfg, "gan", cfg)  # an anomaly detector's GAN is its `gan` section
    if getattr(cfg.model, "arch", None) != "dcgan":  # the form makes DCGANs only
        S.tr_clone_refused = run.id
        return
    S.update(train_form.form_of(cfg))
    S.tr_name = f"{cfg.name}-copy"
    S.tr_show_form = True
    st.query_params.pop("run", None)


def forget(run: RunDir) -> None:
    """After Delete: no run in the link, no row picked (the table's rows have moved up)."""
    st.query_params.pop("run", None)
    S.pop("tr_table", None)


# ---------------------------------------------------------------- new run

runs = RunIndex()
problems = runs.sync()
for p in problems:
    st.warning(t("train.index_problem", message=p))


def mine(rows: list[dict]) -> list[dict]:
    """The rows of the runs the visitor may manage (with sign-in: their own; an admin's: all)."""
    return [r for r in rows if may_manage(RunDir(runs_root() / r["id"]))]


rows = mine(runs.rows())


def new_run_form() -> None:
    """Dataset, model, recipe and device; Estimate and Start. Returns early while something is missing."""
    n1, n2, n3 = st.columns(3)
    n1.text_input(t("train.name"), key="tr_name", max_chars=60, persist_state=KEEP)
    owner = user()  # signed in, the run is theirs; on a laptop, any name typed here
    if owner is None:
        owner = n2.text_input(t("train.owner"), key="tr_owner", max_chars=60, persist_state=KEEP)
    else:
        n2.text_input(t("train.owner_signed_in"), value=owner, disabled=True, key="tr_owner_signed_in")
    notes = n3.text_input(t("train.notes"), key="tr_notes", max_chars=300, persist_state=KEEP)
    m1, m2 = st.columns(2)
    conditional = m1.toggle(t("train.conditional"), key="tr_conditional", help=t("train.conditional_help"),
                           persist_state=KEEP)
    size = m2.segmented_control(t("train.size"), SIZES, key="tr_size", required=True, persist_state=KEEP) or 28
    chosen = choose_data(int(size))
    # the recipe widgets are drawn even while the data is not ready: Streamlit forgets the state
    # of a widget that one run skipped
    recipe_widgets()
    data, upload, channels, classes = chosen or ({}, None, 1, 0)

    devices = describe_devices()
    d1, d2 = st.columns(2)
    labels = {d["device"]: d["name"] + (f" · {d['memory_gb']} GB" if "memory_gb" in d else "") for d in devices}
    device = d1.selectbox(t("train.device"), list(labels), format_func=lambda k: f"{k}: {labels[k]}",
                          key="tr_device", index=len(labels) - 1, persist_state=KEEP)
    gpus = sum(d["device"].startswith("cuda") for d in devices)
    nproc = 1
    if device.startswith("cuda") and gpus > 1:
        nproc = d2.slider(t("train.gpus"), 1, gpus, gpus, key="tr_nproc", help=t("train.gpus_help"),
                          persist_state=KEEP)
        if nproc > 1:
            device = "cuda"
    if chosen is None:
        return
    if conditional and classes < 2:
        st.error(t("train.conditional_needs_classes"))
        return
    form = {key: S.get(key) for key in (*train_form.DEFAULTS, *train_form.ADVANCED)}
    try:
        cfg = train_form.recipe({**form, "tr_size": int(size)}, data, channels, classes)
    except ConfigError as e:
        st.error(t("train.bad_recipe", message=str(e)))
        return

    with st.popover(t("train.show_recipe"), icon=":material/description:"):
        st.code(dump_recipe(cfg), language="yaml")
    e1, e2 = st.columns(2)
    if e1.button(t("train.estimate"), icon=":material/timer:", key="tr_estimate"):
        try:
            with st.spinner(t("train.estimating")):
                seconds = time_per_step(cfg, device if nproc == 1 else "cuda:0", data=upload)
        except (*USER_ERRORS, RuntimeError) as e:
            st.error(t("train.estimate_failed", message=str(e)))
        else:
            st.info(t("train.estimate_result", per_1k=duration(1000 * seconds),
                      total=duration(cfg.train.steps * seconds), steps=f"{cfg.train.steps:,}"))
    if e2.button(t("train.start"), type="primary", icon=":material/rocket_launch:", key="tr_start"):
        try:
            run = jobs.submit(cfg, device=device, nproc=nproc, owner=owner.strip(), notes=notes.strip())
        except ConfigError as e:
            st.error(t("train.bad_recipe", message=str(e)))
            return
        st.query_params["run"] = run.id
        st.rerun()


with st.expander(t("train.new_run"), expanded=S.pop("tr_show_form", None) or not rows):
    new_run_form()


# ---------------------------------------------------------------- runs

def linked_run() -> RunDir | None:
    """The run the link's ?run= names, when it is a run folder."""
    run_id = st.query_params.get("run")
    if run_id and "/" not in run_id and not run_id.startswith(".") and (runs_root() / run_id).is_dir():
        return RunDir(runs_root() / run_id)
    return None


st.subheader(t("train.runs"))
if (linked := linked_run()) is not None and not may_manage(linked):  # someone else's: no panel, and why
    st.warning(t("train.not_yours", run=linked.id))
if not rows:
    st.info(t("train.no_runs", root=str(runs_root().resolve())))
    st.stop()
f1, f2 = st.columns([2, 1])
text = f1.text_input(t("train.filter"), key="tr_filter", placeholder=t("train.filter_help"))
state = f2.selectbox(t("train.state"), [None, "queued", "starting", "running", "finished", "failed", "stopped",
                                        "broken"], key="tr_state_filter",
                     format_func=lambda s: t("train.any_state") if s is None else state_label(s))
rows = mine(runs.rows(state=state, text=text.strip() or None))
table = [{t("train.col_name"): r["name"], t("train.col_state"): state_label(r["state"]),
          t("train.col_step"): f"{r['step'] or 0:,} / {r['steps'] or 0:,}", t("train.col_data"): r["dataset"],
          t("train.col_model"): r["model"], t("train.col_loss"): r["loss"], t("train.col_owner"): r["owner"],
          t("train.col_best"): ", ".join(f"{k} {v:.3g}" for k, v in r["best"].items()),
          t("train.col_id"): r["id"]} for r in rows]
picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="tr_table",
                      width="stretch")
if picked.selection.rows:
    chosen = rows[picked.selection.rows[0]]["id"]
    if st.query_params.get("run") != chosen:
        st.query_params["run"] = chosen

run = linked_run()
if run is not None and may_manage(run):
    live_now = run.status().get("state") in LIVE_STATES

    @st.fragment(run_every=POLL_S if live_now else None)
    def watch() -> None:
        state = run_panel(run, on_clone=clone, on_delete=forget)
        if live_now and state not in LIVE_STATES:
            st.rerun(scope="app")  # it ended: redraw the table, stop polling

    with st.container(border=True):
        watch()
else:
    st.caption(t("train.pick_run"))
