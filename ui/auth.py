"""Who is using the app, on a team server: Streamlit's own sign-in (`st.login`, `st.user`), switched
on by an `[auth]` section in .streamlit/secrets.toml (docs/guide.md, "Team server").

Without that section (a laptop) there is no sign-in: `user()` is None, which gan_core lets do
everything, and nothing here draws anything. With it, `gate()` lets only signed-in visitors past,
runs belong to whoever started them, and the admins (`[gan_studio] admins = [...]` in the secrets,
and $GAN_STUDIO_ADMINS, comma-separated) may manage every run.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import streamlit as st
from streamlit.errors import StreamlitAuthError

from gan_core import runs
from gan_core.runs import RunDir

from .i18n import t


def _secrets() -> Mapping:
    """st.secrets, or {} when there is no secrets file (reading a missing one raises)."""
    return st.secrets if st.secrets.load_if_toml_exists() else {}


def sign_in_configured() -> bool:
    """Whether the secrets have an `[auth]` section (the test Streamlit itself uses for st.user)."""
    return bool(_secrets().get("auth"))


def user() -> str | None:
    """The signed-in identity: the e-mail, else the provider's stable subject id. None without sign-in
    configured, and before logging in."""
    if not sign_in_configured() or not st.user.get("is_logged_in"):
        return None
    return str(st.user.get("email") or st.user.get("sub") or "") or None


def admins() -> tuple[str, ...]:
    """The identities that may manage every run: the secrets' `[gan_studio] admins` and $GAN_STUDIO_ADMINS."""
    listed = (_secrets().get("gan_studio") or {}).get("admins") or []
    names = [listed] if isinstance(listed, str) else list(listed)
    names += os.environ.get("GAN_STUDIO_ADMINS", "").split(",")
    return tuple(sorted({str(n).strip() for n in names if str(n).strip()}))


def rights() -> dict:
    """user= and admins= for the gan_core calls that check them (jobs.stop, share.export_run, ...)."""
    return {"user": user(), "admins": admins()}


def may_manage(run: RunDir) -> bool:
    """Whether the visitor may stop, resume, delete, share or export `run` (always, without sign-in)."""
    return runs.may_manage(run, **rights())


def may_view(run: RunDir) -> bool:
    """Whether the visitor may see `run`: theirs (or any, for an admin) and those marked shared."""
    return runs.may_view(run, **rights())


def gate() -> None:
    """With sign-in configured, a visitor who is not signed in sees why and a Log in button, and the
    script stops there; a signed-in one sees who they are and Log out in the sidebar. Without it, nothing."""
    if not sign_in_configured():
        return
    identity = user()
    if identity is None:
        st.title(t("home.title"))
        st.info(t("auth.why"))
        if st.button(t("auth.login"), type="primary", icon=":material/login:", key="auth_login"):
            try:
                st.login()
            except StreamlitAuthError as e:  # Authlib missing, or an [auth] section without its keys
                st.error(t("auth.login_failed", message=str(e)))
        st.stop()
    role = t("auth.admin") if identity in admins() else ""
    st.sidebar.caption(t("auth.signed_in", user=identity, role=role))
    st.sidebar.button(t("auth.logout"), icon=":material/logout:", key="auth_logout", on_click=st.logout)
