"""The login gate: first-run setup, streamlit-authenticator login, logout, and the caller's context.

Pages use two things from here::

    ctx = require_ctx()            # first line of every page: stops with a login hint when nobody is in
    if require_editor(ctx): ...    # True for editors and admins; viewers see a notice and change nothing
    require_admin(ctx)             # stops the page for non-admins (Users page)

Home.py calls ``login_gate()`` on every run: it shows the setup form on an empty database, else the
login form, and returns the logged-in user's context (re-read from the database on every run, so a
role change or a deactivation takes effect at the next click).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth
from streamlit.errors import StreamlitAPIException

from backend.accounts import service as accounts
from backend.context import Ctx
from backend.settings import get_settings
from studio.feedback import attempt

CTX_KEY = "studio_ctx"
AUTH_KEY = "studio_authenticator"
_FINGERPRINT_KEY = "_studio_auth_fingerprint"
_NAMES_KEY = "_studio_auth_names"  # lower-cased name -> stored name (the authenticator lower-cases)
_LOGOUT_KEY = "_studio_logout_requested"
_SET_COOKIE_KEY = "_studio_set_cookie"
_NOTICE_KEY = "_studio_login_notice"


def cookie_key() -> str:
    """The cookie signing key: STUDIO_SECRET_KEY, else one generated once and kept in the data dir."""
    settings = get_settings()
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / ".cookie_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written to a private temp file, then linked into place: two processes starting at once
        # agree on one key, and the key is never readable by others, not even for a moment.
        tmp = path.with_name(f".cookie_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def _fingerprint(credentials: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(credentials, sort_keys=True, default=str).encode()).hexdigest()


def authenticator(*, refresh: bool = False) -> stauth.Authenticate:
    """One Authenticate object per browser session, rebuilt when the users in the database change.

    Credentials are passed as a dict (bcrypt hashes from the database, never a YAML file). A user
    added, removed, deactivated or given a new password elsewhere is seen at the next login.
    """
    credentials = accounts.credentials()
    fingerprint = _fingerprint(credentials)
    if refresh or AUTH_KEY not in st.session_state or st.session_state.get(_FINGERPRINT_KEY) != fingerprint:
        settings = get_settings()
        st.session_state[_NAMES_KEY] = {name.lower(): name for name in credentials["usernames"]}
        st.session_state[AUTH_KEY] = stauth.Authenticate(
            copy.deepcopy(credentials),  # the authenticator writes into the dict it is given
            cookie_name=settings.cookie_name,
            cookie_key=cookie_key(),
            cookie_expiry_days=settings.cookie_expiry_days,
            auto_hash=False,  # the database already holds bcrypt hashes
            login_sleep_time=0,  # it reads cookies from st.context; no need to wait for a component
        )
        st.session_state[_FINGERPRINT_KEY] = fingerprint
    return st.session_state[AUTH_KEY]


def current_ctx() -> Ctx | None:
    """The logged-in caller's context, or None."""
    return st.session_state.get(CTX_KEY)


def require_ctx() -> Ctx:
    """The caller's context; stops the page with a login hint when nobody is logged in."""
    ctx = current_ctx()
    if ctx is None:
        # A page only runs without Home.py's gate in Streamlit's folder-based menu mode (the first
        # run of a fresh server on a page URL): send the browser to Home.py, which shows the login.
        try:
            st.switch_page("Home.py")
        except StreamlitAPIException:  # no Home.py in this app (a page tested on its own)
            pass
        st.warning("Please log in on the Home page.")
        st.stop()
    return ctx


def require_editor(ctx: Ctx) -> bool:
    """True when the caller may change things; shows a notice for viewers."""
    if not ctx.can_edit:
        st.info("You have the viewer role: you can look, not change.")
    return ctx.can_edit


def require_admin(ctx: Ctx) -> None:
    """Stop the page unless the caller is an admin of their workspace."""
    if not ctx.is_admin:
        st.error("Only admins of the workspace can open this page.")
        st.stop()


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
            created = attempt(
                lambda: accounts.setup_first_run(
                    workspace=workspace, username=username, password=password, password_repeat=repeat
                )
            )
            if created is not None:
                st.session_state.pop(AUTH_KEY, None)
                st.session_state[_NOTICE_KEY] = ("success", "Workspace created. Log in with your new account.")
                st.rerun()


def _stored_username(name: str) -> str:
    return st.session_state.get(_NAMES_KEY, {}).get(name.lower(), name)


def _forget_login(auth: stauth.Authenticate | None) -> None:
    """End the authenticator's session and delete the browser's re-login cookie."""
    if auth is not None and st.session_state.get("authentication_status"):
        auth.logout(location="unrendered")  # renders the cookie-deleting component in this run
    st.session_state.pop(CTX_KEY, None)


def _login_form(auth: stauth.Authenticate) -> None:
    auth.login(location="main", key="login", fields={"Form name": "Log in", "Login": "Log in"})


def login_gate() -> Ctx | None:
    """Show setup or login until someone is logged in; returns their context."""
    if accounts.needs_setup():
        setup_form()
        return None
    if st.session_state.pop(_LOGOUT_KEY, False):
        _forget_login(st.session_state.get(AUTH_KEY))
        st.session_state[_NOTICE_KEY] = ("info", "You are logged out.")
    # Kept until the next login: the cookie component's first value causes an extra run.
    notice = st.session_state.get(_NOTICE_KEY)
    if notice:
        getattr(st, notice[0])(notice[1])
    was_in = bool(st.session_state.get("authentication_status"))
    auth = authenticator()
    by_cookie = not was_in and bool(auth.cookie_controller.get_cookie())
    try:
        _login_form(auth)
    except Exception as err:  # noqa: BLE001 - e.g. a cookie naming a user that no longer exists
        st.session_state["logout"] = True  # the authenticator ignores the cookie from now on
        st.error(f"Please log in again ({err}).")
        _login_form(auth)
    status = st.session_state.get("authentication_status")
    if status is False:
        st.error("Username or password is incorrect.")
    if not status:
        st.session_state.pop(CTX_KEY, None)
        return None
    ctx = accounts.ctx_for_username(_stored_username(st.session_state.get("username") or ""))
    if ctx is None:  # removed or deactivated since the cookie was issued
        _forget_login(auth)
        st.session_state[_NOTICE_KEY] = ("error", "This account is disabled or no longer exists.")
        st.rerun()
    st.session_state[CTX_KEY] = ctx
    st.session_state.pop(_NOTICE_KEY, None)
    if not was_in and not by_cookie:
        # Rerun without the login form; the cookie is written in that complete run (see below),
        # because a component rendered just before a rerun may never reach the browser.
        st.session_state[_SET_COOKIE_KEY] = True
        st.rerun()
    if st.session_state.pop(_SET_COOKIE_KEY, False):
        auth.cookie_controller.set_cookie()
    return ctx


def _request_logout() -> None:
    st.session_state[_LOGOUT_KEY] = True


def logout_button() -> None:
    """A logout button in the sidebar; the next run forgets the login and deletes the cookie."""
    st.sidebar.button("Log out", key="studio_logout", on_click=_request_logout, icon=":material/logout:")
