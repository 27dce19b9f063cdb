"""Translations: every UI string is looked up here by key, in English or Simplified Chinese.

Catalogs live in ui/locales/<part>.<lang>.yaml (one part per page or group of pages, so
each has one writer) as nested sections; keys are dotted paths ("generate.seed") and no
key may appear in two parts. Values may hold {named} fields filled by t(key, named=...).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
    """The language switch (sidebar); its value also lives in the link as ?lang=zh."""
    init_from_url("lang", DEFAULT, options=list(LANGUAGES))
    lang = st.sidebar.segmented_control(t("language"), list(LANGUAGES), format_func=LANGUAGES.get,
                                        required=True, key="lang", persist_state="session") or DEFAULT
    write_to_url("lang")
    return lang


def localized_selectbox(label: str, options: list, key: str, default, format_func, in_url: bool = True,
                        **kwargs) -> object:
    """A selectbox with translated option texts whose value lives in st.session_state[key] and, with
    in_url, in the link (?key=value).

    The widget itself is keyed per language: a keyed Streamlit widget keeps showing the option
    text it was first drawn with when only format_func's output changes, so after a language
    switch the selection would still read in the old language.
    """
    if in_url:
        init_from_url(key, default, options)
    elif st.session_state.get(key) not in options:
        st.session_state[key] = default
    choice = st.selectbox(label, options, index=options.index(st.session_state[key]), format_func=format_func,
                          key=f"{key}__{current_language()}", **kwargs)
    st.session_state[key] = choice
    if in_url:
        write_to_url(key)
    return choice
