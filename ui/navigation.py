"""The app's sections and pages, in one place: app.py builds the menu from it, Home its overview."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from .i18n import t


@dataclass(frozen=True)
class PageSpec:
    path: str   # file under views/
    key: str    # translation key under nav.*, and the page's url path
    icon: str


# Sections appear in the menu and on Home only once they hold a page.
SECTIONS: dict[str, list[PageSpec]] = {
    "learn": [PageSpec("views/divergences.py", "divergences", ":material/compare_arrows:"),
              PageSpec("views/gan_1d.py", "gan_1d", ":material/show_chart:"),
              PageSpec("views/toy_lab.py", "toy_lab", ":material/scatter_plot:")],
    "train": [PageSpec("views/train.py", "training", ":material/model_training:")],
    "apply": [PageSpec("views/generate.py", "generate", ":material/grid_view:"),
              PageSpec("views/sketch.py", "sketch", ":material/draw:"),
              PageSpec("views/unpaired.py", "unpaired", ":material/swap_horiz:"),
              PageSpec("views/superres.py", "superres", ":material/zoom_in:"),
              PageSpec("views/anomaly.py", "anomaly", ":material/troubleshoot:"),
              PageSpec("views/music.py", "music", ":material/music_note:")],
    "share": [PageSpec("views/gallery.py", "gallery", ":material/photo_library:")],
}
HOME = PageSpec("views/home.py", "home", ":material/home:")


def st_page(spec: PageSpec, default: bool = False) -> st.Page:
    return st.Page(spec.path, title=t(f"nav.{spec.key}"), icon=spec.icon, url_path=spec.key, default=default)


def menu() -> dict[str, list]:
    pages = {t("nav.start"): [st_page(HOME, default=True)]}
    for section, specs in SECTIONS.items():
        if specs:
            pages[t(f"nav.{section}")] = [st_page(s) for s in specs]
    return pages
