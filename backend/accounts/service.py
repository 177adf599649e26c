"""Workspaces, users, passwords and the credentials handed to streamlit-authenticator."""

from __future__ import annotations

import re

import bcrypt
from sqlalchemy import func, select

from backend.accounts.models import (
    SLUG_PATTERN,
    NewUser,
    Tenant,
    TenantOut,
    User,
    UserOut,
)
from backend.context import ROLES, Ctx
from backend.db import session_scope
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.tenancy import get_owned
from backend.validation import parse


def hash_password(password: str) -> str:
    """A bcrypt hash of ``password``."""
    from backend.settings import get_settings

    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(get_settings().bcrypt_rounds)).decode("ascii")


def check_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches the bcrypt ``password_hash``."""
    try:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.encode("ascii"))
    except ValueError:
        return False


def slugify(name: str) -> str:
    """A workspace slug from its display name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:62]
    return slug if len(slug) >= 2 else f"ws-{slug}".strip("-")


def _user_out(u: User) -> UserOut:
    return UserOut.model_validate(u, from_attributes=True)


def needs_setup() -> bool:
    """True while the installation has no user at all (the first visit shows setup)."""
    with session_scope() as s:
        return (s.scalar(select(func.count()).select_from(User)) or 0) == 0


def get_or_create_tenant(*, slug: str, name: str | None = None, timezone: str = "UTC") -> TenantOut:
    """The workspace with ``slug``, created when new (operator use: CLI, setup)."""
    if not re.match(SLUG_PATTERN, slug):
        raise InvalidInput("invalid workspace slug", [f"{slug!r}: lowercase letters, digits and '-'"])
    with session_scope() as s:
        t = s.scalar(select(Tenant).where(Tenant.slug == slug))
        if t is None:
            t = Tenant(slug=slug, name=name or slug, timezone=timezone)
            s.add(t)
            s.flush()
        return TenantOut.model_validate(t, from_attributes=True)


def tenant_by_slug(slug: str) -> TenantOut:
    """The workspace with ``slug`` or NotFound."""
    with session_scope() as s:
        t = s.scalar(select(Tenant).where(Tenant.slug == slug))
        if t is None:
            raise NotFound("workspace", slug)
        return TenantOut.model_validate(t, from_attributes=True)


def get_tenant(ctx: Ctx) -> TenantOut:
    """The caller's own workspace."""
    with session_scope() as s:
        t = s.get(Tenant, ctx.tenant_id)
        if t is None:
            raise NotFound("workspace")
        return TenantOut.model_validate(t, from_attributes=True)


def update_tenant(ctx: Ctx, *, name: str | None = None, timezone: str | None = None) -> TenantOut:
    """Rename the caller's workspace or change its time zone (admins)."""
    ctx.require("admin")
    if timezone is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput("invalid time zone", [f"{timezone!r} is not an IANA time zone"]) from None
    with session_scope() as s:
        t = s.get(Tenant, ctx.tenant_id)
        if t is None:
            raise NotFound("workspace")
        if name:
            t.name = name
        if timezone:
            t.timezone = timezone
        s.flush()
        return TenantOut.model_validate(t, from_attributes=True)


def _insert_user(tenant_id: str, data: NewUser) -> UserOut:
    with session_scope() as s:
        if s.scalar(select(User.id).where(User.username == data.username)):
            raise Conflict(f"username {data.username!r} is taken")
        u = User(
            tenant_id=tenant_id,
            username=data.username,
            name=data.name or data.username,
            email=data.email,
            password_hash=hash_password(data.password),
            role=data.role,
        )
        s.add(u)
        s.flush()
        return _user_out(u)


def setup_first_run(*, workspace: str, username: str, password: str, password_repeat: str) -> UserOut:
    """First-run setup: create the first workspace and its admin. Refused once any user exists."""
    if password != password_repeat:
        raise InvalidInput("passwords do not match")
    if not workspace.strip():
        raise InvalidInput("workspace name is required")
    if not needs_setup():
        raise Conflict("setup is already done; log in instead")
    data = parse(NewUser, {"username": username, "password": password, "role": "admin"}, what="invalid admin")
    tenant = get_or_create_tenant(slug=slugify(workspace), name=workspace.strip())
    return _insert_user(tenant.id, data)


def create_user_for_tenant(*, tenant_slug: str, username: str, password: str, role: str) -> UserOut:
    """Operator command: create a user, and the workspace when it is new."""
    data = parse(NewUser, {"username": username, "password": password, "role": role}, what="invalid user")
    tenant = get_or_create_tenant(slug=tenant_slug)
    return _insert_user(tenant.id, data)


def create_user(ctx: Ctx, *, username: str, password: str, role: str, name: str = "", email: str = "") -> UserOut:
    """An admin adds a user to their own workspace."""
    ctx.require("admin")
    data = parse(NewUser, {"username": username, "password": password, "role": role, "name": name, "email": email})
    return _insert_user(ctx.tenant_id, data)


def list_users(ctx: Ctx) -> list[UserOut]:
    """The users of the caller's workspace (admins)."""
    ctx.require("admin")
    with session_scope() as s:
        rows = s.scalars(select(User).where(User.tenant_id == ctx.tenant_id).order_by(User.username))
        return [_user_out(u) for u in rows]


def _own_user(s, ctx: Ctx, user_id: str) -> User:  # type: ignore[no-untyped-def]
    return get_owned(s, User, ctx, user_id, kind="user")


def get_user(ctx: Ctx, user_id: str) -> UserOut:
    """One user of the caller's workspace."""
    with session_scope() as s:
        return _user_out(_own_user(s, ctx, user_id))


def _admins_left(s, tenant_id: str, excluding: str) -> int:  # type: ignore[no-untyped-def]
    q = select(func.count()).select_from(User).where(
        User.tenant_id == tenant_id, User.role == "admin", User.active.is_(True), User.id != excluding
    )
    return s.scalar(q) or 0


def update_user(
    ctx: Ctx, user_id: str, *, role: str | None = None, active: bool | None = None, password: str | None = None
) -> UserOut:
    """Change a user's role, active flag or password (admins; a user may change their own password)."""
    if not (ctx.is_admin or (ctx.user_id == user_id and role is None and active is None)):
        raise PermissionDenied("only admins manage users")
    if role is not None and role not in ROLES:
        raise InvalidInput("invalid role", [f"{role!r} is not one of {', '.join(ROLES)}"])
    if password is not None and not 8 <= len(password) <= 128:
        raise InvalidInput("invalid password", ["passwords have 8 to 128 characters"])
    with session_scope() as s:
        u = _own_user(s, ctx, user_id)
        demoting = (role is not None and role != "admin") or active is False
        if u.role == "admin" and demoting and _admins_left(s, ctx.tenant_id, u.id) == 0:
            raise Conflict("a workspace keeps at least one active admin")
        if role is not None:
            u.role = role
        if active is not None:
            u.active = active
        if password is not None:
            u.password_hash = hash_password(password)
        s.flush()
        return _user_out(u)


def delete_user(ctx: Ctx, user_id: str) -> None:
    """Remove a user from the caller's workspace (admins; never the last admin)."""
    ctx.require("admin")
    with session_scope() as s:
        u = _own_user(s, ctx, user_id)
        if u.role == "admin" and _admins_left(s, ctx.tenant_id, u.id) == 0:
            raise Conflict("a workspace keeps at least one active admin")
        s.delete(u)


def authenticate(username: str, password: str) -> Ctx | None:
    """The context of an active user whose password matches, else None."""
    with session_scope() as s:
        u = s.scalar(select(User).where(User.username == username))
        if u is None or not u.active or not check_password(password, u.password_hash):
            return None
        return Ctx(tenant_id=u.tenant_id, user_id=u.id, role=u.role, username=u.username)  # type: ignore[arg-type]


def ctx_for_username(username: str) -> Ctx | None:
    """The context of an active user by name (after the authenticator checked the cookie)."""
    with session_scope() as s:
        u = s.scalar(select(User).where(User.username == username))
        if u is None or not u.active:
            return None
        return Ctx(tenant_id=u.tenant_id, user_id=u.id, role=u.role, username=u.username)  # type: ignore[arg-type]


def credentials() -> dict[str, dict[str, dict[str, object]]]:
    """Active users as streamlit-authenticator's credentials dict (bcrypt hashes, never plain)."""
    with session_scope() as s:
        users = s.scalars(select(User).where(User.active.is_(True)))
        return {
            "usernames": {
                u.username: {
                    "name": u.name or u.username,
                    "email": u.email or f"{u.username}@localhost",
                    "password": u.password_hash,
                    "roles": [u.role],
                }
                for u in users
            }
        }
