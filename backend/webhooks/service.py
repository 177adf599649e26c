"""Job webhooks: endpoints per workspace, signed events on job end, delivery with retries, a log.

Events are n8n-compatible JSON: ``{event, timestamp, data: {job_id, status, type, result | error, asset_ids}}``,
signed with HMAC-SHA256 over the exact body in ``X-Studio-Signature: sha256=<hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from typing import Any
from urllib.parse import urlparse

import httpx
from sqlalchemy import select

from backend.context import Ctx, system_ctx
from backend.db import session_scope, utcnow
from backend.errors import InvalidInput
from backend.jobs import service as jobs
from backend.jobs.errors import PermanentError, TransientError
from backend.jobs.hooks import on_job_finished
from backend.jobs.models import JobOut
from backend.jobs.specs import JobSpec, register
from backend.settings import get_settings
from backend.tenancy import get_owned
from backend.webhooks.models import EVENTS, Webhook, WebhookDelivery, WebhookDeliveryOut, WebhookOut

log = logging.getLogger(__name__)
DELIVER_JOB = register(JobSpec("webhook.deliver", queue="cpu", max_attempts=6, time_limit_s=120, backoff_s=5))
SIGNATURE_HEADER = "X-Studio-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header value of ``body``: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the valid signature of ``body`` (what a receiver does)."""
    return hmac.compare_digest(sign(secret, body), header or "")


def _out(w: Webhook) -> WebhookOut:
    return WebhookOut.model_validate(w, from_attributes=True)


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput("invalid webhook URL", [f"{url!r}: use an http:// or https:// URL"])
    return url


def _check_events(events: list[str] | None) -> list[str]:
    events = list(events or EVENTS)
    bad = [e for e in events if e not in EVENTS]
    if bad or not events:
        raise InvalidInput("invalid events", [f"{', '.join(bad) or '(none)'}: use {', '.join(EVENTS)}"])
    return events


def create_webhook(ctx: Ctx, *, url: str, events: list[str] | None = None, job_types: list[str] | None = None,
                   description: str = "", secret: str | None = None) -> WebhookOut:
    """Register a URL for job events (admins); a signing secret is generated when none is given."""
    ctx.require("admin")
    with session_scope() as s:
        w = Webhook(tenant_id=ctx.tenant_id, url=_check_url(url), events=_check_events(events),
                    job_types=[t.strip() for t in (job_types or []) if t.strip()], description=description[:200],
                    secret=secret or secrets.token_hex(24), active=True)
        s.add(w)
        s.flush()
        return _out(w)


def _own(s, ctx: Ctx, webhook_id: str) -> Webhook:  # type: ignore[no-untyped-def]
    return get_owned(s, Webhook, ctx, webhook_id, kind="webhook")


def list_webhooks(ctx: Ctx) -> list[WebhookOut]:
    """The workspace's webhooks (admins: they hold the secrets)."""
    ctx.require("admin")
    with session_scope() as s:
        rows = s.scalars(select(Webhook).where(Webhook.tenant_id == ctx.tenant_id).order_by(Webhook.created_at))
        return [_out(w) for w in rows]


def update_webhook(ctx: Ctx, webhook_id: str, *, active: bool | None = None, url: str | None = None,
                   events: list[str] | None = None, rotate_secret: bool = False) -> WebhookOut:
    """Pause/resume, change URL or events, or rotate the secret."""
    ctx.require("admin")
    with session_scope() as s:
        w = _own(s, ctx, webhook_id)
        if active is not None:
            w.active = active
        if url is not None:
            w.url = _check_url(url)
        if events is not None:
            w.events = _check_events(events)
        if rotate_secret:
            w.secret = secrets.token_hex(24)
        s.flush()
        return _out(w)


def delete_webhook(ctx: Ctx, webhook_id: str) -> None:
    """Remove a webhook (its delivery log stays)."""
    ctx.require("admin")
    with session_scope() as s:
        s.delete(_own(s, ctx, webhook_id))


def list_deliveries(ctx: Ctx, *, webhook_id: str | None = None, limit: int = 100) -> list[WebhookDeliveryOut]:
    """The delivery log, newest first (admins)."""
    ctx.require("admin")
    conds = [WebhookDelivery.tenant_id == ctx.tenant_id]
    if webhook_id:
        conds.append(WebhookDelivery.webhook_id == webhook_id)
    with session_scope() as s:
        rows = s.scalars(select(WebhookDelivery).where(*conds)
                         .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id).limit(limit))
        return [WebhookDeliveryOut.model_validate(d, from_attributes=True) for d in rows]


# -- events ---------------------------------------------------------------------------------------
def event_for(job: JobOut) -> dict[str, Any] | None:
    """The event a finished job sends (None for cancelled jobs)."""
    if job.status == "succeeded":
        name, data = "job_completed", {"result": job.result or {}}
    elif job.status == "failed":
        name, data = "job_failed", {"error": job.error or "failed"}
    else:
        return None
    asset_ids = list((job.result or {}).get("asset_ids") or [])
    return {"event": name, "timestamp": utcnow().isoformat(),
            "data": {"job_id": job.id, "status": job.status, "type": job.type, **data, "asset_ids": asset_ids}}


@on_job_finished
def _job_finished(job: JobOut) -> None:
    """Queue one delivery per matching active webhook of the job's workspace."""
    if job.type.startswith("webhook."):
        return  # a delivery's own end never triggers deliveries
    event = event_for(job)
    if event is None:
        return
    with session_scope() as s:
        hooks = [w for w in s.scalars(select(Webhook).where(Webhook.tenant_id == job.tenant_id, Webhook.active.is_(True)))
                 if event["event"] in (w.events or []) and (not w.job_types or job.type in w.job_types)]
        deliveries = []
        for w in hooks:
            d = WebhookDelivery(tenant_id=job.tenant_id, webhook_id=w.id, source_job_id=job.id, event=event["event"],
                                payload=event, status="pending")
            s.add(d)
            deliveries.append(d)
        s.flush()
        ids = [d.id for d in deliveries]
    ctx = system_ctx(job.tenant_id)
    for delivery_id in ids:
        sub = jobs.submit(ctx, DELIVER_JOB.name, {"delivery_id": delivery_id}, subject_id=delivery_id)
        with session_scope() as s:
            d = s.get(WebhookDelivery, delivery_id)
            if d is not None:
                d.delivery_job_id = sub.id


def deliver(ctx: Ctx, delivery_id: str, *, attempt: int, max_attempts: int) -> dict[str, Any]:
    """POST one delivery; TransientError (with backoff) on 5xx, 429 and network errors."""
    settings = get_settings()
    with session_scope() as s:
        d = get_owned(s, WebhookDelivery, ctx, delivery_id, kind="webhook delivery")
        w = s.get(Webhook, d.webhook_id)
        gone = w is None
        if w is None:  # recorded here: raising inside the session would roll this status back
            d.status, d.error = "failed", "the webhook was deleted"
        else:
            url, secret, payload = w.url, w.secret, dict(d.payload)
    if gone:
        raise PermanentError("the webhook was deleted")
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "InfluencerAI-Studio-Webhooks/1",
               SIGNATURE_HEADER: sign(secret, body), "X-Studio-Event": payload["event"], "X-Studio-Delivery": delivery_id}
    code, text, error = None, "", None
    try:
        resp = httpx.post(url, content=body, headers=headers, timeout=settings.webhook_timeout_s)
        code, text = resp.status_code, resp.text[:2000]
    except httpx.HTTPError as err:
        error = f"{type(err).__name__}: {err}"
    ok = code is not None and 200 <= code < 300
    retryable = error is not None or code in (408, 429) or (code is not None and code >= 500)
    last = attempt >= max_attempts
    status = "delivered" if ok else ("failed" if (last or not retryable) else "retrying")
    if not ok and error is None:
        error = f"HTTP {code}: {text[:300]}"
    with session_scope() as s:
        d = s.get(WebhookDelivery, delivery_id)
        assert d is not None
        d.attempts, d.response_code, d.response_body, d.status = attempt, code, text, status
        d.error = None if ok else error
        if ok:
            d.delivered_at = utcnow()
    if ok:
        return {"delivery_id": delivery_id, "status_code": code}
    if not retryable:
        raise PermanentError(f"webhook receiver refused the event: {error}")
    delay = settings.webhook_backoff_s * 2 ** max(0, attempt - 1)
    raise TransientError(f"webhook delivery failed: {error}", retry_after_s=max(0.05, delay))
