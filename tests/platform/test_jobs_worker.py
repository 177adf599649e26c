"""Jobs on the production stack: real `python -m backend worker` processes, Redis and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest

import tests.jobtypes  # noqa: F401 - registers the test job types in this process too
from backend.context import Ctx
from backend.jobs import service as jobs
from tests.conftest import wait_until

pytestmark = pytest.mark.slow

# Short intervals so a dead worker is noticed and its job recovered within seconds.
FAST = {
    "worker_imports": "tests.jobtypes",
    "heartbeat_interval_s": "0.3",
    "stale_after_s": "2",
    "reconcile_every_s": "0.5",
    "resend_after_s": "3",
}


@pytest.fixture
def stack(pg_env, redis_url, studio_env, ctx):  # type: ignore[no-untyped-def]
    """This process submits to Redis and reads PostgreSQL, like the studio does."""
    studio_env(broker_url=redis_url)
    return ctx


def _status_events(ctx: Ctx, job_id: str) -> list[str]:
    return [e.message for e in jobs.events(ctx, job_id) if e.kind == "status"]


def test_one_worker_runs_every_kind_of_job(stack, start_worker, tmp_path, make_viewer):
    """Lifecycle, progress seen from this process, cancel, permanent and unexpected errors, transient
    retries with backoff, the time limit, retry of a failed job and the events of each: one real
    worker process serves them all at once (starting a worker costs seconds)."""
    ctx = stack
    start_worker(queues="cpu", threads=6, **FAST)
    counted = jobs.submit(ctx, "test.checkpointed", {"dir": str(tmp_path), "steps": 8, "delay_s": 0.25})
    assert counted.status == "queued" and counted.attempts == 0
    sleeper = jobs.submit(ctx, "system.sleep", {"steps": 400, "delay_s": 0.05})
    permanent = jobs.submit(ctx, "test.permanent", {"reason": "prompt is empty"})
    crash = jobs.submit(ctx, "test.crash", {})
    transient = jobs.submit(ctx, "test.transient", {"succeed_on": 3})
    hopeless = jobs.submit(ctx, "test.transient", {"succeed_on": 99})
    slow = jobs.submit(ctx, "test.slow", {})

    # (a) progress observed from another process while the job runs
    seen: set[float] = set()

    def progressed() -> bool:
        cur = jobs.get(ctx, counted.id)
        if cur.status == "running":
            seen.add(cur.progress)
        return cur.finished

    wait_until(progressed, timeout=90, interval=0.05)
    done = jobs.get(ctx, counted.id)
    assert done.status == "succeeded", done.error
    assert done.attempts == 1 and done.progress == 1.0
    assert done.result == {"steps": 8, "resumed_from": 0}
    assert any(0 < p < 1 for p in seen), f"no intermediate progress observed: {seen}"
    assert done.started_at is not None and done.finished_at is not None and done.heartbeat_at is not None
    evs = jobs.events(ctx, counted.id)
    assert [e.message for e in evs if e.kind == "stage"] == ["counting", "finishing"]
    assert any(e.kind == "log" and e.message == "attempt 1 starts at step 0" for e in evs)
    assert _status_events(ctx, counted.id)[0] == "queued" and _status_events(ctx, counted.id)[-1] == "succeeded"
    ats: list[datetime] = [e.at for e in evs]
    assert ats == sorted(ats) and all(a.tzinfo is not None for a in ats)

    # (c) cancel of a running job
    assert jobs.get(ctx, sleeper.id).status == "running"
    assert jobs.cancel(ctx, sleeper.id).cancel_requested
    done = jobs.wait(ctx, sleeper.id, timeout_s=30)
    assert done.status == "cancelled"
    assert 0 < done.progress < 1 and done.attempts == 1
    assert any(e.message.startswith("cancel requested") for e in jobs.events(ctx, sleeper.id))

    # (d) a permanent error fails at once, readable; (i) the traceback is for admins only
    done = jobs.wait(ctx, permanent.id, timeout_s=30)
    assert done.status == "failed" and done.attempts == 1
    assert done.error == "bad input: prompt is empty"
    failed = [e for e in jobs.events(ctx, permanent.id) if e.level == "error"]
    assert failed and failed[-1].detail and "Traceback" in failed[-1].detail and "PermanentError" in failed[-1].detail
    viewer = make_viewer(ctx)
    assert all(e.detail is None for e in jobs.events(viewer, permanent.id))
    assert [e.message for e in jobs.events(viewer, permanent.id) if e.kind == "stage"] == ["validating"]

    # a bug in a handler fails with its reason, once
    done = jobs.wait(ctx, crash.id, timeout_s=30)
    assert done.status == "failed" and done.attempts == 1
    assert done.error == "KeyError: 'missing'"
    evs = jobs.events(ctx, crash.id)
    assert any(e.kind == "log" and e.message == "about to divide" for e in evs)
    assert "Traceback" in (evs[-1].detail or "")

    # (e) transient errors retry with exponential backoff (0.5 s, then 1.0 s), then succeed
    done = jobs.wait(ctx, transient.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    assert done.attempts == 3 and done.result == {"attempt": 3}
    evs = jobs.events(ctx, transient.id)
    retries = [e for e in evs if e.message.startswith("transient error")]
    starts = [e for e in evs if e.message.startswith("running (attempt")]
    assert [r.message.split(":")[0] for r in retries] == ["transient error, retry in 0.5s", "transient error, retry in 1.0s"]
    assert "upstream answered 503 on attempt 1" in retries[0].message
    assert len(starts) == 3
    gap = lambda a, b: (b.at - a.at).total_seconds()  # noqa: E731
    assert gap(retries[0], starts[1]) >= 0.45
    assert gap(retries[1], starts[2]) >= 0.95

    # (g) over its time limit: fails with the reason, no result
    done = jobs.wait(ctx, slow.id, timeout_s=60)
    assert done.status == "failed" and done.attempts == 1
    assert done.error == "time limit of 1 s exceeded"
    assert done.result is None

    # a transient error that never clears gives up at the limit; a retry from the UI runs it again
    failed_job = jobs.wait(ctx, hopeless.id, timeout_s=60)
    assert failed_job.status == "failed" and failed_job.attempts == 4
    assert failed_job.error == "gave up after 4 attempts: upstream answered 503 on attempt 4"
    again = jobs.retry(ctx, hopeless.id, payload_update={"succeed_on": 1})
    assert again.error is None and again.attempts <= 1  # a fast worker may have claimed it already
    done = jobs.wait(ctx, hopeless.id, timeout_s=60)
    assert done.status == "succeeded" and done.attempts == 1


def test_sigkilled_worker_job_completes_once_on_a_new_worker(stack, start_worker, tmp_path):
    ctx = stack
    first = start_worker(queues="cpu", **FAST)
    job = jobs.submit(ctx, "test.checkpointed", {"dir": str(tmp_path), "steps": 12, "delay_s": 0.25})
    wait_until(lambda: jobs.get(ctx, job.id).progress >= 0.25, timeout=60, interval=0.05)
    first.kill()  # SIGKILL: no cleanup, the job row stays "running" with a heartbeat that goes stale
    assert jobs.get(ctx, job.id).status == "running"
    start_worker(queues="cpu", **FAST)
    done = jobs.wait(ctx, job.id, timeout_s=90)
    assert done.status == "succeeded", done.error
    assert done.attempts == 2
    assert done.result is not None and done.result["resumed_from"] >= 3  # resumed from its checkpoint
    assert (tmp_path / f"{job.id}.effect").read_text() == "done\n"  # the side effect happened once
    attempts = (tmp_path / f"{job.id}.attempts").read_text().split()
    assert attempts[0::2] == ["1", "2"]
    assert any("stopped responding" in e.message for e in jobs.events(ctx, job.id))


def test_job_that_kills_its_worker_stops_at_the_attempt_limit(stack, start_worker, studio_env):
    ctx = stack
    job = jobs.submit(ctx, "test.suicide", {})
    # Each worker that picks the job up dies (max_attempts = 2); the next one recovers it.
    first = start_worker(queues="cpu", **FAST)
    wait_until(lambda: first.proc.poll() is not None, timeout=60)
    assert first.proc.returncode == -9
    second = start_worker(queues="cpu", **FAST)
    wait_until(lambda: second.proc.poll() is not None, timeout=60)
    assert jobs.get(ctx, job.id).attempts == 2
    # The reconciler (here in this process, as a third worker would) sees the limit reached.
    from backend.jobs.reconciler import reconcile

    studio_env(stale_after_s=FAST["stale_after_s"])
    wait_until(lambda: reconcile().gave_up == 1, timeout=30, interval=0.5)
    done = jobs.get(ctx, job.id)
    assert done.status == "failed"
    assert done.attempts == 2
    assert done.error == "gave up after 2 attempts: the worker stopped responding"
    assert [e.message for e in jobs.events(ctx, job.id) if e.kind == "stage"] == ["about to crash"]


def test_broker_refusing_at_submit_keeps_job_queued_until_reconciler_sends_it(stack, studio_env, redis_url, start_worker):
    ctx = stack
    studio_env(broker_url="redis://127.0.0.1:1/0")  # nothing listens there
    job = jobs.submit(ctx, "system.noop", {})
    assert job.status == "queued"
    from backend.jobs.models import Job
    from backend.db import session_scope

    with session_scope() as s:
        assert s.get(Job, job.id).sent_at is None  # type: ignore[union-attr]
    studio_env(broker_url=redis_url)
    start_worker(queues="cpu", **FAST)
    done = jobs.wait(ctx, job.id, timeout_s=60)
    assert done.status == "succeeded" and done.attempts == 1
