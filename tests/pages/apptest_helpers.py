"""Opening the app in AppTest, as every page test does."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def app(lang: str = "en") -> AppTest:
    """The app, not yet run, in `lang` (AppTest cannot reach the sidebar switch after switch_page)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = lang
    return at


def open_page(page: str, lang: str = "en", **query: str) -> AppTest:
    """The app run once, then switched to views/<page>, with `query` as the link's parameters."""
    at = app(lang)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at
