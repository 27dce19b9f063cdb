"""GAN Studio: streamlit run app.py (or `make run`)."""
from pathlib import Path

import streamlit as st

import ui.preload  # noqa: F401  (first: see its docstring)
from ui.auth import gate
from ui.i18n import language_selector
from ui.navigation import menu

ICON = Path(__file__).with_name("ui") / "assets" / "icon.png"

# A local file: a ":material/...:" icon makes the browser fetch it from a font host, which fails offline.
st.set_page_config(page_title="GAN Studio", page_icon=str(ICON), layout="wide")
language_selector()
gate()  # with sign-in configured, nothing but the login until the visitor has signed in
st.navigation(menu()).run()
