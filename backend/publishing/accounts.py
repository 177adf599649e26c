"""Publishing accounts: an Instagram professional account (user id + token) or a webhook (URL + secret)."""

from __future__ import annotations

from urllib.parse import urlparse

from sqlalchemy import select

from backend.calendar.models import ACCOUNT_KINDS, AccountOut, PublishAccount
from backend.context import Ctx
from backend.db import session_scope
from backend.errors import InvalidInput
from backend.publishing.crypto import decrypt, encrypt
from backend.tenancy import get_owned


def _out(a: PublishAccount) -> AccountOut:
    return AccountOut(id=a.id, name=a.name, kind=a.kind, influencer_id=a.influencer_id, ig_user_id=a.ig_user_id,
                      webhook_url=a.webhook_url, has_secret=bool(a.secret_encrypted))


def _check(kind: str, ig_user_id: str, webhook_url: str) -> None:
    if kind not in ACCOUNT_KINDS:
        raise InvalidInput("invalid account", [f"{kind!r} is not one of {', '.join(ACCOUNT_KINDS)}"])
    if kind == "instagram" and not ig_user_id.strip().isdigit():
        raise InvalidInput("invalid account", ["the Instagram user id is a number (from /me/accounts)"])
    if kind == "webhook":
        u = urlparse(webhook_url)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise InvalidInput("invalid account", [f"{webhook_url!r} is not an http(s) URL"])


def create_account(
    ctx: Ctx,
    *,
    name: str,
    kind: str,
    influencer_id: str | None = None,
    ig_user_id: str = "",
    access_token: str = "",
    webhook_url: str = "",
    webhook_secret: str = "",
) -> AccountOut:
    """Add a publishing account (admins); its token or secret is stored encrypted."""
    ctx.require("admin")
    _check(kind, ig_user_id, webhook_url)
    secret = access_token if kind == "instagram" else webhook_secret
    if kind == "instagram" and not secret:
        raise InvalidInput("invalid account", ["an Instagram account needs an access token"])
    with session_scope() as s:
        a = PublishAccount(tenant_id=ctx.tenant_id, name=name.strip() or kind, kind=kind, influencer_id=influencer_id,
                           ig_user_id=ig_user_id.strip(), webhook_url=webhook_url.strip(), secret_encrypted=encrypt(secret))
        s.add(a)
        s.flush()
        return _out(a)


def list_accounts(ctx: Ctx, *, influencer_id: str | None = None) -> list[AccountOut]:
    with session_scope() as s:
        q = select(PublishAccount).where(PublishAccount.tenant_id == ctx.tenant_id).order_by(PublishAccount.name)
        rows = [a for a in s.scalars(q) if influencer_id is None or a.influencer_id in (None, influencer_id)]
        return [_out(a) for a in rows]


def get_account(ctx: Ctx, account_id: str) -> AccountOut:
    with session_scope() as s:
        a = get_owned(s, PublishAccount, ctx, account_id, kind="publishing account")
        return _out(a)


def account_secret(ctx: Ctx, account_id: str) -> str:
    """The decrypted token or secret (publishers only; never shown)."""
    with session_scope() as s:
        a = get_owned(s, PublishAccount, ctx, account_id, kind="publishing account")
        return decrypt(a.secret_encrypted)


def delete_account(ctx: Ctx, account_id: str) -> None:
    ctx.require("admin")
    with session_scope() as s:
        a = get_owned(s, PublishAccount, ctx, account_id, kind="publishing account")
        s.delete(a)
