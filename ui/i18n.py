"""Translations: every UI string is looked up here by key, in English or Simplified Chinese.

Catalogs live in ui/locales/<part>.<lang>.yaml (one part per page or group of pages, so
each has one writer) as nested sections; keys are dotted paths ("generate.seed") and no
key may appear in two parts. Values may hold {named} fields filled by t(key, named=...).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import streamlit as st
import yaml

from .urlstate import init_from_url, write_to_url

LOCALES = Path(__file__).with_name("locales")
LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"


def _flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = str(value)
    return flat


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted(LOCALES.glob(f"*.{lang}.yaml")):
        with open(path, encoding="utf-8") as f:
            part = _flatten(yaml.safe_load(f) or {})
        clash = set(part) & set(merged)
        if clash:
            raise KeyError(f"{path.name} repeats keys defined in another catalog part: {sorted(clash)[:5]}")
        merged.update(part)
    return merged


def current_language() -> str:
    lang = st.session_state.get("lang") or DEFAULT
    return lang if lang in LANGUAGES else DEFAULT


def t(key: str, **values: object) -> str:
    """The string for `key` in the current language (English if a translation is missing)."""
    text = catalog(current_language()).get(key) or catalog(DEFAULT).get(key)
    if text is None:
        raise KeyError(f"no translation for {key!r} in ui/locales/*.{DEFAULT}.yaml")
    return text.format(**values) if values else text


def language_selector() -> str:
    """The language switch (sidebar); its value also lives in the link as ?lang=zh. Its option texts
    are the languages' own names, the same in every language, so its key stays put."""
    init_from_url("lang", DEFAULT, list(LANGUAGES))
    lang = st.sidebar.segmented_control(t("language"), list(LANGUAGES), format_func=LANGUAGES.get,
                                        required=True, key="lang", persist_state="session") or DEFAULT
    write_to_url("lang", lang)
    return lang


def localized_choice(widget: Callable, label: str, options: list, key: str, default, labels: Callable[[Any], str],
                     in_url: bool = False, **kwargs) -> Any:
    """The one way to draw a choice with translated option texts: `widget` is st.selectbox, st.radio,
    st.pills or st.segmented_control (or a column's). Its value lives in st.session_state[key], where a
    page may also set it, and, with in_url, in the link as ?key=<option> (see ui/urlstate.py for why
    not `bind`).

    The option texts are worked out now, in the page's language (AppTest formats options outside
    the page's run), and the widget itself is keyed per language ("<key>__<lang>"): a keyed
    Streamlit widget keeps its identity when only format_func's output changes, so after a
    language switch it would read in the old language or fall back to its default.
    """
    texts = {o: labels(o) for o in options}
    if in_url:
        init_from_url(key, default, options)
    elif not _among(st.session_state.get(key), options):
        st.session_state[key] = default
    widget_key = f"{key}__{current_language()}"
    if st.session_state.get(widget_key) != st.session_state[key]:
        st.session_state[widget_key] = st.session_state[key]  # first drawn in this language, or the page chose
    widget(label, options, format_func=texts.get, key=widget_key, on_change=_keep, args=(key, widget_key), **kwargs)
    if in_url:
        write_to_url(key, st.session_state[key])
    return st.session_state[key]


def _keep(key: str, widget_key: str) -> None:
    """A person's choice in the widget becomes the value (callbacks run before the page)."""
    st.session_state[key] = st.session_state[widget_key]


def _among(value, options: list) -> bool:
    """Whether a choice (or each choice of a multi-select) is one of `options`."""
    return all(v in options for v in value) if isinstance(value, list) else value in options
