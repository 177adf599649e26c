"""Job webhooks: signed events to a local receiver, retries on 500, the delivery log, tenancy."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

import pytest

from backend.context import Ctx
from backend.errors import InvalidInput, NotFound, PermissionDenied
from backend.jobs import service as jobs
from backend.webhooks import service as webhooks
from tests.conftest import wait_until
from tests.generation.servers import Reply, ScriptedServer


@pytest.fixture
def receiver(studio_env):  # type: ignore[no-untyped-def]
    studio_env(webhook_backoff_s="0.1")
    server = ScriptedServer(default=Reply(200, {"ok": True}))
    yield server
    server.close()


def test_completed_event_signed_and_retried_after_500(ctx, receiver):
    from workers.runner import ensure_embedded_workers

    ensure_embedded_workers()
    hook = webhooks.create_webhook(ctx, url=receiver.url + "/n8n/hook", description="n8n")
    receiver.add(Reply(500, "boom"))
    job = jobs.submit(ctx, "system.noop", {})
    assert jobs.wait(ctx, job.id, timeout_s=20).status == "succeeded"
    wait_until(lambda: any(d.status == "delivered" for d in webhooks.list_deliveries(ctx)), timeout=30)
    assert len(receiver.requests) == 2  # the 500, then the retry
    req = receiver.requests[-1]
    assert req["path"] == "/n8n/hook"
    assert webhooks.verify(hook.secret, req["raw"], req["headers"]["X-Studio-Signature"])
    assert not webhooks.verify("wrong-secret", req["raw"], req["headers"]["X-Studio-Signature"])
    # what a receiver computes itself: HMAC-SHA256 of the raw body with the webhook's secret
    expected = hmac.new(hook.secret.encode(), req["raw"], hashlib.sha256).hexdigest()
    assert req["headers"]["X-Studio-Signature"] == f"sha256={expected}"
    assert receiver.requests[1]["at"] - receiver.requests[0]["at"] >= 0.09  # backed off before the retry
    assert req["headers"]["X-Studio-Event"] == "job_completed" and req["headers"]["X-Studio-Delivery"]
    event = json.loads(req["raw"])
    assert set(event) == {"event", "timestamp", "data"}  # the contract's shape, nothing more
    assert set(event["data"]) == {"job_id", "status", "type", "result", "asset_ids"}
    assert event["event"] == "job_completed" and datetime.fromisoformat(event["timestamp"]).tzinfo is not None
    assert event["data"]["job_id"] == job.id and event["data"]["status"] == "succeeded"
    assert event["data"]["type"] == "system.noop" and event["data"]["result"] == {"ok": True}
    assert event["data"]["asset_ids"] == []
    (d,) = webhooks.list_deliveries(ctx)
    assert d.attempts == 2 and d.response_code == 200 and d.source_job_id == job.id
    # the delivery log on the Webhooks page (admins only)
    from tests.generation.test_pages import page

    log = page("pages/webhooks.py", ctx).dataframe[0].value
    assert list(log["job"]) == [job.id] and list(log["status"]) == ["delivered"] and list(log["attempts"]) == [2]
    assert list(log["code"]) == [200]


def test_failed_event_carries_the_error_and_filters_apply(ctx, receiver):
    from workers.runner import ensure_embedded_workers

    ensure_embedded_workers()
    webhooks.create_webhook(ctx, url=receiver.url + "/failed-only", events=["job_failed"])
    ok = jobs.submit(ctx, "system.noop", {})
    bad = jobs.submit(ctx, "system.sleep", {"steps": "not a number"})
    jobs.wait(ctx, ok.id, timeout_s=20)
    assert jobs.wait(ctx, bad.id, timeout_s=20).status == "failed"
    wait_until(lambda: len(receiver.requests) >= 1, timeout=30)
    event = json.loads(receiver.requests[0]["raw"])
    assert event["event"] == "job_failed" and event["data"]["job_id"] == bad.id and event["data"]["error"]
    assert set(event["data"]) == {"job_id", "status", "type", "error", "asset_ids"}
    wait_until(lambda: webhooks.list_deliveries(ctx)[0].status == "delivered", timeout=10)
    assert len(webhooks.list_deliveries(ctx)) == 1


def test_receiver_4xx_is_not_retried(ctx, receiver):
    from workers.runner import ensure_embedded_workers

    ensure_embedded_workers()
    webhooks.create_webhook(ctx, url=receiver.url + "/gone")
    receiver.add(Reply(410, "gone"))
    jobs.submit(ctx, "system.noop", {})
    wait_until(lambda: [d.status for d in webhooks.list_deliveries(ctx)] == ["failed"], timeout=30)
    assert len(receiver.requests) == 1 and "410" in (webhooks.list_deliveries(ctx)[0].error or "")


def test_validation_roles_and_tenancy(ctx, other_ctx):
    with pytest.raises(InvalidInput):
        webhooks.create_webhook(ctx, url="ftp://example.com/x")
    with pytest.raises(InvalidInput):
        webhooks.create_webhook(ctx, url="https://example.com", events=["job_exploded"])
    hook = webhooks.create_webhook(ctx, url="https://example.com/h")
    editor = Ctx(tenant_id=ctx.tenant_id, role="editor")
    with pytest.raises(PermissionDenied):
        webhooks.list_webhooks(editor)
    with pytest.raises(NotFound):
        webhooks.update_webhook(other_ctx, hook.id, active=False)
    with pytest.raises(NotFound):
        webhooks.delete_webhook(other_ctx, hook.id)
    assert webhooks.list_webhooks(other_ctx) == []
    rotated = webhooks.update_webhook(ctx, hook.id, rotate_secret=True)
    assert rotated.secret != hook.secret


def test_delivery_of_a_deleted_webhook_is_logged_failed(ctx, receiver):
    from backend.jobs.errors import PermanentError

    # No workers run: the job ends through the lifecycle, the hook queues one delivery, then the
    # webhook is deleted before the delivery job runs.
    hook = webhooks.create_webhook(ctx, url=receiver.url + "/late")
    job = jobs.submit(ctx, "system.noop", {})
    from backend.jobs import lifecycle

    assert lifecycle.claim(job.id, worker="test") is not None
    lifecycle.succeed(job.id, {"ok": True})
    (pending,) = webhooks.list_deliveries(ctx)
    assert pending.status == "pending"
    webhooks.delete_webhook(ctx, hook.id)
    with pytest.raises(PermanentError, match="deleted"):
        webhooks.deliver(ctx, pending.id, attempt=1, max_attempts=3)
    (d,) = webhooks.list_deliveries(ctx)
    assert d.status == "failed" and d.error == "the webhook was deleted"  # kept, not rolled back
    assert receiver.requests == []
