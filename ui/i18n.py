"""Translations: every UI string is looked up here by key, in English or Simplified Chinese.

Catalogs live in ui/locales/<lang>.yaml as nested sections; keys are dotted
paths ("generate.seed"). Values may hold {placeholders} filled by t(key, name=...).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import streamlit as st
import yaml

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
    with open(LOCALES / f"{lang}.yaml", encoding="utf-8") as f:
        return _flatten(yaml.safe_load(f) or {})


def current_language() -> str:
    lang = st.session_state.get("lang") or DEFAULT
    return lang if lang in LANGUAGES else DEFAULT


def t(key: str, **values: object) -> str:
    """The string for `key` in the current language (English if a translation is missing)."""
    text = catalog(current_language()).get(key) or catalog(DEFAULT).get(key)
    if text is None:
        raise KeyError(f"no translation for {key!r} in ui/locales/{DEFAULT}.yaml")
    return text.format(**values) if values else text


def language_selector() -> str:
    """The language switch (sidebar); its value also lives in the URL as ?lang=zh."""
    return st.sidebar.segmented_control(
        "Language · 语言", list(LANGUAGES), format_func=LANGUAGES.get, default=DEFAULT, required=True,
        key="lang", bind="query-params", persist_state="session") or DEFAULT
