"""Accounts: first-run setup, bcrypt passwords, roles, the last-admin guard and workspace isolation."""

from __future__ import annotations

import pytest

from backend.accounts import service as accounts
from backend.context import Ctx
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied


def test_first_run_setup_once_only(studio_env) -> None:  # type: ignore[no-untyped-def]
    assert accounts.needs_setup()
    with pytest.raises(InvalidInput, match="passwords do not match"):
        accounts.setup_first_run(workspace="Acme Studio", username="alice", password="password123", password_repeat="password124")
    assert accounts.needs_setup()
    with pytest.raises(InvalidInput):
        accounts.setup_first_run(workspace="   ", username="alice", password="password123", password_repeat="password123")
    with pytest.raises(InvalidInput, match="password"):
        accounts.setup_first_run(workspace="Acme", username="alice", password="short", password_repeat="short")
    admin = accounts.setup_first_run(workspace="Acme Studio", username="alice", password="password123", password_repeat="password123")
    assert admin.role == "admin" and not accounts.needs_setup()
    assert accounts.tenant_by_slug("acme-studio").name == "Acme Studio"
    with pytest.raises(Conflict, match="already done"):
        accounts.setup_first_run(workspace="Evil", username="mallory", password="password123", password_repeat="password123")
    with pytest.raises(NotFound):
        accounts.tenant_by_slug("evil")


def test_passwords_are_bcrypt_hashes(studio_env) -> None:  # type: ignore[no-untyped-def]
    accounts.setup_first_run(workspace="Acme", username="alice", password="password123", password_repeat="password123")
    creds = accounts.credentials()["usernames"]["alice"]
    assert str(creds["password"]).startswith("$2b$") and "password123" not in str(creds["password"])
    assert creds["roles"] == ["admin"]
    assert accounts.check_password("password123", str(creds["password"]))
    assert not accounts.check_password("password124", str(creds["password"]))
    assert not accounts.check_password("x", "not-a-hash")
    ctx = accounts.authenticate("alice", "password123")
    assert ctx is not None and ctx.role == "admin"
    assert accounts.authenticate("alice", "wrong-password") is None
    assert accounts.authenticate("nobody", "password123") is None


def test_roles_and_viewers_cannot_change_things(ctx: Ctx, make_viewer) -> None:  # type: ignore[no-untyped-def]
    editor_out = accounts.create_user(ctx, username="eddie", password="password123", role="editor")
    editor = Ctx(tenant_id=ctx.tenant_id, user_id=editor_out.id, role="editor", username="eddie")
    viewer = make_viewer(ctx)
    for who in (editor, viewer):
        with pytest.raises(PermissionDenied):
            accounts.create_user(who, username="x-" + who.role, password="password123", role="admin")
        with pytest.raises(PermissionDenied):
            accounts.list_users(who)
        with pytest.raises(PermissionDenied):
            accounts.update_user(who, ctx.user_id, role="viewer")  # type: ignore[arg-type]
        with pytest.raises(PermissionDenied):
            accounts.delete_user(who, ctx.user_id)  # type: ignore[arg-type]
        with pytest.raises(PermissionDenied):
            accounts.update_tenant(who, name="renamed")
    with pytest.raises(PermissionDenied):
        accounts.update_user(viewer, viewer.user_id, role="admin")  # type: ignore[arg-type]
    # Anyone may change their own password.
    accounts.update_user(viewer, viewer.user_id, password="new-password-1")  # type: ignore[arg-type]
    assert accounts.authenticate(viewer.username, "new-password-1") is not None  # type: ignore[arg-type]
    # A viewer cannot submit or cancel jobs either.
    from backend.jobs import service as jobs

    with pytest.raises(PermissionDenied):
        jobs.submit(viewer, "system.noop", {})
    job = jobs.submit(editor, "system.noop", {})
    with pytest.raises(PermissionDenied):
        jobs.cancel(viewer, job.id)
    assert jobs.get(viewer, job.id).id == job.id  # but can read
    with pytest.raises(InvalidInput):
        accounts.create_user(ctx, username="bad", password="password123", role="owner")
    with pytest.raises(InvalidInput):
        accounts.update_user(ctx, editor.user_id, role="owner")  # type: ignore[arg-type]
    with pytest.raises(Conflict, match="taken"):
        accounts.create_user(ctx, username="eddie", password="password123", role="viewer")


def test_last_admin_guard(ctx: Ctx) -> None:
    me = ctx.user_id
    assert me is not None
    with pytest.raises(Conflict, match="at least one active admin"):
        accounts.update_user(ctx, me, role="editor")
    with pytest.raises(Conflict):
        accounts.update_user(ctx, me, active=False)
    with pytest.raises(Conflict):
        accounts.delete_user(ctx, me)
    second = accounts.create_user(ctx, username="bob", password="password123", role="admin")
    accounts.update_user(ctx, me, role="editor")  # now allowed: bob is still admin
    bob = Ctx(tenant_id=ctx.tenant_id, user_id=second.id, role="admin", username="bob")
    with pytest.raises(Conflict):
        accounts.delete_user(bob, second.id)
    accounts.update_user(bob, me, active=False)
    assert accounts.authenticate("acme-admin", "password123") is None  # deactivated users cannot log in
    assert "acme-admin" not in accounts.credentials()["usernames"]


def test_another_workspace_user_is_not_found(ctx: Ctx, other_ctx: Ctx) -> None:
    theirs = other_ctx.user_id
    assert theirs is not None
    with pytest.raises(NotFound):
        accounts.get_user(ctx, theirs)
    with pytest.raises(NotFound):
        accounts.update_user(ctx, theirs, role="viewer")
    with pytest.raises(NotFound):
        accounts.delete_user(ctx, theirs)
    assert [u.username for u in accounts.list_users(ctx)] == ["acme-admin"]
    assert accounts.get_tenant(ctx).slug == "acme" and accounts.get_tenant(other_ctx).slug == "globex"


def test_workspace_time_zone(ctx: Ctx) -> None:
    assert accounts.update_tenant(ctx, timezone="Europe/Rome").timezone == "Europe/Rome"
    with pytest.raises(InvalidInput, match="time zone"):
        accounts.update_tenant(ctx, timezone="Mars/Olympus")
    with pytest.raises(InvalidInput, match="slug"):
        accounts.get_or_create_tenant(slug="../Bad Slug")


def test_bcrypt_cost_comes_from_settings(studio_env) -> None:  # type: ignore[no-untyped-def]
    from backend.settings import Settings

    assert Settings.model_fields["bcrypt_rounds"].default == 12  # production default
    studio_env(bcrypt_rounds="5")
    h = accounts.hash_password("password123")
    assert h.startswith("$2b$05$") and accounts.check_password("password123", h)
