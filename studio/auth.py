"""The login gate: first-run setup, streamlit-authenticator login, and the caller's context."""

from __future__ import annotations

import secrets
from pathlib import Path

import streamlit as st
import streamlit_authenticator as stauth

from backend.accounts import service as accounts
from backend.context import Ctx
from backend.errors import DomainError
from backend.settings import get_settings

CTX_KEY = "studio_ctx"
AUTH_KEY = "studio_authenticator"


def cookie_key() -> str:
    """The cookie signing key: STUDIO_SECRET_KEY, else one generated once and kept in the data dir."""
    settings = get_settings()
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / ".cookie_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def authenticator(*, refresh: bool = False) -> stauth.Authenticate:
    """One Authenticate object per browser session, fed the users from the database."""
    if refresh or AUTH_KEY not in st.session_state:
        settings = get_settings()
        st.session_state[AUTH_KEY] = stauth.Authenticate(
            accounts.credentials(),
            cookie_name=settings.cookie_name,
            cookie_key=cookie_key(),
            cookie_expiry_days=settings.cookie_expiry_days,
            auto_hash=False,  # the database already holds bcrypt hashes
        )
    return st.session_state[AUTH_KEY]


def current_ctx() -> Ctx | None:
    """The logged-in caller's context, or None."""
    return st.session_state.get(CTX_KEY)


def require_ctx() -> Ctx:
    """The caller's context; stops the page with a login hint when nobody is logged in."""
    ctx = current_ctx()
    if ctx is None:
        st.warning("Please log in on the Home page.")
        st.stop()
    return ctx


def require_editor(ctx: Ctx) -> bool:
    """True when the caller may change things; shows a notice for viewers."""
    if not ctx.can_edit:
        st.info("You have the viewer role: you can look, not change.")
    return ctx.can_edit


def setup_form() -> None:
    """First run: workspace name, admin username, password twice."""
    st.title("Welcome to InfluencerAI Studio")
    st.write("Create your workspace and its first admin.")
    with st.form("setup"):
        workspace = st.text_input("Workspace name")
        username = st.text_input("Admin username")
        password = st.text_input("Password", type="password")
        repeat = st.text_input("Repeat password", type="password")
        if st.form_submit_button("Create workspace", type="primary"):
            try:
                accounts.setup_first_run(workspace=workspace, username=username, password=password, password_repeat=repeat)
            except DomainError as err:
                st.error(str(err))
            else:
                st.session_state.pop(AUTH_KEY, None)
                st.session_state["setup_done"] = True
                st.rerun()


def login_gate() -> Ctx | None:
    """Show setup or login until someone is logged in; returns their context."""
    if accounts.needs_setup():
        setup_form()
        return None
    if st.session_state.pop("setup_done", False):
        st.success("Workspace created. Log in with your new account.")
    auth = authenticator()
    try:
        auth.login(location="main", key="login")
    except Exception as err:  # noqa: BLE001 - the authenticator raises on malformed input
        st.error(str(err))
    status = st.session_state.get("authentication_status")
    if status is False:
        st.error("Username or password is incorrect.")
    if not status:
        st.session_state.pop(CTX_KEY, None)
        return None
    ctx = accounts.ctx_for_username(st.session_state.get("username") or "")
    if ctx is None:
        st.error("This account is disabled.")
        return None
    st.session_state[CTX_KEY] = ctx
    return ctx


def logout_button() -> None:
    """A logout button in the sidebar."""
    auth = st.session_state.get(AUTH_KEY)
    if auth is not None:
        auth.logout("Log out", location="sidebar", key="logout")
        if not st.session_state.get("authentication_status"):
            st.session_state.pop(CTX_KEY, None)
