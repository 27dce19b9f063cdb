"""Generate: draw a grid of samples from a shipped or trained checkpoint."""
import secrets
import time

import streamlit as st
import torch

from gan_core.checkpoint import CheckpointError
from gan_core.sampling import grid_image
from ui.i18n import localized_choice, t
from ui import model_card
from ui.images import enlarge, png_bytes
from ui.models import archs_of, cached_generator, checkpoints_dir, page_models
from ui.urlstate import write_to_url

st.title(t("generate.title"))
st.caption(t("generate.intro"))

found = page_models(archs_of("image", "points"))
if not found:
    st.warning(t("generate.none", folder=str(checkpoints_dir())))
    st.stop()


def new_seed() -> None:
    st.session_state["gen_seed"] = secrets.randbelow(1_000_000)


controls, result = st.columns([1, 2], gap="large")
with controls:
    name = st.selectbox(t("generate.model"), list(found), key="gen_model", bind="query-params")
    path, card = found[name].path, found[name].card
    model_card.summary(card)
    try:
        gen = cached_generator(path)
    except CheckpointError as e:
        st.error(t("errors.checkpoint", message=str(e)))
        st.stop()

    label = None
    if not gen.n_classes:
        write_to_url("gen_label", None)
    else:
        options = ["all"] + [str(k) for k in range(gen.n_classes)]
        groups = gen.self_conditioned  # groups it found in unlabeled pictures, not classes anyone named
        choice = localized_choice(st.selectbox, t("generate.group" if groups else "generate.label"), options,
                                  "gen_label", "all",
                                  lambda o: t("generate.all_groups" if groups else "generate.all_classes") if o == "all"
                                  else t("generate.group_name", k=int(o) + 1) if groups
                                  else t("generate.class_name", name=gen.classes[int(o)]), in_url=True,
                                  help=t("generate.groups_help", k=gen.n_classes) if groups else None)
        label = None if choice == "all" else int(choice)
    n = st.slider(t("generate.count"), 1, 100, 40, key="gen_n", bind="query-params")
    # starts at min_value (0): New seed sets it through session state, and a default beside that makes Streamlit warn
    seed = st.number_input(t("generate.seed"), 0, 2**31 - 1, step=1, key="gen_seed", bind="query-params",
                           help=t("generate.seed_help"))
    st.button(t("generate.new_seed"), on_click=new_seed, icon=":material/casino:", key="gen_new_seed")

with result:
    if gen.n_classes:
        labels = torch.full((n,), label) if label is not None else torch.arange(n) % gen.n_classes
        nrow = gen.n_classes if label is None else max(1, round(n ** 0.5))
    else:
        labels, nrow = None, max(1, round(n ** 0.5))
    start = time.perf_counter()
    x = gen.sample(n, seed=int(seed), labels=labels)
    elapsed_ms = (time.perf_counter() - start) * 1000
    grid = grid_image(x, nrow=nrow)
    st.image(enlarge(grid), caption=t("generate.caption", n=n, seed=int(seed), ms=f"{elapsed_ms:.0f}"))
    st.download_button(t("generate.download"), png_bytes(grid), file_name=f"{name}_seed{int(seed)}.png",
                       mime="image/png", icon=":material/download:")

model_card.details(card)
