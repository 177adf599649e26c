"""pages/users.py: admins manage their own workspace's users; everybody else is refused."""

from __future__ import annotations

from backend.accounts import service as accounts
from tests.conftest import make_tenant
from tests.ui.conftest import button, texts


def add_user(at, username, password, role="editor", repeat=None):  # type: ignore[no-untyped-def]
    at.text_input(key="new_username").input(username)
    at.text_input(key="new_password").input(password)
    at.text_input(key="new_password_repeat").input(password if repeat is None else repeat)
    at.selectbox(key="new_role").set_value(role)
    return button(at, "Add user").click().run()


def usernames(at) -> list[str]:  # type: ignore[no-untyped-def]
    return list(at.dataframe[0].value["username"])


def test_admin_sees_only_own_workspace_and_adds_a_user(page_app, ctx, other_ctx):
    at = page_app("pages/users.py", ctx)
    assert not at.exception
    assert usernames(at) == ["acme-admin"]  # not globex-admin
    at = add_user(at, "erin", "password123", role="viewer")
    assert not at.exception
    assert usernames(at) == ["acme-admin", "erin"]
    erin = accounts.authenticate("erin", "password123")
    assert erin is not None and erin.role == "viewer" and erin.tenant_id == ctx.tenant_id


def test_add_user_errors_are_messages(page_app, ctx, other_ctx):
    at = page_app("pages/users.py", ctx)
    at = add_user(at, "globex-admin", "password123")  # taken, in another workspace
    assert "Username 'globex-admin' is taken" in texts(at.error)
    at = add_user(at, "frank", "password123", repeat="password999")
    assert "The passwords do not match." in texts(at.error)
    at = add_user(at, "x", "short")
    assert "Invalid input" in texts(at.error) or any("invalid" in e.lower() for e in texts(at.error))
    assert usernames(at) == ["acme-admin"]


def test_last_admin_cannot_be_demoted_deactivated_or_deleted(page_app, ctx):
    at = page_app("pages/users.py", ctx)
    at.selectbox(key=f"role_{ctx.user_id}").set_value("editor").run()
    at.button(key=f"set_role_{ctx.user_id}").click().run()
    assert "A workspace keeps at least one active admin" in texts(at.error)
    at.button(key=f"toggle_active_{ctx.user_id}").click().run()
    assert "A workspace keeps at least one active admin" in texts(at.error)
    at.checkbox(key=f"confirm_delete_{ctx.user_id}").check().run()
    at.button(key=f"delete_{ctx.user_id}").click().run()
    assert "A workspace keeps at least one active admin" in texts(at.error)
    assert accounts.get_user(ctx, ctx.user_id).role == "admin"


def test_change_role_deactivate_reset_password_delete(page_app, ctx):
    user = accounts.create_user(ctx, username="gina", password="password123", role="editor")
    at = page_app("pages/users.py", ctx)
    at.selectbox(key="manage_user").set_value(user.id).run()
    at.selectbox(key=f"role_{user.id}").set_value("viewer").run()
    at.button(key=f"set_role_{user.id}").click().run()
    assert accounts.get_user(ctx, user.id).role == "viewer"
    at.button(key=f"toggle_active_{user.id}").click().run()
    assert accounts.get_user(ctx, user.id).active is False
    at.button(key=f"toggle_active_{user.id}").click().run()
    assert accounts.get_user(ctx, user.id).active is True
    at.text_input(key=f"reset_pw_{user.id}").input("another-pass-1")
    at.text_input(key=f"reset_pw2_{user.id}").input("another-pass-1")
    button(at, "Set password").click().run()
    assert accounts.authenticate("gina", "another-pass-1") is not None
    assert accounts.authenticate("gina", "password123") is None
    assert at.button(key=f"delete_{user.id}").disabled  # until confirmed
    at.checkbox(key=f"confirm_delete_{user.id}").check().run()
    at.button(key=f"delete_{user.id}").click().run()
    assert not at.exception
    assert usernames(at) == ["acme-admin"]


def test_workspace_settings(page_app, ctx):
    at = page_app("pages/users.py", ctx)
    at.text_input(key="ws_name").input("Acme Agency")
    at.selectbox(key="ws_timezone").set_value("Europe/Berlin")
    button(at, "Save workspace").click().run()
    tenant = accounts.get_tenant(ctx)
    assert (tenant.name, tenant.timezone) == ("Acme Agency", "Europe/Berlin")


def test_editor_and_viewer_are_refused(page_app, ctx):
    for role in ("editor", "viewer"):
        other = make_tenant("acme", role=role)
        at = page_app("pages/users.py", other)
        assert not at.exception
        assert texts(at.error) == ["Only admins of the workspace can open this page."]
        assert not at.dataframe and not at.text_input
