"""Home: what GAN Studio is, the GAN game in two paragraphs, and where to go next."""
import streamlit as st
import torch

from gan_core.checkpoint import CheckpointError
from gan_core.sampling import grid_image
from ui.i18n import t
from ui.images import enlarge
from ui.models import archs_of, cached_generator, page_models
from ui.navigation import SECTIONS

st.title(t("home.title"))
st.markdown(t("home.tagline"))

st.subheader(t("home.game_title"))
text, demo = st.columns([3, 2], gap="large")
with text:
    st.markdown(t("home.game_p1"))
with demo:
    conditional = [m for m in page_models(archs_of("image", "points")).values() if m.card["model"].get("n_classes")
                   and not m.card.get("label_prior")]  # a self-conditioned model's groups are not digits
    if conditional:
        card = conditional[0].card
        try:
            gen = cached_generator(conditional[0].path)
            x = gen.sample(20, seed=0, labels=torch.arange(20) % gen.n_classes)
            st.image(enlarge(grid_image(x, nrow=gen.n_classes), 480),
                     caption=t("home.demo_caption", name=card["name"]))
        except CheckpointError as e:
            st.warning(t("errors.checkpoint", message=str(e)))
st.latex(r"\min_G \max_D V(D,G) = \mathbb{E}_{x\sim p_{\mathrm{data}}}\left[\log D(x)\right]"
         r" + \mathbb{E}_{z\sim p_z}\left[\log\left(1 - D(G(z))\right)\right]")
st.markdown(t("home.game_p2"))
st.latex(r"D^*(x) = \frac{p_{\mathrm{data}}(x)}{p_{\mathrm{data}}(x) + p_g(x)}, \qquad"
         r" C(G) = -\log 4 + 2\,\mathrm{JS}(p_{\mathrm{data}} \,\|\, p_g)")

st.divider()
sections = [(name, specs) for name, specs in SECTIONS.items() if specs]
for col, (name, specs) in zip(st.columns(len(sections)), sections):
    with col, st.container(border=True):
        st.subheader(t(f"nav.{name}"))
        st.markdown(t(f"home.section_{name}"))
        for spec in specs:
            st.page_link(spec.path, label=t(f"nav.{spec.key}"), icon=spec.icon)

with st.expander(t("home.cli_title")):
    st.markdown(t("home.cli_intro"))
    st.code("python -m gan_core --help\n"
            "python -m gan_core sample checkpoints/mnist_cgan.safetensors --label 7 --n 16 --out sevens.png\n"
            "python -m gan_core train configs/mnist_dcgan_plain.yaml --set train.steps=500\n"
            "python -m gan_core info checkpoints/mnist_dcgan.safetensors", language="bash")
