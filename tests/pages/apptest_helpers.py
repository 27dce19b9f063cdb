"""Opening the app in AppTest, as every page test does."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
# A team server's secrets: an OIDC provider (never reached in tests) and one admin.
TEAM_SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-only",
                         "client_id": "gan-studio", "client_secret": "test-only",
                         "server_metadata_url": "https://idp.example/.well-known/openid-configuration"},
                "gan_studio": {"admins": ["root@lab"]}}


def app(lang: str = "en", user: str | None = None) -> AppTest:
    """The app, not yet run, in `lang` (AppTest cannot reach the sidebar switch after switch_page).

    With `user`, the app is a team server (TEAM_SECRETS) and `user` has signed in. at.secrets
    reaches the app's own reading of st.secrets (ui/auth.py), but not the copy st.user checks for
    an [auth] section, so st.user gets no is_logged_in from Streamlit here: at.user sets it, with
    the e-mail a provider would return. A visitor who has not signed in: at.user["is_logged_in"] = False."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = lang
    if user is not None:
        at.secrets = dict(TEAM_SECRETS)
        at.user = {"is_logged_in": True, "email": user, "sub": f"sub-{user}"}
    return at


def open_page(page: str, lang: str = "en", user: str | None = None, **query: str) -> AppTest:
    """The app run once, then switched to views/<page>, with `query` as the link's parameters;
    with `user`, signed in as them on a team server."""
    at = app(lang, user)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at
