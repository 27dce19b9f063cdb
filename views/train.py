"""Train: start a GAN training run as a background job, watch it live, stop, resume, clone it."""
import os
from pathlib import Path

import streamlit as st
import torch
import yaml

from gan_core import jobs
from gan_core.config import ConfigError
from gan_core.recipes import dump_recipe, load_recipe
from gan_core.data.images import DataError, ImageData, image_collection
from gan_core.devices import DeviceError, describe_devices
from gan_core.losses import LOSSES
from gan_core.runs import RunDir, RunIndex, runs_root, save_upload
from gan_core.sampling import grid_image
from gan_core.apps.training import time_per_step
from gan_core.errors import TrainingDiverged
from ui.i18n import t
from ui.images import enlarge
from ui.jobs_view import LIVE_STATES, POLL_S, duration, run_panel, state_label

S = st.session_state
ROOT = Path(__file__).resolve().parent.parent
BASE = {False: ROOT / "configs" / "mnist_dcgan.yaml", True: ROOT / "configs" / "mnist_cgan.yaml"}
# What each loss family changes in the image recipe (its paper's settings), before the user's choices.
LOSS_RECIPES = {
    "wgan": ["train.clip_value=0.01", "train.optimizer=rmsprop", "train.lr_g=5e-5", "train.lr_d=5e-5",
             "train.k_d=5"],
    "wgan-gp": ["model.d_norm=layer", "train.k_d=5", "train.betas=[0.0, 0.9]", "train.lr_g=1e-4",
                "train.lr_d=1e-4"],
}
# DiffAugment policies offered in the form (the --set value: its label's key)
DIFFAUGMENT = {"[]": "none", "[translation,cutout]": "tc", "[color,translation,cutout]": "ctc"}
TORCHVISION = ["mnist", "fashion_mnist", "cifar10"]
MAX_UPLOAD_IMAGES = 20_000
BATCHES = [16, 32, 64, 128, 256]
KEEP = "session"  # the form survives a visit to another page

FORM_DEFAULTS = {"tr_name": "my-gan", "tr_data": "mnist5k", "tr_colour": True, "tr_conditional": False,
                 "tr_size": 28, "tr_loss": "nonsaturating", "tr_steps": 2000, "tr_batch": 64}
for key, value in FORM_DEFAULTS.items():  # set once, so a clone can overwrite them before the widgets draw
    S.setdefault(key, value)

st.title(t("train.title"))
st.caption(t("train.intro"))


# ---------------------------------------------------------------- data


@st.cache_resource(max_entries=4, show_spinner=False)
def upload_images(path: str, size: int, channels: int) -> ImageData:
    """The decoded pictures of a stored upload (shared by sessions; never modified)."""
    return image_collection(path, size, channels, max_images=MAX_UPLOAD_IMAGES)


def data_root() -> str | None:
    return os.environ.get("GAN_STUDIO_DATA_ROOT") or None


def choose_data(size: int) -> tuple[list[str], ImageData | None, int, int] | None:
    """Dataset widgets -> (overrides, decoded upload or None, channels, classes); None until usable."""
    options = ["mnist5k", "upload", "torchvision"]
    kind = st.radio(t("train.dataset"), options, key="tr_data", horizontal=True, persist_state=KEEP,
                    format_func=lambda o: t(f"train.data_{o}"))
    if kind == "mnist5k":
        st.caption(t("train.mnist5k_help"))
        return ["data.name=mnist5k", "train.eval_every=EVAL"], None, 1, 10
    if kind == "torchvision":
        root = data_root()
        if not root:
            st.info(t("train.torchvision_missing"))
            return None
        name = st.selectbox(t("train.torchvision_name"), TORCHVISION, key="tr_tv", persist_state=KEEP)
        st.caption(t("train.torchvision_help", root=root))
        digits = name != "cifar10"  # the metric classifier reads greyscale digits (and, roughly, clothes)
        return ([f"data.name={name}", f"data.root={root}", *(["train.eval_every=EVAL"] if digits else [])], None,
                1 if digits else 3, 10)
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
    except DataError as e:
        st.error(t("train.upload_bad", message=str(e)))
        return None
    if len(data) < 2:
        st.error(t("train.upload_too_few", n=len(data)))
        return None
    st.success(t("train.upload_ok", n=f"{len(data):,}", classes=", ".join(data.classes) or "—"))
    if data.skipped:
        st.warning(t("train.upload_skipped", n=len(data.skipped),
                     files=", ".join(name for name, _ in data.skipped[:8])))
    preview = grid_image(data.batch(torch.arange(min(64, len(data))))[0], nrow=8)
    st.image(enlarge(preview, 320), caption=t("train.preview"))
    return ["data.name=folder", f"data.path={path}"], data, channels, len(data.classes)


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


def recipe_overrides(conditional: bool, size: int, channels: int, classes: int) -> list[str]:
    """The model and training widgets, as `--set` overrides of configs/mnist_(c)dcgan.yaml."""
    c1, c2, c3 = st.columns(3)
    loss = c1.selectbox(t("train.loss"), list(LOSSES), key="tr_loss", persist_state=KEEP)
    steps = c2.number_input(t("train.steps"), 1, 1_000_000, step=500, key="tr_steps", persist_state=KEEP)
    batch = c3.selectbox(t("train.batch"), BATCHES, key="tr_batch", persist_state=KEEP)
    out = [f"model.img_size={size}", f"model.channels={channels}",
           f"model.n_classes={classes if conditional else 0}", *LOSS_RECIPES.get(loss, []),
           f"train.loss={loss}", f"train.steps={int(steps)}", f"train.batch_size={int(batch)}",
           f"train.log_every={max(1, min(10, int(steps) // 50))}", f"train.sample_every={max(50, int(steps) // 20)}", f"train.checkpoint_every={max(100, int(steps) // 10)}"]
    with st.expander(t("train.advanced")):
        st.caption(t("train.advanced_help"))
        a1, a2, a3 = st.columns(3)
        fields = [
            (a1, "train.optimizer", st.selectbox, dict(label=t("train.optimizer"), options=[None, "adam", "rmsprop", "sgd"],
                                                       format_func=lambda o: t("train.default") if o is None else o)),
            (a2, "train.lr_g", st.number_input, dict(label=t("train.lr_g"), value=None, min_value=1e-7, max_value=1.0,
                                                     format="%.1e", placeholder=t("train.default"))),
            (a3, "train.lr_d", st.number_input, dict(label=t("train.lr_d"), value=None, min_value=1e-7, max_value=1.0,
                                                     format="%.1e", placeholder=t("train.default"))),
            (a1, "train.k_d", st.number_input, dict(label=t("train.k_d"), value=None, min_value=1, max_value=20,
                                                    placeholder=t("train.default"))),
            (a2, "train.seed", st.number_input, dict(label=t("train.seed"), value=None, min_value=0,
                                                     placeholder="0")),
            (a3, "model.nz", st.number_input, dict(label=t("train.nz"), value=None, min_value=1, max_value=512,
                                                   placeholder=t("train.default"))),
            (a1, "model.ngf", st.number_input, dict(label=t("train.ngf"), value=None, min_value=4, max_value=256,
                                                    placeholder=t("train.default"))),
            (a2, "model.ndf", st.number_input, dict(label=t("train.ndf"), value=None, min_value=4, max_value=256,
                                                    placeholder=t("train.default"))),
            (a3, "train.lr_decay", st.selectbox, dict(label=t("train.lr_decay"), options=[None, "none", "linear"],
                                                      format_func=lambda o: t("train.default") if o is None else o)),
            (a2, "model.n_codes", st.number_input, dict(label=t("train.n_codes"), value=None, min_value=0,
                                                        max_value=1000, placeholder=t("train.default"),
                                                        help=t("train.n_codes_help"))),
            (a1, "train.diffaugment", st.selectbox, dict(label=t("train.diffaugment"), options=diffaugment_options(),
                                                         help=t("train.diffaugment_help"),
                                                         format_func=diffaugment_label)),
        ]
        for col, key, widget, kwargs in fields:
            with col:
                value = widget(key="tr_" + key.replace(".", "_"), persist_state=KEEP, **kwargs)
            if value is not None:
                out.append(f"{key}={value}")
        b1, b2 = st.columns(2)
        beta1 = b1.number_input(t("train.beta1"), value=None, min_value=0.0, max_value=0.999, format="%.3f",
                                placeholder=t("train.default"), key="tr_beta1", persist_state=KEEP)
        beta2 = b2.number_input(t("train.beta2"), value=None, min_value=0.0, max_value=0.9999, format="%.4f",
                                placeholder=t("train.default"), key="tr_beta2", persist_state=KEEP)
        if beta1 is not None or beta2 is not None:
            out.append(f"train.betas=[{0.5 if beta1 is None else beta1}, {0.999 if beta2 is None else beta2}]")
    return out


def clone(run: RunDir) -> None:
    """Put a run's recipe into the form (a callback: runs before the widgets are drawn)."""
    try:
        raw = yaml.safe_load((run.path / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return
    m, d, tr = raw.get("model", {}), raw.get("data", {}), raw.get("train", {})
    S.tr_conditional = bool(m.get("n_classes"))
    S.tr_size = m.get("img_size", 28)
    S.tr_data = {"mnist5k": "mnist5k", "folder": "upload"}.get(d.get("name"), "torchvision")
    S.tr_loss = tr.get("loss", "nonsaturating")
    S.tr_steps = int(tr.get("steps", 2000))
    if tr.get("batch_size") in BATCHES:
        S.tr_batch = tr["batch_size"]
    for key in ("optimizer", "lr_g", "lr_d", "k_d", "seed", "lr_decay"):
        S[f"tr_train_{key}"] = tr.get(key)
    for key in ("nz", "ngf", "ndf", "n_codes"):
        S[f"tr_model_{key}"] = m.get(key)
    S.tr_train_diffaugment = "[" + ",".join(tr.get("diffaugment") or []) + "]"
    betas = tr.get("betas") or [None, None]
    S.tr_beta1, S.tr_beta2 = betas
    S.tr_name = f"{raw.get('name', 'run')}-copy"
    S.tr_show_form = True
    st.query_params.pop("run", None)


# ---------------------------------------------------------------- new run

runs = RunIndex()
problems = runs.sync()
for p in problems:
    st.warning(t("train.index_problem", message=p))
rows = runs.rows()


def new_run_form() -> None:
    """Dataset, model, recipe and device; Estimate and Start. Returns early while something is missing."""
    n1, n2, n3 = st.columns(3)
    name = n1.text_input(t("train.name"), key="tr_name", max_chars=60, persist_state=KEEP)
    owner = n2.text_input(t("train.owner"), key="tr_owner", max_chars=60, persist_state=KEEP)
    notes = n3.text_input(t("train.notes"), key="tr_notes", max_chars=300, persist_state=KEEP)
    m1, m2 = st.columns(2)
    conditional = m1.toggle(t("train.conditional"), key="tr_conditional", help=t("train.conditional_help"),
                           persist_state=KEEP)
    size = m2.segmented_control(t("train.size"), [28, 32, 64], key="tr_size", required=True,
                                persist_state=KEEP) or 28
    chosen = choose_data(int(size))
    # the recipe widgets are drawn even while the data is not ready: Streamlit forgets the state
    # of a widget that one run skipped
    overrides, upload, channels, classes = chosen or ([], None, 1, 0)
    overrides += recipe_overrides(conditional, int(size), channels, classes)
    steps = int(S.tr_steps)
    # metrics during training (FD, KID, precision/recall) about ten times a run
    overrides = [o.replace("EVAL", str(max(50, steps // 10))) for o in overrides]
    overrides.append(f"name={name.strip() or 'run'}")

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
    try:
        cfg = load_recipe(BASE[conditional], overrides)
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
        except (DataError, DeviceError, TrainingDiverged, RuntimeError) as e:
            st.error(t("train.estimate_failed", message=str(e)))
        else:
            st.info(t("train.estimate_result", per_1k=duration(1000 * seconds),
                      total=duration(cfg.train.steps * seconds), steps=f"{cfg.train.steps:,}"))
    if e2.button(t("train.start"), type="primary", icon=":material/rocket_launch:", key="tr_start"):
        run = jobs.submit(cfg, device=device, nproc=nproc, owner=owner.strip(),
                          notes=notes.strip())
        st.query_params["run"] = run.id
        st.rerun()


with st.expander(t("train.new_run"), expanded=S.pop("tr_show_form", None) or not rows):
    new_run_form()


# ---------------------------------------------------------------- runs

st.subheader(t("train.runs"))
if not rows:
    st.info(t("train.no_runs", root=str(runs_root().resolve())))
    st.stop()
f1, f2 = st.columns([2, 1])
text = f1.text_input(t("train.filter"), key="tr_filter", placeholder=t("train.filter_help"))
state = f2.selectbox(t("train.state"), [None, "queued", "starting", "running", "finished", "failed", "stopped",
                                        "broken"], key="tr_state_filter",
                     format_func=lambda s: t("train.any_state") if s is None else state_label(s))
rows = runs.rows(state=state, text=text.strip() or None)
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

run_id = st.query_params.get("run")
if run_id and (runs_root() / run_id).is_dir() and "/" not in run_id and not run_id.startswith("."):
    run = RunDir(runs_root() / run_id)
    live_now = run.status().get("state") in LIVE_STATES

    @st.fragment(run_every=POLL_S if live_now else None)
    def watch() -> None:
        state = run_panel(run, on_clone=clone)
        if live_now and state not in LIVE_STATES:
            st.rerun(scope="app")  # it ended: redraw the table, stop polling

    with st.container(border=True):
        watch()
else:
    st.caption(t("train.pick_run"))
