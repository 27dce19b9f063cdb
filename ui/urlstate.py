"""Page state in the link (?key=value), so a link reproduces what one sees: one way per kind of widget.

- A widget whose value is what the link should hold (slider, number input, text, a selectbox of
  untranslated names) is bound by Streamlit itself: `key="<page>_...", bind="query-params"`.
- A choice shown through a translated format_func goes through `ui.i18n.localized_choice`, which
  keeps the *option* in the link with the two helpers below (?gen_label=7, ?lang=zh, the same in
  every language).
- Any other value a page puts in its link (the Toy Lab's whole experiment) is written with
  `write_to_url` too; a page may read such a value from st.query_params directly.

Why not `bind` for translated choices (Streamlit 1.67, read in its source): a bound widget's URL
value is its wire value, and for st.selectbox / st.radio that is the *displayed label*
(SelectboxSerde.serialize / RadioSerde.serialize return format_func(option)); st.segmented_control
and st.pills write a list of displayed labels. On load, SessionState._seed_widget_from_url accepts
a value only if it is one of the labels drawn now (`formatted_options`), so ?gen_label=Class+7
made in English is dropped when the link is opened in Chinese (and the other way round). A bound
parameter also cannot be written or removed through st.query_params, and it disappears from the
link while the widget shows its default.
"""
from __future__ import annotations

from typing import Any, Sequence

import streamlit as st


def init_from_url(key: str, default: Any, options: Sequence[Any]) -> None:
    """Seed st.session_state[key] from ?key=... the first time this session renders the widget,
    or when the options changed under it: the option written as ?key, else `default`."""
    if st.session_state.get(key) in options:
        return
    raw = st.query_params.get(key)
    st.session_state[key] = next((o for o in options if raw is not None and str(o) == raw), default)


def write_to_url(key: str, value: Any) -> None:
    """Put ?key=value in the page link; None takes ?key out."""
    if value is None:
        st.query_params.pop(key, None)
    elif st.query_params.get(key) != str(value):
        st.query_params[key] = str(value)
