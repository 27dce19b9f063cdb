"""Train: start a GAN training run as a background job, watch it live, stop, resume, clone it.
The form makes a DCGAN (plain or conditional) on one collection of pictures, or a CycleGAN between two."""
import os
import shlex
from pathlib import Path

import streamlit as st
import torch
import yaml

from gan_core import jobs
from gan_core.apps.training import time_per_step
from gan_core.config import ConfigError
from gan_core.data.images import (
    IMAGE_SUFFIXES,
    DataError,
    ImageData,
    image_collection,
    iter_image_files,
    resize_images,
)
from gan_core.data.pairs import PairData
from gan_core.data.unpaired import UnpairedData
from gan_core.devices import describe_devices
from gan_core.errors import USER_ERRORS
from gan_core.launch import shell, split_endpoint
from gan_core.losses import LOSSES
from gan_core.recipes import dump_recipe, load_recipe, read_recipe, recipe_paths
from gan_core.runs import RunDir, RunIndex, discard_upload, runs_root, save_upload
from gan_core.sampling import grid_image
from gan_core.tracking_server import operator_uri, server_host
from ui import train_form
from ui.auth import may_manage, user
from ui.i18n import localized_choice, t
from ui.images import enlarge
from ui.jobs_view import (
    LIVE_STATES,
    POLL_S,
    duration_words,
    essential_yaml,
    run_panel,
    state_label,
    steps_text,
)
from ui.metric_names import format_metric, metric_label
from ui.train_form import (
    BATCHES,
    CYCLE_BATCHES,
    CYCLE_BLOCKS,
    CYCLE_SIZES,
    DIFFAUGMENT,
    MACHINE_DEVICES,
    MODELS,
    PAIRS,
    SIZES,
    TORCHVISION,
)

S = st.session_state
MAX_UPLOAD_IMAGES = 20_000
THUMB = 64  # a CycleGAN domain is checked and previewed at this size (training crops it at its own)
KEEP = "session"  # the form survives a visit to another page

# set once, so a clone can overwrite them before the widgets draw
for key, value in {**train_form.DEFAULTS, **train_form.CYCLE_DEFAULTS, **train_form.MACHINES_DEFAULTS}.items():
    S.setdefault(key, value)

st.title(t("train.title"))
st.caption(t("train.intro"))
if refused := S.pop("tr_clone_refused", None):
    st.warning(t("train.clone_refused", run=refused[0], why=refused[1]))
if (note := S.pop("tr_clone_note", None)) and note[1]:
    st.info(t("train.clone_not_kept", run=note[0]) + "\n\n" + "\n".join(f"- `{k}`" for k in note[1]))


# ---------------------------------------------------------------- data


@st.cache_resource(max_entries=4, show_spinner=False)
def upload_images(path: str, size: int, channels: int) -> ImageData:
    """The decoded pictures of a stored upload (shared by sessions; never modified)."""
    return image_collection(path, size, channels, max_images=MAX_UPLOAD_IMAGES)


def data_root() -> str | None:
    return os.environ.get("GAN_STUDIO_DATA_ROOT") or None


shown_name = train_form.upload_name  # a stored upload's name as it was uploaded


def stored_zip(upload, kept_key: str, first: str) -> tuple[Path, bool, str] | None:
    """(the zip to read, whether it is a new upload, its name to show): an upload (stored with
    save_upload), else the stored zip of the run a Clone came from; None, with `first` as a hint, for neither."""
    if upload is not None:
        return save_upload(upload.getvalue(), upload.name), True, upload.name
    kept = S.get(kept_key)
    if kept and Path(kept).exists():
        st.caption(t("train.kept", name=shown_name(kept)))
        return Path(kept), False, shown_name(kept)
    if kept:
        st.warning(t("train.kept_gone", name=shown_name(kept)))
    st.info(first)
    return None


def choose_data(size: int) -> tuple[dict, ImageData | None, int, int] | None:
    """Dataset widgets -> (data overrides, decoded upload or None, channels, classes); None until usable."""
    options = ["mnist5k", "upload", "torchvision"]
    kind = localized_choice(st.radio, t("train.dataset"), options, "tr_data", "mnist5k",
                            lambda o: t(f"train.data_{o}"), horizontal=True)
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
    stored = stored_zip(upload, "tr_kept_zip", t("train.upload_first"))
    if stored is None:
        return None
    path, fresh, _ = stored
    try:
        with st.spinner(t("train.decoding")):
            data = upload_images(str(path), size, channels)
    except USER_ERRORS as e:
        if fresh:
            discard_upload(path)
        st.error(t("train.upload_bad", message=str(e)))
        return None
    if len(data) < 2:
        if fresh:
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


def non_pictures(path: Path) -> list[str] | None:
    """The files of a readable zip (or folder) that holds no picture at all; None when it cannot be
    read or does hold one (then its own error says what is wrong)."""
    try:
        names = [rel for rel, _ in iter_image_files(path)]
    except DataError:
        return None
    return None if any(Path(n).suffix.lower() in IMAGE_SUFFIXES for n in names) else names


def domain_upload(side: str) -> tuple[Path, ImageData, int] | None:
    """One CycleGAN domain from a zip: uploaded (or kept by a Clone), every picture decoded and
    checked (the ones that do not decode are named), a count, greyscale or colour, a few thumbnails.
    (stored path, thumbnails, channels); None, with a message, until it can be trained on."""
    domain = t(f"train.cg_domain_{side}")
    upload = st.file_uploader(t("train.cg_upload", domain=domain), type=["zip"], key=f"tr_cg_zip_{side}",
                              help=t("train.cg_upload_help"))
    stored = stored_zip(upload, f"tr_cg_kept_{side}", t("train.cg_upload_first", domain=domain))
    if stored is None:
        return None
    path, fresh, name = stored
    try:
        with st.spinner(t("train.decoding")):
            data = upload_images(str(path), THUMB, 3)
    except USER_ERRORS as e:
        others = non_pictures(path)
        if fresh:
            discard_upload(path)
        if others is not None:
            st.error(t("train.cg_empty", domain=domain, name=name, n=len(others),
                       files=", ".join(others[:8]) or "—"))
        else:
            st.error(t("train.cg_bad", domain=domain, message=str(e)))
        return None
    if len(data) < 2:
        if fresh:
            discard_upload(path)
        st.error(t("train.cg_too_few", domain=domain, n=len(data)))
        return None
    channels = train_form.inferred_channels(data.images)
    st.success(t("train.cg_upload_ok", domain=domain, n=f"{len(data):,}",
                 kind=t("train.cg_grey") if channels == 1 else t("train.cg_colour")))
    if data.skipped:
        st.warning(t("train.upload_skipped", n=len(data.skipped),
                     files=", ".join(rel for rel, _ in data.skipped[:8])))
    preview = grid_image(data.batch(torch.arange(min(8, len(data))))[0], nrow=4)
    st.image(enlarge(preview, 280), caption=t("train.cg_preview", domain=domain))
    return path, data, channels


def apply_cycle_defaults(gpu: bool) -> None:
    """A change between built-in and uploaded domains brings that source's size, blocks, batch and steps
    (a clone sets tr_cg_seen itself, so its own values stay)."""
    source = S.tr_cg_data
    if S.get("tr_cg_seen") not in (None, source):
        S.update(train_form.cycle_defaults(source, gpu))
    S.tr_cg_seen = source


def choose_cycle_data() -> tuple[dict, tuple[int, int], tuple[ImageData, ImageData] | None] | None:
    """CycleGAN's two domains -> (data overrides, channels (A, B), thumbnails of uploads or None); None until both
    are usable."""
    source = localized_choice(st.radio, t("train.cg_data"), ["builtin", "upload"], "tr_cg_data", "builtin",
                              lambda o: t(f"train.cg_data_{o}"), horizontal=True)
    if source == "builtin":
        pair = localized_choice(st.radio, t("train.cg_pair"), list(PAIRS), "tr_cg_pair", "digits",
                                lambda o: t(f"train.cg_pair_{o}"), horizontal=True)
        st.caption(t(f"train.cg_pair_{pair}_help"))
        return train_form.cycle_data("builtin", pair), (1, 1), None
    st.caption(t("train.cg_upload_intro"))
    sides = []
    for side, col in zip("ab", st.columns(2)):
        with col:
            sides.append(domain_upload(side))
    if None in sides:
        return None
    (path_a, thumbs_a, ca), (path_b, thumbs_b, cb) = sides
    return train_form.cycle_data("upload", a=path_a, b=path_b), (ca, cb), (thumbs_a, thumbs_b)


def estimate_data(cfg, thumbs: tuple[ImageData, ImageData]) -> UnpairedData:
    """Stand-in domains for timing a step on uploads: a few of their thumbnails at the size training
    loads (9/8 of the crop). A step costs the same on any pictures of that size, and this spares the
    page decoding whole zips of full-size photos."""
    m, load = cfg.model, cfg.model.img_size * 9 // 8
    sides = [PairData(list(resize_images(d.images[:16], load, c)), None, d.name, m.img_size, cfg.data.flip)
             for d, c in zip(thumbs, (m.channels_a, m.channels_b))]
    return UnpairedData(*sides)


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


def cycle_widgets() -> None:
    """CycleGAN's own settings: crop size, residual blocks, the cycle weight and the identity share."""
    c1, c2 = st.columns(2)
    c1.segmented_control(t("train.size"), CYCLE_SIZES, key="tr_cg_size", required=True, persist_state=KEEP,
                         help=t("train.cg_size_help"))
    c2.segmented_control(t("train.cg_blocks"), CYCLE_BLOCKS, key="tr_cg_blocks", required=True, persist_state=KEEP,
                         help=t("train.cg_blocks_help"))
    w1, w2 = st.columns(2)
    cycle = w1.number_input(t("train.cg_cycle"), min_value=0.0, max_value=100.0, step=1.0, key="tr_cg_cycle",
                            persist_state=KEEP, help=t("train.cg_cycle_help"))
    w2.number_input(t("train.cg_identity"), min_value=0.0, max_value=10.0, step=0.1, format="%.2f",
                    key="tr_cg_identity", persist_state=KEEP, help=t("train.cg_identity_help"))
    if cycle == 0:
        st.warning(t("train.cg_cycle_off"))


def recipe_widgets(model: str) -> None:
    """The model and training widgets; their values (session keys of ui/train_form.py) make the recipe.
    A CycleGAN has its own loss, steps and batch (other defaults) and no noise, codes or DiffAugment."""
    cycle = model == "cyclegan"
    prefix = "tr_cg_" if cycle else "tr_"
    c1, c2, c3 = st.columns(3)
    c1.selectbox(t("train.loss"), list(LOSSES), key=f"{prefix}loss", persist_state=KEEP)
    c2.number_input(t("train.steps"), 1, 1_000_000, step=500, key=f"{prefix}steps", persist_state=KEEP)
    c3.selectbox(t("train.batch"), CYCLE_BATCHES if cycle else BATCHES, key=f"{prefix}batch", persist_state=KEEP,
                 help=t("train.cg_batch_help") if cycle else None)
    with st.expander(t("train.advanced")):
        st.caption(t("train.cg_advanced_help" if cycle else "train.advanced_help"))
        a1, a2, a3 = st.columns(3)
        fields = [
            (a1, "tr_train_optimizer", st.selectbox, {"label": t("train.optimizer"), "options": [None, "adam", "rmsprop", "sgd"],
                                                      "format_func": lambda o: t("train.default") if o is None else o}),
            (a2, "tr_train_lr_g", st.number_input, {"label": t("train.lr_g"), "value": None, "min_value": 1e-7, "max_value": 1.0,
                                                    "format": "%.1e", "placeholder": t("train.default")}),
            (a3, "tr_train_lr_d", st.number_input, {"label": t("train.lr_d"), "value": None, "min_value": 1e-7, "max_value": 1.0,
                                                    "format": "%.1e", "placeholder": t("train.default")}),
            (a1, "tr_train_k_d", st.number_input, {"label": t("train.k_d"), "value": None, "min_value": 1, "max_value": 20,
                                                   "placeholder": t("train.default")}),
            (a2, "tr_train_seed", st.number_input, {"label": t("train.seed"), "value": None, "min_value": 0,
                                                    "placeholder": "0"}),
            (a3, "tr_model_nz", st.number_input, {"label": t("train.nz"), "value": None, "min_value": 1, "max_value": 512,
                                                  "placeholder": t("train.default")}),
            (a1, "tr_model_ngf", st.number_input, {"label": t("train.ngf"), "value": None, "min_value": 4, "max_value": 256,
                                                   "placeholder": t("train.default")}),
            (a2, "tr_model_ndf", st.number_input, {"label": t("train.ndf"), "value": None, "min_value": 4, "max_value": 256,
                                                   "placeholder": t("train.default")}),
            (a3, "tr_train_lr_decay", st.selectbox, {"label": t("train.lr_decay"), "options": [None, "none", "linear"],
                                                     "format_func": lambda o: t("train.default") if o is None else o}),
            (a2, "tr_model_n_codes", st.number_input, {"label": t("train.n_codes"), "value": None, "min_value": 0,
                                                       "max_value": 1000, "placeholder": t("train.default"),
                                                       "help": t("train.n_codes_help")}),
            (a1, "tr_train_diffaugment", st.selectbox, {"label": t("train.diffaugment"), "options": diffaugment_options(),
                                                        "help": t("train.diffaugment_help"),
                                                        "format_func": diffaugment_label}),
        ]
        for col, key, widget, kwargs in fields:
            if cycle and key in train_form.DCGAN_ONLY:
                continue  # kept in the session (persist_state) for when a DCGAN is chosen again
            with col:
                widget(key=key, persist_state=KEEP, **kwargs)
        b1, b2 = st.columns(2)
        b1.number_input(t("train.beta1"), value=None, min_value=0.0, max_value=0.999, format="%.3f",
                        placeholder=t("train.default"), key="tr_beta1", persist_state=KEEP)
        b2.number_input(t("train.beta2"), value=None, min_value=0.0, max_value=0.9999, format="%.4f",
                        placeholder=t("train.default"), key="tr_beta2", persist_state=KEEP)


def clone(run: RunDir) -> None:
    """Put a run's recipe into the form (a callback: runs before the widgets are drawn); what the form
    cannot make again is listed above the form, a recipe it cannot make at all is refused."""
    try:
        cfg = load_recipe(run.path / "config.yaml")
    except ConfigError:
        return
    cfg = getattr(cfg, "gan", cfg)  # an anomaly detector's GAN is its `gan` section
    try:
        form = train_form.form_of(cfg)
        lost = train_form.not_kept(cfg, form)
    except (train_form.NotInForm, ConfigError) as e:
        S.tr_clone_refused = (run.id, str(e))
        return
    for key in train_form.KEPT:  # a zip kept from an earlier clone is not this run's
        S.pop(key, None)
    S.update(form)
    if form["tr_model"] == "cyclegan":
        S.tr_cg_seen = form["tr_cg_data"]  # the run's size, blocks and batch, not the source's defaults
    S.tr_clone_note = (run.id, lost)
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


def tracking_toggle() -> bool:
    """'Track in MLflow', only where the operator set up a server ($MLFLOW_TRACKING_URI or
    $GAN_STUDIO_MLFLOW_URI), named by its host alone. True when the server is there to track to."""
    found = operator_uri()
    if found is None:
        return False
    host = server_host(found[0])
    st.toggle(t("train.track"), key="tr_track", persist_state=KEEP, help=t("train.track_help"))
    st.caption(t("train.track_server", server=host) if host else t("train.track_local"))
    return True


def new_run_form():
    """Dataset, model, recipe and device; Estimate and Start. Returns the recipe the form makes, or None
    (early) while something is missing."""
    n1, n2, n3 = st.columns(3)
    n1.text_input(t("train.name"), key="tr_name", max_chars=60, persist_state=KEEP)
    owner = user()  # signed in, the run is theirs; on a laptop, any name typed here
    if owner is None:
        owner = n2.text_input(t("train.owner"), key="tr_owner", max_chars=60, persist_state=KEEP)
    else:
        n2.text_input(t("train.owner_signed_in"), value=owner, disabled=True, key="tr_owner_signed_in")
    notes = n3.text_input(t("train.notes"), key="tr_notes", max_chars=300, persist_state=KEEP)
    devices = describe_devices()
    m1, m2 = st.columns(2)
    with m1:
        model = localized_choice(st.radio, t("train.model"), MODELS, "tr_model", "dcgan",
                                 lambda o: t(f"train.model_{o}"), horizontal=True, help=t("train.model_help"))
    estimate_on = None  # what a step is timed on: the decoded upload, stand-in domains, or the recipe's own data
    if model == "cyclegan":
        apply_cycle_defaults(str(S.get("tr_device") or devices[-1]["device"]).startswith("cuda"))
        chosen = choose_cycle_data()
        # the settings are drawn even while the data is not ready (the data widgets come first, as for a DCGAN)
        cycle_widgets()
        recipe_widgets(model)
        data, channels, thumbs = chosen or ({}, (1, 1), None)
        classes = 0
    else:
        size = m2.segmented_control(t("train.size"), SIZES, key="tr_size", required=True, persist_state=KEEP) or 28
        chosen = choose_data(int(size))
        # the recipe widgets are drawn even while the data is not ready: Streamlit forgets the state
        # of a widget that one run skipped
        recipe_widgets(model)
        data, estimate_on, channels, classes = chosen or ({}, None, 1, 0)

    d1, d2 = st.columns(2)
    labels = {d["device"]: d["name"] + (f" · {d['memory_gb']} GB" if "memory_gb" in d else "") for d in devices}
    # the CPU in what a run gets: describe_devices' thread count is this app's own, which the Learn pages lower to 1
    threads = train_form.training_threads()
    labels["cpu"] = t("train.device_cpu", cores=train_form.usable_cpus(),
                      threads=t("train.threads_one") if threads == 1 else t("train.threads_many", n=threads))
    device = d1.selectbox(t("train.device"), list(labels),
                          format_func=lambda k: labels[k] if k == "cpu" else f"{k}: {labels[k]}",
                          key="tr_device", index=len(labels) - 1, persist_state=KEEP, help=t("train.device_help"))
    gpus = sum(d["device"].startswith("cuda") for d in devices)
    nproc = 1
    if device.startswith("cuda") and gpus > 1:
        nproc = d2.slider(t("train.gpus"), 1, gpus, gpus, key="tr_nproc", help=t("train.gpus_help"),
                          persist_state=KEEP)
        if nproc > 1:
            device = "cuda"
    tracking = tracking_toggle()
    if chosen is None:
        return
    if model == "conditional" and classes < 2:
        st.error(t("train.conditional_needs_classes"))
        return
    form = {key: S.get(key) for key in (*train_form.DEFAULTS, *train_form.CYCLE_DEFAULTS, *train_form.ADVANCED)}
    if model == "cyclegan" and train_form.cycle_channels(channels, S.tr_cg_identity) != tuple(channels):
        st.caption(t("train.cg_both_colour"))
    form["tr_track"] = tracking and bool(form["tr_track"])  # a clone of a tracked run, with no server here: off
    form["tr_size"] = int(form["tr_size"] or 28)
    form["tr_cg_size"] = int(form["tr_cg_size"] or CYCLE_SIZES[0])
    form["tr_cg_blocks"] = int(form["tr_cg_blocks"] or 6)
    try:
        cfg = train_form.recipe(form, data, channels, classes)
        if model == "cyclegan" and thumbs is not None:
            estimate_on = estimate_data(cfg, thumbs)
    except USER_ERRORS as e:
        st.error(t("train.bad_recipe", message=str(e)))
        return

    with st.popover(t("train.show_recipe"), icon=":material/description:"):
        st.caption(t("train.recipe_help"))  # shown trimmed; jobs.submit writes it whole
        st.code(essential_yaml(yaml.safe_load(dump_recipe(cfg))), language="yaml")
    e1, e2 = st.columns(2)
    if e1.button(t("train.estimate"), icon=":material/timer:", key="tr_estimate"):
        try:
            with st.spinner(t("train.estimating")):
                seconds = time_per_step(cfg, device if nproc == 1 else "cuda:0", data=estimate_on)
        except (*USER_ERRORS, RuntimeError) as e:
            st.error(t("train.estimate_failed", message=str(e)))
        else:
            st.info(t("train.estimate_result", per_1k=duration_words(1000 * seconds),
                      total=duration_words(cfg.train.steps * seconds), steps=steps_text(cfg.train.steps)))
    if e2.button(t("train.start"), type="primary", icon=":material/rocket_launch:", key="tr_start"):
        try:
            run = jobs.submit(cfg, device=device, nproc=nproc, owner=owner.strip(), notes=notes.strip())
        except ConfigError as e:
            st.error(t("train.bad_recipe", message=str(e)))
            return
        st.query_params["run"] = run.id
        st.rerun()
    return cfg


def several_machines(cfg) -> None:
    """The form's recipe trained on several machines at once: the command each one runs (the one builder,
    gan_core.launch, as `python -m gan_core launch` prints it), the recipe to put there and what they must
    share. This page starts nothing on them."""
    st.caption(t("train.mm_intro"))
    if cfg is None:
        st.info(t("train.mm_form_first"))
        return
    c1, c2, c3 = st.columns(3)
    c1.number_input(t("train.mm_nodes"), 1, 4096, key="tr_mm_nodes", persist_state=KEEP)
    c2.number_input(t("train.mm_nproc"), 1, 1024, key="tr_mm_nproc", persist_state=KEEP, help=t("train.mm_nproc_help"))
    c3.text_input(t("train.mm_endpoint"), key="tr_mm_endpoint", placeholder="node1:29500", max_chars=300,
                  persist_state=KEEP, help=t("train.mm_endpoint_help"))
    d1, d2 = st.columns(2)
    with d1:
        localized_choice(st.radio, t("train.mm_device"), MACHINE_DEVICES, "tr_mm_device", "cuda",
                         lambda o: t(f"train.mm_device_{o}"), horizontal=True)
    d2.text_input(t("train.mm_recipe"), key="tr_mm_recipe", placeholder=train_form.machines_recipe_path({}, cfg),
                  max_chars=500, persist_state=KEEP, help=t("train.mm_recipe_help"))
    form = {key: S.get(key) for key in train_form.MACHINES_DEFAULTS}
    if int(form["tr_mm_nodes"]) > 1 and not str(form["tr_mm_endpoint"] or "").strip():
        st.info(t("train.mm_endpoint_first"))
        return
    try:
        spec, argv = train_form.machines_command(form, cfg)
    except ConfigError as e:  # a LaunchError: the spec, or this recipe on these machines
        st.error(t("train.mm_bad", message=str(e)))
        return
    recipe = train_form.machines_recipe_path(form, cfg)
    st.download_button(t("train.mm_download", name=Path(recipe).name), dump_recipe(cfg), file_name=Path(recipe).name,
                       mime="application/yaml", icon=":material/download:", key="tr_mm_download")
    runs = str(runs_root().resolve())
    st.markdown(t("train.mm_where", recipe=recipe, runs=runs))
    if named := recipe_paths(cfg):  # an upload, a torchvision folder, starting weights: not on the other machines
        st.warning(t("train.mm_paths", paths=", ".join(f"`{p}`" for p in named.values())))
    # the run folder goes where this app looks for runs (useful when that is storage they all mount)
    text = f"export GAN_STUDIO_RUNS={shlex.quote(runs)}\n{shell(argv)}"
    if spec.standalone:
        st.code(text, language="bash", wrap_lines=True)
        return
    st.caption(t("train.mm_first", host=split_endpoint(spec.rdzv_endpoint)[0]))
    st.code(text, language="bash", wrap_lines=True)
    st.caption(t("train.mm_second") if spec.nodes == 2 else t("train.mm_others", n=spec.nodes))
    st.code(text, language="bash", wrap_lines=True)


with st.expander(t("train.new_run"), expanded=S.pop("tr_show_form", None) or not rows):
    made = new_run_form()
with st.expander(t("train.machines"), icon=":material/lan:"):
    several_machines(made)


# ---------------------------------------------------------------- runs

def linked_run() -> RunDir | None:
    """The run the link's ?run= names, when it is a run folder."""
    run_id = st.query_params.get("run")
    if run_id and "/" not in run_id and not run_id.startswith(".") and (runs_root() / run_id).is_dir():
        return RunDir(runs_root() / run_id)
    return None


def raw_recipe(run_path: str) -> dict:
    """A run's config.yaml as written (unvalidated; {} if unreadable)."""
    try:
        raw = read_recipe(Path(run_path) / "config.yaml")
    except ConfigError:
        return {}
    return raw if isinstance(raw, dict) else {}


@st.cache_data(max_entries=1024, show_spinner=False)
def domains_label(run_path: str) -> str:
    """'A ↔ B' for an unpaired run (the index says only 'unpaired'); config.yaml is written once."""
    data = raw_recipe(run_path).get("data") or {}

    def name(side) -> str:
        side = side if isinstance(side, dict) else {}
        if side.get("name", "folder") == "folder":
            return shown_name(str(side.get("path") or "?"))
        return str(side.get("name")) + ("" if side.get("half", "all") == "all" else f" ({side['half']})")
    return f"{name(data.get('a'))} ↔ {name(data.get('b'))}"


def dataset_label(row: dict) -> str:
    if row["dataset"] == "unpaired":
        return domains_label(str(runs_root() / row["id"]))
    if str(row["dataset"]).startswith("folder/"):  # an upload, by the name it was uploaded with
        return "folder/" + shown_name(row["dataset"])
    return row["dataset"]


BEST = ("fd", "kid", "precision", "recall")  # the figures of runs.BEST that training logs, in the order shown


def runs_table(listed: list[dict]) -> None:
    """The runs as a table; a click on a row links that run (?run=) and redraws the page to show it."""
    best = [k for k in BEST if any(k in r["best"] for r in listed)]  # a column for each figure some run has
    table = [{t("train.col_name"): r["name"], t("train.col_state"): state_label(r["state"]),
              t("train.col_step"): f"{r['step'] or 0:,} / {r['steps'] or 0:,}", t("train.col_data"): dataset_label(r),
              t("train.col_model"): r["model"], t("train.col_loss"): r["loss"], t("train.col_owner"): r["owner"],
              **{t(f"train.col_best_{k}"): format_metric(k, r["best"][k]) if k in r["best"] else "" for k in best},
              t("train.col_id"): r["id"]} for r in listed]
    S.tr_listed = [r["id"] for r in listed]  # what the table's row numbers stand for, for pick()

    def pick() -> None:
        chosen = S.tr_table.selection.rows
        if chosen and chosen[0] < len(S.tr_listed) and st.query_params.get("run") != S.tr_listed[chosen[0]]:
            st.query_params["run"] = S.tr_listed[chosen[0]]
            S.tr_picked = True
    st.dataframe(table, hide_index=True, on_select=pick, selection_mode="single-row", key="tr_table", width="stretch",
                 column_config={t(f"train.col_best_{k}"): st.column_config.TextColumn(help=metric_label(k))
                                for k in best})


st.subheader(t("train.runs"))
if (linked := linked_run()) is not None and not may_manage(linked):  # someone else's: no panel, and why
    st.warning(t("train.not_yours", run=linked.id))
if not rows:
    st.info(t("train.no_runs", root=str(runs_root().resolve())))
    st.stop()
polling = any(r["state"] in LIVE_STATES for r in rows)


# The table follows live runs as the panel below does: drawn once per page run, it said "starting 0 / 2,000"
# of a run the panel showed at step 270. Each poll reads the live runs' folders (RunIndex.rows).
@st.fragment(run_every=POLL_S if polling else None)
def runs_list() -> None:
    f1, f2 = st.columns([2, 1])
    text = f1.text_input(t("train.filter"), key="tr_filter", placeholder=t("train.filter_help"))
    state = f2.selectbox(t("train.state"), [None, "queued", "starting", "running", "finished", "failed", "stopped",
                                            "broken"], key="tr_state_filter",
                         format_func=lambda s: t("train.any_state") if s is None else state_label(s))
    everything = mine(runs.rows())
    # a process killed without a word still says 'running': refresh() marks it failed, so no row polls for ever
    if any(jobs.refresh(RunDir(runs_root() / r["id"])).get("state") != r["state"]
           for r in everything if r["state"] in LIVE_STATES):
        everything = mine(runs.rows())
    listed = mine(runs.rows(state=state, text=text.strip() or None)) if state or text.strip() else everything
    runs_table(listed)
    if S.pop("tr_picked", None):
        st.rerun(scope="app")  # a run was picked: the panel below is outside this fragment
    if polling and not any(r["state"] in LIVE_STATES for r in everything):
        st.rerun(scope="app")  # the last live run ended: stop polling, redraw its panel


runs_list()

run = linked_run()
if run is not None and may_manage(run):
    live_now = run.status().get("state") in LIVE_STATES

    @st.fragment(run_every=POLL_S if live_now else None)
    def watch() -> None:
        state = run_panel(run, on_clone=clone, on_delete=forget)
        if "tr_clone_note" in S or "tr_clone_refused" in S:
            st.rerun(scope="app")  # Clone's callback ran in this fragment: the form above is to show it
        if live_now and state not in LIVE_STATES:
            st.rerun(scope="app")  # it ended: redraw the table, stop polling

    with st.container(border=True):
        watch()
        if (raw_recipe(str(run.path)).get("model") or {}).get("arch") == "cyclegan":
            st.caption(t("train.cg_sheet"))  # what the rows of its sample sheet are
else:
    st.caption(t("train.pick_run"))
