"""The scheduler: missed window, the embedded runner publishing via webhook, exactly once on PG + Redis."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from backend.calendar import service
from backend.calendar.scheduler import run_once
from backend.db import utcnow
from backend.jobs import service as jobs
from tests.calendar.conftest import SECRET
from tests.calendar.servers import WebhookReceiver
from tests.conftest import ROOT, studio_subprocess_env, wait_until


def _approved(ctx, influencer, account, at, caption="Hello"):  # type: ignore[no-untyped-def]
    post = service.create_post(ctx, influencer_id=influencer.id, scheduled_at=at, caption=caption, allow_past=True,
                               targets=[{"kind": "webhook", "account_id": account.id}])
    return service.approve_post(ctx, post.id)


def test_missed_window_fails_old_posts_and_publishes_recent_ones(ctx, influencer, webhook_account, studio_env):
    studio_env(publish_missed_window_s="3600")
    now = utcnow()
    old = _approved(ctx, influencer, webhook_account, now - timedelta(hours=2))
    recent = _approved(ctx, influencer, webhook_account, now - timedelta(minutes=10))
    future = _approved(ctx, influencer, webhook_account, now + timedelta(hours=1))
    report = run_once(now=now)
    assert report.missed == [old.targets[0].id] and report.claimed == [recent.targets[0].id]
    old_t = service.get_post(ctx, old.id).targets[0]
    assert old_t.status == "failed" and old_t.reason == "missed"
    assert service.get_post(ctx, recent.id).targets[0].status == "publishing"
    assert service.get_post(ctx, future.id).targets[0].status == "scheduled"
    # A second pass claims nothing again; moving the missed post into the future schedules it again.
    assert run_once(now=now).claimed == []
    assert service.reschedule_post(ctx, old.id, now + timedelta(hours=2)).targets[0].status == "scheduled"


def test_embedded_runner_publishes_a_due_post_through_the_signed_webhook(ctx, influencer, webhook_account, receiver, studio_env):
    from workers.runner import ensure_embedded_workers

    studio_env(scheduler_interval_s="0.2")
    post = _approved(ctx, influencer, webhook_account, utcnow() + timedelta(seconds=1), caption="Espresso time")
    ensure_embedded_workers()
    wait_until(lambda: service.get_post(ctx, post.id).targets[0].status == "published", timeout=30)
    t = service.get_post(ctx, post.id).targets[0]
    assert receiver.deliveries[t.id] == 1 and receiver.bad_signatures == 0
    body = receiver.bodies[0]
    assert body["caption"] == "Espresso time" and body["target"] == "webhook" and body["media"] == []
    assert body["scheduled_at"].startswith(post.scheduled_at.isoformat()[:19]) and body["published_at"] >= body["scheduled_at"]
    assert t.remote_id == f"remote-{t.id[:8]}" and t.permalink.startswith("https://example.test/p/")
    assert jobs.get(ctx, t.job_id).status == "succeeded"


def test_webhook_retries_server_errors_and_fails_on_client_errors(ctx, influencer, studio_env):
    from backend.calendar.scheduler import claim
    from backend.jobs.errors import PermanentError
    from backend.publishing.accounts import create_account
    from backend.publishing.service import publish_target

    studio_env(publish_poll_interval_s="0.02")  # the in-place retry backoff follows it: no seconds of sleeping
    flaky = WebhookReceiver(SECRET, fail_first=2).start()
    refusing = WebhookReceiver(SECRET, status=422).start()
    try:
        for srv, expect in ((flaky, "published"), (refusing, "failed")):
            acc = create_account(ctx, name="hook", kind="webhook", webhook_url=srv.url, webhook_secret=SECRET)
            post = _approved(ctx, influencer, acc, utcnow())
            tid = post.targets[0].id
            assert claim(tid, now=utcnow())
            if expect == "published":
                assert publish_target(tid)["status"] == "published"
            else:
                with pytest.raises(PermanentError, match="422"):
                    publish_target(tid)
            assert service.get_post(ctx, post.id).targets[0].status == expect
        assert flaky.requests == 3 and sum(flaky.deliveries.values()) == 1
        assert refusing.requests == 1
    finally:
        flaky.stop()
        refusing.stop()


def _scheduler_process(interval: float) -> subprocess.Popen:  # type: ignore[type-arg]
    return subprocess.Popen([sys.executable, "-m", "backend", "scheduler", "--interval", str(interval)], cwd=ROOT,
                            env=studio_subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _bulk_approved(ctx, influencer, account, n: int) -> None:  # type: ignore[no-untyped-def]
    """``n`` approved webhook posts that fell due over the last minutes, written in one transaction
    (300 create/approve round trips would take longer than the publishing this test measures)."""
    from backend.calendar.models import Post, PostTarget
    from backend.db import session_scope

    now = utcnow()
    with session_scope() as s:
        for i in range(n):
            at = now - timedelta(seconds=n - i)
            post = Post(tenant_id=ctx.tenant_id, influencer_id=influencer.id, caption=f"post {i}", scheduled_at=at,
                        created_by=ctx.user_id, approved_by=ctx.user_id, approved_at=now)
            s.add(post)
            s.flush()
            s.add(PostTarget(tenant_id=ctx.tenant_id, post_id=post.id, kind="webhook", account_id=account.id,
                             status="scheduled", due_at=at))


def test_two_schedulers_on_postgres_and_redis_publish_300_targets_exactly_once(production_env, ctx, influencer,
                                                                                webhook_account, receiver, start_worker):
    from sqlalchemy import func, select

    from backend.calendar.models import PostTarget
    from backend.db import session_scope
    from backend.jobs.models import Job

    _bulk_approved(ctx, influencer, webhook_account, 300)
    # A short resend delay: a message lost on its way is re-sent by the worker's reconciler within
    # seconds instead of the default minute (the test measures publishing, not that delay).
    workers = [start_worker(queues="cpu", threads=8, resend_after_s="3", reconcile_every_s="0.5")]
    schedulers = [_scheduler_process(0.1), _scheduler_process(0.1)]
    try:
        def all_done() -> bool:
            dead = [p for p in schedulers if p.poll() is not None] + [w for w in workers if w.proc.poll() is not None]
            assert not dead, "a scheduler or a worker died"
            with session_scope() as s:
                return (s.scalar(select(func.count()).select_from(PostTarget).where(PostTarget.status == "published")) or 0) == 300

        wait_until(all_done, timeout=240, interval=0.2)
    finally:
        outputs = []
        for p in schedulers:
            p.terminate()
            outputs.append(p.communicate(timeout=30)[0])
        for w in workers:
            w.stop()
    assert all(p.returncode == 0 for p in schedulers), outputs
    assert len(receiver.deliveries) == 300
    assert set(receiver.deliveries.values()) == {1}, "a target was delivered twice"
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.type == "calendar.publish")) == 300
        # Every claim was linked to its job (no orphan left for recover_orphans).
        assert s.scalar(select(func.count()).select_from(PostTarget).where(PostTarget.job_id.is_(None))) == 0


def test_webhook_retries_a_timeout_and_sends_the_per_target_caption(ctx, influencer, studio_env):
    """A timed-out delivery is sent again (same delivery id, so the receiver can drop the repeat),
    signed each time; the payload carries the target's own caption and the post's media URLs."""
    from backend.calendar.scheduler import claim
    from backend.publishing.accounts import create_account
    from backend.publishing.service import publish_target
    from backend.publishing.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
    from tests.calendar.conftest import make_image_asset

    studio_env(publish_http_timeout_s="0.5", publish_poll_interval_s="0.02",
               public_media_base_url="https://media.example.test")
    slow = WebhookReceiver(SECRET, slow_first=1, slow_s=2).start()
    try:
        acc = create_account(ctx, name="hook", kind="webhook", webhook_url=slow.url, webhook_secret=SECRET)
        assets = [make_image_asset(ctx).id, make_image_asset(ctx).id]
        post = service.create_post(ctx, influencer_id=influencer.id, scheduled_at=utcnow(), allow_past=True,
                                   caption="The post's caption", media_kind="carousel", media_asset_ids=assets,
                                   targets=[{"kind": "tiktok", "account_id": acc.id, "caption": "TikTok words #fyp"},
                                            {"kind": "webhook", "account_id": acc.id}])
        service.approve_post(ctx, post.id)
        by_kind = {t.kind: t.id for t in post.targets}
        for tid in by_kind.values():
            assert claim(tid, now=utcnow())
            assert publish_target(tid)["status"] == "published"
    finally:
        slow.stop()
    assert slow.requests == 3 and slow.deliveries[by_kind["tiktok"]] == 2  # the timed-out one, then the retry
    assert slow.bad_signatures == 0 and all(h[SIGNATURE_HEADER].startswith("sha256=") and h[TIMESTAMP_HEADER] for h in slow.headers)
    assert [h[DELIVERY_HEADER] for h in slow.headers] == [by_kind["tiktok"]] * 2 + [by_kind["webhook"]]
    captions = {b["target"]: b["caption"] for b in slow.bodies}
    assert captions == {"tiktok": "TikTok words #fyp", "webhook": "The post's caption"}
    body = slow.bodies[-1]
    assert body["media_kind"] == "carousel" and [m["asset_id"] for m in body["media"]] == assets
    assert all(m["url"].startswith("https://media.example.test/") for m in body["media"])
    assert {"scheduled_at", "published_at", "post_id", "target_id", "influencer_id"} <= set(body)


def test_publish_now_sends_only_that_post(ctx, influencer, webhook_account, studio_env):
    """``send_post`` (behind ``posts publish-now``) claims the post's own targets; other due posts
    stay for the schedulers, and a racing scheduler cannot claim the same target again."""
    from backend.calendar.scheduler import send_post

    mine = _approved(ctx, influencer, webhook_account, utcnow() + timedelta(days=1))
    other = _approved(ctx, influencer, webhook_account, utcnow() - timedelta(minutes=1))
    service.publish_now(ctx, mine.id)
    assert send_post(mine.id) == [mine.targets[0].id]
    assert service.get_post(ctx, other.id).targets[0].status == "scheduled"
    assert send_post(mine.id) == [] and run_once().claimed == [other.targets[0].id]
