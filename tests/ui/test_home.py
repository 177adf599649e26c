"""Home.py: the login gate, first-run setup, login, logout and the authenticator's view of users."""

from __future__ import annotations

import pytest

from backend.accounts import service as accounts
from tests.ui.conftest import button, login, texts


def setup(at, *, workspace="Acme Studio", username="alice", password="password123", repeat=None):  # type: ignore[no-untyped-def]
    inputs = {t.label: t for t in at.text_input}
    inputs["Workspace name"].input(workspace)
    inputs["Admin username"].input(username)
    inputs["Password"].input(password)
    inputs["Repeat password"].input(password if repeat is None else repeat)
    return button(at, "Create workspace").click().run()


def test_empty_database_shows_only_the_setup_form(home_app):
    at = home_app()
    assert not at.exception
    assert texts(at.title) == ["Welcome to InfluencerAI Studio"]
    assert [t.label for t in at.text_input] == ["Workspace name", "Admin username", "Password", "Repeat password"]
    assert [b.label for b in at.button] == ["Create workspace"]
    assert not at.sidebar.children or not any(b.label == "Log out" for b in at.sidebar.button)


def test_setup_refuses_mismatched_passwords(home_app):
    at = setup(home_app(), repeat="password124")
    assert "Passwords do not match" in texts(at.error)
    assert accounts.needs_setup()
    assert texts(at.title) == ["Welcome to InfluencerAI Studio"]


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [("al", "password123", "Invalid admin"), ("alice", "short", "Invalid admin")],
)
def test_setup_refuses_invalid_admin(home_app, username, password, message):
    at = setup(home_app(), username=username, password=password)
    assert any(message in e for e in texts(at.error))
    assert accounts.needs_setup()


def test_setup_creates_the_admin_then_shows_login(home_app):
    at = setup(home_app())
    assert not at.exception
    assert "Workspace created. Log in with your new account." in texts(at.success)
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    ctx = accounts.authenticate("alice", "password123")
    assert ctx is not None and ctx.role == "admin"
    assert accounts.get_tenant(ctx).name == "Acme Studio"


def test_login_wrong_password_then_right_one_then_logout(home_app, ctx):
    at = home_app()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert not texts(at.title)  # nothing but the login before login
    at = login(at, ctx.username, "wrong-password")
    assert "Username or password is incorrect." in texts(at.error)
    assert "studio_ctx" not in at.session_state
    at = login(at, ctx.username, "password123")
    assert not at.exception
    assert "Dashboard" in texts(at.title)
    assert at.session_state["studio_ctx"].user_id == ctx.user_id
    assert any("Signed in as" in c for c in texts(at.sidebar.caption))
    at.button(key="studio_logout").click().run()
    assert "You are logged out." in texts(at.info)
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert "studio_ctx" not in at.session_state
    assert "Dashboard" not in texts(at.title)


def test_login_with_mixed_case_username(home_app, ctx):
    accounts.create_user(ctx, username="MixedCase", password="password123", role="editor")
    at = login(home_app(), "MixedCase", "password123")
    assert "Dashboard" in texts(at.title)
    assert at.session_state["studio_ctx"].username == "MixedCase"


def test_authenticator_sees_users_changed_after_it_was_built(home_app, ctx):
    at = home_app()  # this session's authenticator is built now
    created = accounts.create_user(ctx, username="bob", password="password123", role="viewer")
    accounts.update_user(ctx, created.id, password="new-password-1")
    at = login(at, "bob", "password123")  # the old password no longer works
    assert "Username or password is incorrect." in texts(at.error)
    at = login(at, "bob", "new-password-1")
    assert at.session_state["studio_ctx"].role == "viewer"


def test_deactivated_user_is_logged_out_at_the_next_run(home_app, ctx):
    user = accounts.create_user(ctx, username="carol", password="password123", role="editor")
    at = login(home_app(), "carol", "password123")
    assert "Dashboard" in texts(at.title)
    accounts.update_user(ctx, user.id, active=False)
    at.run()
    assert "studio_ctx" not in at.session_state
    assert "This account is disabled or no longer exists." in texts(at.error)
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_role_change_applies_at_the_next_run(home_app, ctx):
    user = accounts.create_user(ctx, username="dave", password="password123", role="editor")
    at = login(home_app(), "dave", "password123")
    assert at.session_state["studio_ctx"].role == "editor"
    accounts.update_user(ctx, user.id, role="viewer")
    at.run()
    assert at.session_state["studio_ctx"].role == "viewer"


@pytest.mark.parametrize("path", ["pages/dashboard.py", "pages/jobs.py", "pages/users.py"])
def test_page_without_login_shows_only_the_hint(page_app, path):
    at = page_app(path, None)
    assert not at.exception
    assert texts(at.warning) == ["Please log in on the Home page."]
    assert len(at.main.children) == 1  # the hint and nothing else


def test_cookie_key_is_generated_once_and_private(studio_env, tmp_path):
    import stat

    from studio.auth import cookie_key

    first = cookie_key()
    assert len(first) >= 32 and cookie_key() == first
    from backend.settings import get_settings

    path = get_settings().data_dir / ".cookie_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    studio_env(secret_key="from-settings")
    assert cookie_key() == "from-settings"
