"""Widget values that live in the page link (?key=value), so a link reproduces what one sees.

Streamlit's own `bind="query-params"` writes a widget's *displayed* label into the URL
(?lang=简体中文, ?label=Class+7); these helpers keep the underlying value there instead
(?lang=zh, ?label=7), which stays the same in every language.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import streamlit as st


def init_from_url(key: str, default: Any, options: Sequence[Any] | None = None,
                  cast: Callable[[str], Any] = str) -> None:
    """Seed st.session_state[key] from ?key=... the first time this session renders the widget,
    or when the options changed under it. A value that does not parse, or is not among
    `options`, falls back to `default`."""
    if key in st.session_state and (options is None or st.session_state[key] in options):
        return
    raw = st.query_params.get(key)
    value = default
    if raw is not None:
        try:
            value = cast(raw)
        except (TypeError, ValueError):
            value = default
    if options is not None and value not in options:
        value = default
    st.session_state[key] = value


def write_to_url(*keys: str) -> None:
    """Put the current values of these widgets into the page link."""
    for key in keys:
        value = st.session_state.get(key)
        if value is not None and st.query_params.get(key) != str(value):
            st.query_params[key] = str(value)
