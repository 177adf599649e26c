"""The worker's write path on SQLite and PostgreSQL: one statement per state change, races end once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from backend.db import get_engine, session_scope
from backend.jobs import hooks, lifecycle
from backend.jobs import service as jobs
from backend.jobs.models import Job
from tests.conftest import make_tenant


@pytest.fixture(params=["sqlite", "postgresql"])
def db_ctx(request, studio_env):  # type: ignore[no-untyped-def]
    """An admin of a fresh workspace on the embedded SQLite, then on the run's PostgreSQL."""
    if request.param == "postgresql":
        request.getfixturevalue("pg_env")
    return make_tenant("claims")


@pytest.fixture
def pg_ctx(pg_env):  # type: ignore[no-untyped-def]
    return make_tenant("claims-pg")


@pytest.fixture
def finished(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """Ids of the jobs the job-finished hooks were called with (only this recorder is subscribed)."""
    seen: list[str] = []
    monkeypatch.setattr(hooks, "_finished", [lambda job: seen.append(job.id)])
    return seen


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements the engine sends inside the block."""
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_a) -> None:  # type: ignore[no-untyped-def]
        sent.append(" ".join(statement.split()).upper())

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _status_events(ctx, job_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.message for e in jobs.events(ctx, job_id) if e.kind in ("status", "stage")]


def test_claim_progress_and_end_are_single_conditional_statements(db_ctx, finished) -> None:  # type: ignore[no-untyped-def]
    ctx = db_ctx
    job = jobs.submit(ctx, "system.sleep", {})
    pg = get_engine().dialect.name == "postgresql"

    with statements() as sent:
        claimed = lifecycle.claim(job.id, worker="w1")
    assert claimed is not None and claimed.status == "running" and claimed.attempts == 1
    assert claimed.started_at is not None and claimed.heartbeat_at is not None
    writes = [s for s in sent if s.startswith(("UPDATE", "INSERT", "SELECT"))]
    assert len(writes) == 2 and writes[0].startswith("UPDATE JOBS") and "RETURNING" in writes[0]
    assert writes[1].startswith("INSERT INTO JOB_EVENTS")  # the event, in the same transaction
    assert not any("SYNCHRONOUS_COMMIT" in s for s in sent)  # a claim commits durably

    with statements() as sent:
        lifecycle.write_progress(job.id, progress=0.5, stage="step", message="half", metrics={"step": 1},
                                 new_stage=True, attempt=1)
    writes = [s for s in sent if s.startswith(("UPDATE", "INSERT", "SELECT"))]
    assert len(writes) == 2 and writes[0].startswith("UPDATE JOBS") and writes[1].startswith("INSERT INTO JOB_EVENTS")
    # Progress alone may commit without waiting for the WAL flush (PostgreSQL).
    assert any("SYNCHRONOUS_COMMIT TO OFF" in s for s in sent) == pg
    mid = jobs.get(ctx, job.id)
    assert (mid.progress, mid.stage, mid.message, mid.metrics) == (0.5, "step", "half", {"step": 1})

    with statements() as sent:
        done = lifecycle.succeed(job.id, {"ok": 1}, attempt=1)
    assert done is not None and done.status == "succeeded" and done.result == {"ok": 1} and done.progress == 1.0
    assert done.finished_at is not None and done.updated_at >= claimed.updated_at
    writes = [s for s in sent if s.startswith(("UPDATE", "INSERT", "SELECT"))]
    assert len(writes) == 2 and "RETURNING" in writes[0]
    assert not any("SYNCHRONOUS_COMMIT" in s for s in sent)  # a terminal state commits durably
    assert finished == [job.id]

    # Late and duplicate writes change nothing and add no event.
    assert lifecycle.succeed(job.id, {"again": 1}) is None and lifecycle.fail(job.id, "late") is None
    lifecycle.write_progress(job.id, progress=0.1, stage="late", message=None, metrics=None, new_stage=True)
    assert lifecycle.claim(job.id, worker="w2") is None
    assert _status_events(ctx, job.id) == ["queued", "running (attempt 1 of 3) on w1", "step", "succeeded"]
    assert jobs.get(ctx, job.id).result == {"ok": 1} and finished == [job.id]


def test_requeue_keeps_the_backoff_and_the_next_claim_counts_the_attempt(db_ctx) -> None:  # type: ignore[no-untyped-def]
    ctx = db_ctx
    job = jobs.submit(ctx, "system.sleep", {})
    assert lifecycle.claim(job.id, worker="w") is not None
    assert lifecycle.requeue(job.id, error="flaky", delay_s=30, attempt=1) is True
    assert lifecycle.requeue(job.id, error="again", delay_s=30, attempt=1) is False  # no longer running
    assert lifecycle.claim(job.id, worker="w") is None  # the backoff is not over
    with session_scope() as s:
        s.get(Job, job.id).not_before = None  # type: ignore[union-attr]
    again = lifecycle.claim(job.id, worker="w")
    assert again is not None and again.attempts == 2 and again.status == "running"
    events = jobs.events(ctx, job.id)
    assert any(e.level == "warning" and "retry in 30.0s: flaky" in e.message for e in events)


def _race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(i)`` in ``n`` threads released at the same instant."""
    barrier = threading.Barrier(n)
    out: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        out[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_racing_claims_on_postgresql_start_the_job_once(pg_ctx) -> None:  # type: ignore[no-untyped-def]
    job = jobs.submit(pg_ctx, "system.sleep", {})
    won = [j for j in _race(8, lambda i: lifecycle.claim(job.id, worker=f"w{i}")) if j is not None]
    assert len(won) == 1 and won[0].attempts == 1
    assert jobs.get(pg_ctx, job.id).attempts == 1
    assert sum(m.startswith("running") for m in _status_events(pg_ctx, job.id)) == 1


def test_racing_claims_of_a_cancelled_job_end_it_once(pg_ctx, finished) -> None:  # type: ignore[no-untyped-def]
    job = jobs.submit(pg_ctx, "system.sleep", {})
    with session_scope() as s:
        s.get(Job, job.id).cancel_requested = True  # type: ignore[union-attr]
    assert _race(8, lambda i: lifecycle.claim(job.id, worker=f"w{i}")) == [None] * 8
    assert jobs.get(pg_ctx, job.id).status == "cancelled"
    assert _status_events(pg_ctx, job.id).count("cancelled") == 1 and finished == [job.id]


def test_racing_claims_past_the_limit_give_up_once(pg_ctx, finished) -> None:  # type: ignore[no-untyped-def]
    job = jobs.submit(pg_ctx, "system.sleep", {})
    with session_scope() as s:
        s.get(Job, job.id).attempts = 3  # type: ignore[union-attr]
    assert _race(8, lambda i: lifecycle.claim(job.id, worker=f"w{i}")) == [None] * 8
    cur = jobs.get(pg_ctx, job.id)
    assert cur.status == "failed" and cur.error == "gave up after 3 attempts" and cur.attempts == 3
    assert sum(m.startswith("gave up") for m in _status_events(pg_ctx, job.id)) == 1 and finished == [job.id]


def test_racing_terminal_writes_end_the_job_once(pg_ctx, finished) -> None:  # type: ignore[no-untyped-def]
    job = jobs.submit(pg_ctx, "system.sleep", {})
    assert lifecycle.claim(job.id, worker="w") is not None

    def end(i: int):  # type: ignore[no-untyped-def]
        if i % 3 == 0:
            return lifecycle.succeed(job.id, {"by": i}, attempt=1)
        if i % 3 == 1:
            return lifecycle.fail(job.id, f"failed by {i}", attempt=1)
        return lifecycle.cancelled(job.id, f"cancelled by {i}", attempt=1)

    ended = [j for j in _race(9, end) if j is not None]
    assert len(ended) == 1
    cur = jobs.get(pg_ctx, job.id)
    assert cur.status == ended[0].status and cur.result == ended[0].result and cur.error == ended[0].error
    terminal = [e for e in jobs.events(pg_ctx, job.id) if e.kind == "status" and not e.message.startswith(("queued", "running"))]
    assert len(terminal) == 1 and finished == [job.id]


def test_cancel_of_a_queued_job_tells_the_finished_hooks(db_ctx, finished) -> None:  # type: ignore[no-untyped-def]
    job = jobs.submit(db_ctx, "system.sleep", {})
    assert jobs.cancel(db_ctx, job.id).status == "cancelled" and finished == [job.id]
    stopped = jobs.submit(db_ctx, "system.sleep", {})
    assert jobs.request_stop(db_ctx, stopped.id).status == "cancelled" and finished == [job.id, stopped.id]
    running = jobs.submit(db_ctx, "system.sleep", {})
    assert lifecycle.claim(running.id, worker="w") is not None
    assert jobs.cancel(db_ctx, running.id).cancel_requested and finished == [job.id, stopped.id]  # the worker ends it


def test_cancel_racing_a_claim_never_cancels_a_started_job(pg_ctx, finished) -> None:  # type: ignore[no-untyped-def]
    for _ in range(6):
        job = jobs.submit(pg_ctx, "system.sleep", {})
        claimed, _cancelled = _race(2, lambda i: lifecycle.claim(job.id, worker="w") if i == 0 else jobs.cancel(pg_ctx, job.id))
        cur = jobs.get(pg_ctx, job.id)
        if claimed is not None:  # the worker was first: it runs, asked to stop between steps
            assert cur.status == "running" and cur.cancel_requested and job.id not in finished
        else:  # the cancel was first: the claim found nothing to run
            assert cur.status == "cancelled" and cur.attempts == 0 and finished.count(job.id) == 1


def test_a_request_added_during_a_heartbeat_is_not_lost(pg_ctx) -> None:  # type: ignore[no-untyped-def]
    job = jobs.submit(pg_ctx, "system.sleep", {})
    assert lifecycle.claim(job.id, worker="w") is not None
    seen: set[str] = set()
    for _ in range(5):
        _race(2, lambda i: seen.update(lifecycle.heartbeat(job.id, attempt=1)[2]) if i == 0
              else jobs.request(pg_ctx, job.id, "save_now"))
        seen.update(lifecycle.heartbeat(job.id, attempt=1)[2])
        assert seen == {"save_now"}
        seen.clear()


def test_a_worker_pool_keeps_a_connection_for_every_thread(pg_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from backend import db
    from workers.runner import connections_needed

    monkeypatch.setattr(db, "_pool_size", 10)
    need = connections_needed(16)
    assert need >= 2 * 17  # each job thread and its heartbeat thread, for the cpu threads and the gpu one
    db.reserve_connections(need)
    assert db.get_engine().pool.size() == need  # type: ignore[attr-defined]
    db.reserve_connections(4)  # never shrinks
    assert db.get_engine().pool.size() == need  # type: ignore[attr-defined]
    monkeypatch.setattr(db, "_pool_size", 10)
    db.reset_engine()
