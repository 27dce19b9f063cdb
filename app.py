"""GAN Studio: streamlit run app.py (or `make run`)."""
import streamlit as st

import ui.preload  # noqa: F401  (first: see its docstring)
from ui.auth import gate
from ui.i18n import language_selector
from ui.navigation import menu

st.set_page_config(page_title="GAN Studio", page_icon=":material/blur_on:", layout="wide")
language_selector()
gate()  # with sign-in configured, nothing but the login until the visitor has signed in
st.navigation(menu()).run()
