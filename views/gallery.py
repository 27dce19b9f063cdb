"""Gallery: samples, interpolations, training timelines and the memorisation check of every model,
shipped or trained here; two models side by side; run bundles out and in.

With sign-in (ui/auth.py) the runs offered are the visitor's own and those shared with the team;
a shared run of someone else's is read-only (no export), and an imported bundle is the importer's."""
import io

import streamlit as st
import torch
from PIL import Image

from gan_core.checkpoint import CheckpointError
from gan_core.config import ConfigError
from gan_core.data import load_training_data
from gan_core.data.images import DataError
from gan_core.recipes import load_recipe
from gan_core.runs import RunDamaged
from gan_core.sampling import grid_image, interpolation, nearest_images, with_code
from gan_core.share import BundleError, export_run, import_bundle
from ui.auth import may_manage, rights, user
from ui.i18n import localized_choice, t
from ui.images import enlarge, png_bytes
from ui.metric_names import format_metric, metric_label
from ui.model_card import details, summary
from ui.models import PageModel, archs_of, cached_generator, page_models

S = st.session_state
st.title(t("gallery.title"))
st.caption(t("gallery.intro"))


# ---------------------------------------------------------------- sources: shipped models and runs


def sources() -> dict[str, PageModel]:
    """'ckpt:<name>' for shipped image checkpoints, 'run:<id>' for image runs with a checkpoint."""
    return {f"run:{m.run.id}" if m.run else f"ckpt:{m.card['name']}": m
            for m in page_models(archs_of("image"), runs=True).values()}


def source_label(src: PageModel) -> str:
    if src.run is None:
        return t("gallery.shipped", name=src.card["name"])
    label = t("gallery.run", name=src.card["name"], id=src.run.id, step=int(src.path.stem.split("_")[-1]))
    return label if may_manage(src.run) else label + t("gallery.shared_by", owner=src.run.owner())


def pick(text: str, key: str, options: dict[str, PageModel], default: str) -> str:
    """A model menu whose choice lives in the link (?gal_src=run:<id>)."""
    labels = {k: source_label(m) for k, m in options.items()}
    return localized_choice(st.selectbox, text, list(options), key, default, labels.get, in_url=True)


@st.cache_resource(max_entries=4, show_spinner=False)
def training_pool(config_text: str, size: int, channels: int) -> torch.Tensor:
    """Up to 5,000 training images of a recipe, in [-1, 1], for the memorisation check."""
    data = load_training_data(load_recipe(text=config_text))
    idx = torch.arange(min(5000, len(data)))
    return data.batch(idx)[0]


def recipe_text(src: PageModel) -> str | None:
    if src.run is not None:
        return (src.run.path / "config.yaml").read_text(encoding="utf-8")
    return src.card.get("recipe_yaml")


COMPARED = ("fd", "fd_train_vs_test", "fd_ratio_to_baseline", "kid", "precision", "recall", "density", "coverage",
            "label_accuracy", "step")  # the floor before its ratio: the ratio's name says "that floor"


def figures(src: PageModel) -> dict:
    """What is known of a model's quality: a shipped model's card; for a run, the last figures it
    tracked while training (train.eval_every). Named as a run logs them: a card's `fd_classifier` is
    the same Fréchet distance (on the digit classifier's features) as a run's `fd`."""
    if src.run is None:
        metrics = src.card.get("metrics") or {}
        found = {("fd" if k == "fd_classifier" else k): v for k, v in metrics.items()}
        return {k: found[k] for k in COMPARED if k in found} | {"step": src.card.get("step")}
    tracked = [r for r in src.run.read_metrics() if "fd" in r]
    last = tracked[-1] if tracked else {}
    return {k: last[k] for k in COMPARED if k in last} | {"step": last.get("step") or src.run.status().get("step")}


def compared(keys: list[str]) -> list[dict]:
    """The figures of the models in `keys`, one row per figure (its name in words), one column per model."""
    known = {k: figures(options[k]) for k in keys}
    rows = []
    for name in COMPARED:
        if any(known[k].get(name) is not None for k in keys):
            rows.append({t("metric_table.name"): metric_label(name),
                         **{source_label(options[k]): "—" if known[k].get(name) is None
                            else format_metric(name, known[k][name]) for k in keys}})
    return rows


def shown_card(src: PageModel) -> dict:
    """The card a model is shown with. A run's newest checkpoint holds the training state and the whole
    config, not a model card: it is shown as the card its export would write (description in both
    languages, data, steps, recipe), with the figures it last measured while training."""
    if src.run is None:
        return src.card
    config = src.card.get("config") or {}
    measured = {k: v for k, v in figures(src).items() if k != "step" and v is not None}
    return {"name": src.card.get("name"), "description": config.get("description", ""),
            "description_zh": config.get("description_zh"), "step": src.card.get("step"),
            "data": config.get("data") or {}, "recipe_yaml": recipe_text(src), "metrics": measured,
            "run": src.run.id}


def tracked_url(run) -> str | None:
    """The run's page on the team's MLflow server, when it was tracked to one (train.track: mlflow;
    gan_core/train/tracking.py writes tracking.json). Only a web address is linked: the file is read
    from the runs folder, and a link is followed by whoever clicks it."""
    try:
        url = run.read_json("tracking.json").get("url")
    except RunDamaged:
        return None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def load(src: PageModel):
    try:
        return cached_generator(src.path)
    except CheckpointError as e:
        st.error(t("errors.checkpoint", message=str(e)))
        st.stop()


def import_uploaded() -> None:
    """The uploader's callback (it runs before the model menu is drawn, so it may pick the new run)."""
    S.pop("gal_import_error", None)
    S.pop("gal_import_done", None)
    bundle = S.get("gal_import")
    if bundle is None:
        return
    try:
        new = import_bundle(bundle.getvalue(), owner=user() or "")
    except BundleError as e:
        S.gal_import_error = str(e)
        return
    S.gal_src = f"run:{new.id}"
    S.gal_import_done = new.id


options = sources()
if not options:
    st.info(t("gallery.empty"))
    st.stop()
key = pick(t("gallery.model"), "gal_src", options, next(iter(options)))
src = options[key]
if S.get("gal_import_done") and key == f"run:{S.gal_import_done}":  # shown here: the rerun reopens the first tab
    st.success(t("gallery.imported", id=S.gal_import_done))
gen = load(src)
card = shown_card(src)
summary(card)
details(card)

c1, c2, c3, c4 = st.columns(4)
seed = int(c1.number_input(t("gallery.seed"), 0, 2**31 - 1, 0, key="gal_seed", bind="query-params"))
trunc_on = c3.toggle(t("gallery.truncation"), key="gal_trunc_on", help=t("gallery.truncation_help"))
truncation = c4.slider(t("gallery.psi"), 0.3, 3.0, 1.0, 0.1, key="gal_psi", disabled=not trunc_on) if trunc_on else None
label = None
if gen.n_classes:
    names = ["all"] + list(range(gen.n_classes))
    groups = gen.self_conditioned  # groups it found in unlabeled pictures (data.clusters)
    label = localized_choice(st.selectbox, t("generate.group" if groups else "gallery.label"), names, "gal_label", "all",
                             lambda k: t("gallery.all_groups" if groups else "gallery.all_classes") if k == "all"
                             else t("generate.group_name", k=k + 1) if groups else gen.classes[k],
                             help=t("generate.groups_help", k=gen.n_classes) if groups else None)
    label = None if label == "all" else int(label)
by_code = bool(gen.n_codes) and st.toggle(t("gallery.by_code"), key="gal_by_code",
                                         help=t("gallery.by_code_help", k=gen.n_codes))
# One row per class or per code fills whole rows only: the slider counts per row then, and says the total
# (a slider of 36 drew 3 rows of 10 classes, 30 pictures).
rows_of = gen.n_codes if by_code else gen.n_classes if gen.n_classes and label is None else 0
if rows_of:
    per = int(c2.slider(t("gallery.count_per_code" if by_code else "gallery.count_per_group" if gen.self_conditioned
                          else "gallery.count_per_class"), 1,
                        max(1, 100 // rows_of), min(3, max(1, 100 // rows_of)), key="gal_per_row"))
    count = per * rows_of
    c2.caption(t("gallery.count_total", rows=rows_of, per=per, n=count))
else:
    count = int(c2.slider(t("gallery.count"), 4, 100, 36, key="gal_count"))


def sample_grid(g, n: int) -> tuple[Image.Image, torch.Tensor]:
    """n samples of g (for a model drawn one row per class or code: whole rows, n // rows each)."""
    chosen = label if label is not None and label < g.n_classes else None  # the other model may have fewer classes
    if g.n_codes and by_code:
        per = max(1, n // g.n_codes)  # one row per code: the same noise, the code set to each value
        z = g.noise(per, seed, truncation).repeat(g.n_codes, 1)
        x = g(with_code(z, torch.arange(g.n_codes).repeat_interleave(per), g.n_codes))
        return grid_image(x, nrow=per), x
    if g.n_classes and chosen is None:
        per = max(1, n // g.n_classes)  # one row per class
        labels = torch.arange(g.n_classes).repeat_interleave(per)
        x = g.sample(len(labels), seed=seed, labels=labels, truncation=truncation)
        return grid_image(x, nrow=per), x
    labels = None if not g.n_classes else torch.full((n,), chosen)
    x = g.sample(n, seed=seed, labels=labels, truncation=truncation)
    return grid_image(x, nrow=max(1, round(n ** 0.5))), x


tabs = st.tabs([t("gallery.tab_samples"), t("gallery.tab_interpolate"), t("gallery.tab_timeline"),
                t("gallery.tab_memory"), t("gallery.tab_compare"), t("gallery.tab_share")])

with tabs[0]:
    grid, samples = sample_grid(gen, count)
    st.image(enlarge(grid, 640), caption=t("gallery.by_code_caption", seed=seed, last=gen.n_codes - 1) if by_code
             else t("gallery.samples_caption", seed=seed))
    st.download_button(t("gallery.download_png"), png_bytes(grid), f"{key.split(':', 1)[1]}_seed{seed}.png",
                       "image/png", icon=":material/download:", key="gal_dl_grid")

with tabs[1]:
    i1, i2, i3 = st.columns(3)
    seed_b = int(i1.number_input(t("gallery.seed_b"), 0, 2**31 - 1, seed + 1, key="gal_seed_b"))
    frames = int(i2.slider(t("gallery.frames"), 4, 32, 12, key="gal_frames"))
    path_label = label if label is not None or not gen.n_classes else 0  # a path stays within one class
    x = interpolation(gen, seed, seed_b, frames, label=path_label, truncation=truncation)
    pos = i3.slider(t("gallery.position"), 0, frames - 1, 0, key="gal_pos")
    left, right = st.columns([1, 3])
    left.image(enlarge(grid_image(x[pos:pos + 1], nrow=1), 200), caption=t("gallery.frame", i=pos + 1, n=frames))
    right.image(enlarge(grid_image(x, nrow=frames), 900), caption=t("gallery.path", a=seed, b=seed_b))
    gif = io.BytesIO()
    pictures = [enlarge(grid_image(x[i:i + 1], nrow=1), 256).convert("P") for i in range(frames)]
    pictures += pictures[-2:0:-1]  # there and back, so the loop does not jump
    pictures[0].save(gif, format="GIF", save_all=True, append_images=pictures[1:], duration=120, loop=0)
    st.download_button(t("gallery.download_gif"), gif.getvalue(), f"interpolation_{seed}_{seed_b}.gif", "image/gif",
                       icon=":material/animated_images:", key="gal_dl_gif")
    if gen.n_classes and label is None:
        st.caption(t("gallery.interpolate_class0"))

with tabs[2]:
    run = src.run
    grids = sorted(run.samples.glob("step_*.png")) if run is not None else []
    if not grids:
        st.info(t("gallery.no_timeline"))
    else:
        steps = [int(p.stem.split("_")[-1]) for p in grids]
        at = st.select_slider(t("gallery.timeline_step"), steps, value=steps[-1], key="gal_timeline")
        st.image(str(grids[steps.index(at)]), caption=t("gallery.timeline_caption", step=at), width=520)

with tabs[3]:
    st.caption(t("gallery.memory_help"))
    text = recipe_text(src)
    if not text:
        st.info(t("gallery.memory_no_recipe"))
    else:
        try:
            pool = training_pool(text, gen.model.img_size, gen.model.channels)
        except (DataError, ConfigError, OSError) as e:
            st.warning(t("gallery.memory_no_data", message=str(e)))
        else:
            which = st.slider(t("gallery.memory_sample"), 1, len(samples), 1, key="gal_mem_i") - 1
            dist, idx = nearest_images(samples[which:which + 1], pool, k=5)
            row = torch.cat([samples[which:which + 1], pool[idx[0]]])
            st.image(enlarge(grid_image(row, nrow=6), 720),
                     caption=t("gallery.memory_caption", d=", ".join(f"{v:.1f}" for v in dist[0].tolist())))
            d_all, _ = nearest_images(samples, pool, k=1)
            st.markdown(t("gallery.memory_summary", n=len(samples), median=f"{d_all.median().item():.1f}",
                          low=f"{d_all.min().item():.1f}"))

with tabs[4]:
    other_key = pick(t("gallery.compare_with"), "gal_vs", options, next((k for k in options if k != key), key))
    other = load(options[other_key])
    a, b = st.columns(2)
    a.image(enlarge(grid, 480), caption=t("gallery.compare_caption", model=source_label(options[key]), n=len(samples)))
    if other.n_classes != gen.n_classes or other.model.nz != gen.model.nz:
        st.caption(t("gallery.compare_note"))
    other_grid, other_samples = sample_grid(other, count)
    b.image(enlarge(other_grid, 480),
            caption=t("gallery.compare_caption", model=source_label(options[other_key]), n=len(other_samples)))
    st.dataframe(compared(list(dict.fromkeys((key, other_key)))), hide_index=True, width="stretch")

with tabs[5]:
    run = src.run
    if run is not None:
        if may_manage(run):
            st.markdown(t("gallery.export_help"))
            st.download_button(t("gallery.export"), lambda: export_run(run, **rights()), f"{run.id}.zip",
                               "application/zip", icon=":material/ios_share:", key="gal_export")
        else:
            st.info(t("gallery.read_only", owner=run.owner()))
        st.markdown(t("gallery.permalink"))
        st.code(f"?gal_src={key}&gal_seed={seed}", language=None)
        if mlflow_url := tracked_url(run):
            st.link_button(t("gallery.open_mlflow"), mlflow_url, icon=":material/open_in_new:", key="gal_mlflow",
                           help=t("gallery.open_mlflow_help"))
    else:
        st.info(t("gallery.export_shipped"))
    st.divider()
    st.file_uploader(t("gallery.import"), type=["zip"], key="gal_import", help=t("gallery.import_help"),
                     on_change=import_uploaded)
    if S.get("gal_import_error"):
        st.error(t("gallery.import_bad", message=S.gal_import_error))
