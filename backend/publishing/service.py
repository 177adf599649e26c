"""Publishing one claimed target: media checks, the right publisher, and the target's final state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from backend.calendar.models import INSTAGRAM_KINDS, Post, PostTarget, PublishAccount, PublishAttempt
from backend.context import Ctx, system_ctx
from backend.db import session_scope, utcnow
from backend.errors import DomainError, InvalidInput
from backend.jobs.errors import PermanentError, TransientError
from backend.publishing.results import Published, StepLog, Unconfirmed
from backend.settings import get_settings

# The JPEG copy of a PNG/WebP image that Instagram receives, kept under the asset's key prefix.
RENDITION_FILE = "instagram.jpg"


def record_attempt(tenant_id: str, target_id: str, step: str, outcome: str, detail: str, *, job_id: str | None = None) -> None:
    """Add a line to the target's publish log."""
    with session_scope() as s:
        s.add(PublishAttempt(tenant_id=tenant_id, target_id=target_id, job_id=job_id, step=step, outcome=outcome, detail=detail[:4000]))


def _finish(target_id: str, values: dict[str, Any], *, from_status: str = "publishing") -> bool:
    """Move a target out of ``from_status``; False when someone else already moved it."""
    with session_scope() as s:
        res = s.execute(
            update(PostTarget).where(PostTarget.id == target_id, PostTarget.status == from_status).values(**values, updated_at=utcnow())
        )
        return res.rowcount == 1


def mark_target_failed(target_id: str, reason: str, *, job_id: str | None = None) -> bool:
    """A publishing target becomes failed with ``reason`` (no-op when it already ended)."""
    return _finish(target_id, {"status": "failed", "reason": reason[:2000]})


def _load(target_id: str) -> tuple[PostTarget, Post, PublishAccount | None]:
    with session_scope() as s:
        t = s.get(PostTarget, target_id)
        if t is None:
            raise InvalidInput("target gone", [target_id])
        p = s.get(Post, t.post_id)
        acc = s.get(PublishAccount, t.account_id) if t.account_id else None
        if p is None:
            raise InvalidInput("post gone", [t.post_id])
        s.expunge_all()
        return t, p, acc


def _media(ctx: Ctx, post: Post, *, need_bytes: bool) -> list[tuple[str, str, str, bytes]]:
    """(asset id, kind, public url, bytes) of each of the post's assets, in order."""
    from backend.generation.service import get_asset, read_asset
    from backend.storage import get_storage

    out = []
    for asset_id in post.media_asset_ids or []:
        asset = get_asset(ctx, asset_id)  # one lookup: the bytes and the URL come from this record
        data = read_asset(asset) if need_bytes else b""
        out.append((asset_id, asset.kind, get_storage().url(asset.storage_key), data))
    return out


def instagram_rendition(ctx: Ctx, asset_id: str, data: bytes, log: StepLog) -> tuple[str, bytes] | None:
    """A JPEG copy of a PNG/WebP image asset for Instagram: (public url, bytes); None when not needed.

    Stored beside the original under the asset's key prefix (deleted with it), which stays untouched;
    an existing rendition is reused, so a retried job does not re-encode.
    """
    from backend.publishing.media import CONVERTIBLE_FORMATS, image_format, jpeg_rendition
    from backend.storage import get_storage, object_key

    fmt = image_format(data)
    if fmt not in CONVERTIBLE_FORMATS:
        return None
    storage = get_storage()
    key = object_key(ctx.tenant_id, "images", asset_id, RENDITION_FILE)
    if storage.exists(key):
        jpeg = storage.get_bytes(key)
    else:
        jpeg = jpeg_rendition(data)
        storage.put_bytes(key, jpeg, content_type="image/jpeg")
        log("rendition", "ok", f"image {asset_id}: {fmt} converted to JPEG ({len(jpeg)} bytes)")
    return storage.url(key), jpeg


def _instagram_media(ctx: Ctx, post: Post, log: StepLog) -> list[tuple[str, str, str, bytes]]:
    """The post's media as Instagram will fetch them: PNG/WebP images replaced by JPEG renditions."""
    out = []
    for asset_id, kind, url, data in _media(ctx, post, need_bytes=True):
        rendition = instagram_rendition(ctx, asset_id, data, log) if kind == "image" else None
        out.append((asset_id, kind, *rendition) if rendition else (asset_id, kind, url, data))
    return out


def webhook_payload(t: PostTarget, p: Post, media: list[tuple[str, str, str, bytes]]) -> dict[str, Any]:
    """The JSON a webhook receives (n8n reads it as one item)."""
    return {
        "event": "post.publish",
        "post_id": p.id,
        "target_id": t.id,
        "target": t.kind,
        "influencer_id": p.influencer_id,
        "tenant_id": p.tenant_id,
        "title": p.title,
        "caption": t.caption_override if t.caption_override is not None else p.caption,
        "media_kind": p.media_kind,
        "media": [{"asset_id": a, "kind": k, "url": u} for a, k, u, _ in media],
        "scheduled_at": p.scheduled_at.isoformat(),
        "published_at": utcnow().isoformat(),
    }


def _publish(t: PostTarget, p: Post, acc: PublishAccount, log: StepLog) -> Published:
    from backend.publishing.crypto import decrypt

    settings = get_settings()
    ctx = system_ctx(t.tenant_id)
    if t.kind in INSTAGRAM_KINDS:
        media = _instagram_media(ctx, p, log)
        from backend.publishing.instagram import GraphClient, publish_instagram
        from backend.publishing.media import target_media_problems

        problems = target_media_problems(t.kind, p.media_kind, [(a, k, d) for a, k, _u, d in media])
        if problems:
            raise InvalidInput("media do not fit " + t.kind, problems)
        urls = [u for _a, _k, u, _d in media]
        bad = [u for u in urls if not u.startswith(("http://", "https://"))]
        if bad:
            raise InvalidInput("media not public", ["Instagram downloads media from a public URL: use S3 storage or set STUDIO_PUBLIC_MEDIA_BASE_URL"])
        client = GraphClient(
            base_url=settings.instagram_graph_url, access_token=decrypt(acc.secret_encrypted),
            timeout_s=settings.publish_http_timeout_s, poll_interval_s=settings.publish_poll_interval_s,
            poll_timeout_s=settings.publish_poll_timeout_s, backoff_s=min(1.0, settings.publish_poll_interval_s), log=log,
        )
        try:
            return publish_instagram(
                client, ig_user_id=acc.ig_user_id, target_kind=t.kind, media=[(k, u) for _a, k, u, _d in media],
                caption=t.caption_override if t.caption_override is not None else p.caption,
                container_id=t.container_id, on_container=lambda cid: _set_container(t.id, cid),
            )
        finally:
            client.close()
    from backend.publishing.webhook import publish_webhook

    media = _media(ctx, p, need_bytes=False)
    return publish_webhook(
        url=acc.webhook_url, secret=decrypt(acc.secret_encrypted), payload=webhook_payload(t, p, media),
        delivery_id=t.id, timeout_s=settings.publish_http_timeout_s, log=log,
        backoff_s=min(1.0, settings.publish_poll_interval_s),  # the same short in-place backoff as Instagram's
    )


def _set_container(target_id: str, container_id: str) -> None:
    with session_scope() as s:
        s.execute(update(PostTarget).where(PostTarget.id == target_id).values(container_id=container_id))


def publish_target(target_id: str, *, job_id: str | None = None, attempt: int = 1, max_attempts: int = 1) -> dict[str, Any]:
    """Publish a target the scheduler claimed ('publishing'); ends it published, unconfirmed or failed.

    Transient errors are re-raised for the job to retry with backoff until its last attempt.
    """
    t, p, acc = _load(target_id)
    if t.status != "publishing":
        return {"skipped": f"target is {t.status}"}
    if t.job_id and job_id and t.job_id != job_id:
        return {"skipped": f"target belongs to job {t.job_id}"}

    def log(step: str, outcome: str, detail: str) -> None:
        record_attempt(t.tenant_id, t.id, step, outcome, detail, job_id=job_id)

    try:
        if acc is None or acc.tenant_id != t.tenant_id:
            raise InvalidInput("no publishing account", [f"target {t.kind} has no account"])
        result = _publish(t, p, acc, log)
    except Unconfirmed as err:
        _finish(t.id, {"status": "unconfirmed", "reason": str(err)[:2000]})
        return {"status": "unconfirmed", "reason": str(err)}
    except TransientError as err:
        if attempt >= max_attempts:
            mark_target_failed(t.id, f"gave up after {attempt} attempts: {err}")
            raise PermanentError(f"gave up after {attempt} attempts: {err}") from None
        log("attempt", "error", f"will retry: {err}")
        raise
    except DomainError as err:
        mark_target_failed(t.id, str(err))
        log("attempt", "error", str(err))
        raise PermanentError(str(err)) from None
    _finish(t.id, {"status": "published", "remote_id": result.remote_id, "permalink": result.permalink,
                   "published_at": utcnow(), "reason": None})
    return {"status": "published", "remote_id": result.remote_id, "permalink": result.permalink}
