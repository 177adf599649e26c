"""Job state changes without a worker: claim, fencing of a presumed-dead attempt, the reconciler, backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.db import session_scope, utcnow
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.jobs import lifecycle
from backend.jobs import service as jobs
from backend.jobs.models import Job
from backend.jobs.reconciler import reconcile
from backend.jobs.specs import JobSpec, spec_for


def _set(job_id: str, **values) -> None:  # type: ignore[no-untyped-def]
    with session_scope() as s:
        job = s.get(Job, job_id)
        for k, v in values.items():
            setattr(job, k, v)


def test_a_presumed_dead_attempt_cannot_touch_the_next_one(ctx, studio_env):
    studio_env(stale_after_s="1")
    job = jobs.submit(ctx, "system.sleep", {})
    first = lifecycle.claim(job.id, worker="w1")
    assert first is not None and first.attempts == 1
    assert lifecycle.claim(job.id, worker="w2") is None  # a duplicate message is a no-op
    _set(job.id, heartbeat_at=utcnow() - timedelta(seconds=5))  # w1 looks dead
    report = reconcile()
    assert report.recovered == 1 and report.resent == 1
    second = lifecycle.claim(job.id, worker="w2")
    assert second is not None and second.attempts == 2
    # w1 was only slow: its late writes are refused and its heartbeat tells it to stop.
    assert lifecycle.succeed(job.id, {"by": "w1"}, attempt=1) is None
    assert lifecycle.fail(job.id, "late", attempt=1) is None
    lifecycle.write_progress(job.id, progress=0.9, stage="late", message=None, metrics=None, new_stage=True, attempt=1)
    assert lifecycle.heartbeat(job.id, attempt=1)[0] is True
    assert lifecycle.heartbeat(job.id, attempt=2)[0] is False
    cur = jobs.get(ctx, job.id)
    assert cur.status == "running" and cur.progress == 0.0 and cur.stage != "late"
    done = lifecycle.succeed(job.id, {"by": "w2"}, attempt=2)
    assert done is not None and done.result == {"by": "w2"}
    assert lifecycle.succeed(job.id, {"again": True}) is None  # exactly one terminal state


def test_claim_skips_early_copies_and_honours_cancel(ctx):
    job = jobs.submit(ctx, "system.sleep", {})
    _set(job.id, not_before=utcnow() + timedelta(seconds=30))
    assert lifecycle.claim(job.id, worker="w") is None  # backoff not over yet
    _set(job.id, not_before=None, cancel_requested=True)
    assert lifecycle.claim(job.id, worker="w") is None
    assert jobs.get(ctx, job.id).status == "cancelled"


def test_claim_past_the_limit_gives_up(ctx):
    job = jobs.submit(ctx, "system.sleep", {})
    _set(job.id, attempts=3, error="worker lost")
    assert lifecycle.claim(job.id, worker="w") is None
    cur = jobs.get(ctx, job.id)
    assert cur.status == "failed" and cur.error == "gave up after 3 attempts: worker lost"


def test_reconciler_gives_up_on_a_stale_job_at_its_limit(ctx, studio_env):
    studio_env(stale_after_s="1")
    job = jobs.submit(ctx, "system.noop", {})  # max_attempts = 1
    lifecycle.claim(job.id, worker="w")
    _set(job.id, heartbeat_at=utcnow() - timedelta(seconds=5))
    assert reconcile().gave_up == 1
    cur = jobs.get(ctx, job.id)
    assert cur.status == "failed" and cur.error == "gave up after 1 attempts: the worker stopped responding"


def test_reconciler_resends_only_jobs_without_a_recent_message(ctx, studio_env):
    studio_env(resend_after_s="60")
    job = jobs.submit(ctx, "system.noop", {})
    assert reconcile().resent == 0  # just sent
    _set(job.id, sent_at=utcnow() - timedelta(seconds=120))
    assert reconcile().resent == 1
    assert reconcile().resent == 0
    _set(job.id, sent_at=None, not_before=utcnow() + timedelta(seconds=60))
    assert reconcile().resent == 0  # waiting out its backoff


def test_backoff_doubles_up_to_its_cap():
    spec = JobSpec("x", backoff_s=2, backoff_max_s=10)
    assert [spec.backoff(a) for a in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]
    with pytest.raises(InvalidInput):
        spec_for("no.such.type")


def test_service_guards(ctx, other_ctx, make_viewer):
    job = jobs.submit(ctx, "system.sleep", {})
    with pytest.raises(NotFound):
        jobs.get(other_ctx, job.id)
    with pytest.raises(Conflict):
        jobs.request(ctx, job.id, "save_now")  # not running
    with pytest.raises(InvalidInput):
        jobs.request(ctx, job.id, "format_disk")
    with pytest.raises(Conflict):
        jobs.retry(ctx, job.id)  # only failed or cancelled jobs
    with pytest.raises(PermissionDenied):
        jobs.request_stop(make_viewer(ctx), job.id)
    with pytest.raises(InvalidInput):
        jobs.list_jobs(ctx, status="exploded")
    assert jobs.counts(ctx)["queued"] == 1 and jobs.counts(other_ctx)["queued"] == 0
    assert jobs.list_jobs(other_ctx)[1] == 0


def test_reconciler_on_redis_resends_only_lost_messages(ctx, studio_env, redis_url):
    import redis

    studio_env(broker_url=redis_url, resend_after_s="60")
    r = redis.Redis.from_url(redis_url)
    job = jobs.submit(ctx, "system.sleep", {})
    waiting = jobs.submit(ctx, "system.sleep", {})
    assert r.hlen("dramatiq:cpu.msgs") == 2
    _set(job.id, sent_at=utcnow() - timedelta(seconds=120))
    _set(waiting.id, sent_at=utcnow() - timedelta(seconds=120))
    report = reconcile()
    assert report.resent == 0 and report.still_queued == 2  # long queue, messages still there: no duplicates
    r.flushdb()  # the broker lost everything (e.g. Redis without AOF restarted)
    assert reconcile().resent == 2
    assert r.hlen("dramatiq:cpu.msgs") == 2 and r.llen("dramatiq:cpu") == 2
