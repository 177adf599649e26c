"""Worker-side state changes of a job: claim, heartbeat, progress, and exactly one terminal state.

Every change is a conditional update on the job's current status, so a redelivered or duplicate
message can never run a job twice nor end it twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text, update

from backend.db import session_scope, utcnow
from backend.jobs import queue as job_queue
from backend.jobs.hooks import emit_finished
from backend.jobs.models import Job, JobOut
from backend.jobs.service import add_event, insert_event

# Writes go through the table with UPDATE ... RETURNING (PostgreSQL; SQLite >= 3.35): the changed
# row comes back with the statement, so no SELECT before or after it, and no ORM unit of work.
JOBS = Job.__table__


def _out(job: Job) -> JobOut:
    return JobOut.model_validate(job, from_attributes=True)


def _row_out(row: Any) -> JobOut:
    return JobOut.model_validate(dict(row))


def _relaxed_commit(s) -> None:  # type: ignore[no-untyped-def]
    """Let this transaction commit without waiting for the WAL flush (PostgreSQL only).

    For progress writes only: on a database crash the last fraction of a second of progress may
    be lost, never a claim, an attempt count or a terminal state (those commit durably, and a
    durable commit also flushes every earlier one).
    """
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SET LOCAL synchronous_commit TO OFF"))


def claim(job_id: str, *, worker: str) -> JobOut | None:
    """Move a queued job to running and count the attempt; None when it is not ours to run."""
    now = utcnow()
    with session_scope() as s:
        # The common case in one conditional statement: queued, due, not cancelled, attempts left.
        row = s.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.status == "queued", JOBS.c.attempts < JOBS.c.max_attempts,
                   JOBS.c.cancel_requested.is_(False), or_(JOBS.c.not_before.is_(None), JOBS.c.not_before <= now))
            .values(status="running", attempts=JOBS.c.attempts + 1, started_at=now, heartbeat_at=now, worker=worker,
                    not_before=None)
            .returning(*JOBS.c)
        ).mappings().first()
        if row is not None:
            job = _row_out(row)
            insert_event(s, job_id=job.id, tenant_id=job.tenant_id, kind="status",
                         message=f"running (attempt {job.attempts} of {job.max_attempts}) on {worker}")
            return job
    return _claim_refused(job_id, worker=worker, now=now)


def _claim_refused(job_id: str, *, worker: str, now: datetime) -> JobOut | None:
    """Why the fast claim found nothing: a duplicate, an early copy, a cancel, or no attempts left."""
    gave_up: JobOut | None = None
    with session_scope() as s:
        job = s.get(Job, job_id, with_for_update=True)  # locked: only one worker ends it
        if job is None or job.status != "queued":
            return None  # finished, running elsewhere, or unknown: the message is a duplicate
        if job.not_before is not None and job.not_before > now:
            return None  # an early copy; the delayed message or the reconciler brings it back
        if job.cancel_requested:
            job.status, job.finished_at = "cancelled", now
            add_event(s, job, "status", "cancelled")
            gave_up = _out(job)
        elif job.attempts >= job.max_attempts:
            job.status, job.finished_at = "failed", now
            job.error = f"gave up after {job.attempts} attempts" + (f": {job.error}" if job.error else "")
            add_event(s, job, "status", job.error, level="error")
            gave_up = _out(job)
        else:  # it became claimable since the fast path looked (e.g. retried); claim it now, row locked
            job.status, job.attempts, job.started_at, job.heartbeat_at = "running", job.attempts + 1, now, now
            job.worker, job.not_before = worker, None
            s.flush()
            add_event(s, job, "status", f"running (attempt {job.attempts} of {job.max_attempts}) on {worker}")
            return _out(job)
    if gave_up is not None:
        emit_finished(gave_up)
    return None


def _mine(attempt: int | None) -> list[Any]:
    """Conditions that the running attempt is still ``attempt`` (None: any attempt).

    A worker that was presumed dead (stale heartbeat) may still be alive; once its job was
    re-queued and claimed again, its late writes must not touch the new attempt.
    """
    return [] if attempt is None else [JOBS.c.attempts == attempt]


def heartbeat(job_id: str, *, attempt: int | None = None) -> tuple[bool, bool, list[str]]:
    """Touch the heartbeat; returns (cancel_requested, stop_requested, pending requests) and clears them.

    A job that is no longer running as ``attempt`` answers "cancel": that attempt must stop.
    """
    with session_scope() as s:
        job = s.get(Job, job_id, with_for_update=True)  # locked: a request added meanwhile is not cleared unseen
        if job is None or job.status != "running" or (attempt is not None and job.attempts != attempt):
            return (True, False, [])
        job.heartbeat_at = utcnow()
        requests = list(job.requests or [])
        if requests:
            job.requests = []
        return (job.cancel_requested, job.stop_requested, requests)


def write_progress(
    job_id: str,
    *,
    progress: float | None,
    stage: str | None,
    message: str | None,
    metrics: dict[str, Any] | None,
    new_stage: bool,
    attempt: int | None = None,
) -> None:
    """Store the latest progress of a running job (the caller throttles)."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, float(progress)))
    if stage is not None:
        values["stage"] = stage[:200]
    if message is not None:
        values["message"] = message
    if metrics is not None:
        values["metrics"] = metrics
    event = bool(new_stage and stage)
    stmt = update(JOBS).where(JOBS.c.id == job_id, JOBS.c.status == "running", *_mine(attempt)).values(**values)
    with session_scope() as s:
        _relaxed_commit(s)
        if not event:
            s.execute(stmt)
            return
        tenant_id = s.execute(stmt.returning(JOBS.c.tenant_id)).scalar()
        if tenant_id is not None:  # still running as this attempt: record the stage change with it
            insert_event(s, job_id=job_id, tenant_id=tenant_id, kind="stage", message=stage or "")


def log_event(job_id: str, message: str, *, level: str = "info", kind: str = "log", detail: str | None = None) -> None:
    """Append an event to a job."""
    with session_scope() as s:
        job = s.get(Job, job_id)
        if job is not None:
            add_event(s, job, kind, message, level=level, detail=detail)


def add_cost(job_id: str, usd: float) -> None:
    """Add money spent on a paid API to the job's cost."""
    with session_scope() as s:
        s.execute(update(Job).where(Job.id == job_id).values(cost=Job.cost + usd))


def _end(
    job_id: str, status: str, *, event: str, level: str = "info", detail: str | None = None, attempt: int | None = None,
    **values: Any,
) -> JobOut | None:
    with session_scope() as s:
        row = s.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.status == "running", *_mine(attempt))
            .values(status=status, finished_at=utcnow(), **values)
            .returning(*JOBS.c)
        ).mappings().first()
        if row is None:
            return None  # not running as this attempt (ended already, or re-queued): not ours to end
        out = _row_out(row)
        insert_event(s, job_id=job_id, tenant_id=out.tenant_id, kind="status", message=event, level=level, detail=detail)
    emit_finished(out)
    return out


def succeed(job_id: str, result: dict[str, Any], *, attempt: int | None = None) -> JobOut | None:
    """End a running job as succeeded with ``result``."""
    return _end(job_id, "succeeded", event="succeeded", attempt=attempt, result=result, progress=1.0, error=None)


def fail(
    job_id: str, error: str, *, detail: str | None = None, result: dict[str, Any] | None = None, attempt: int | None = None
) -> JobOut | None:
    """End a running job as failed with a readable reason (``detail``: traceback for admins)."""
    values: dict[str, Any] = {"error": error}
    if result is not None:
        values["result"] = result
    return _end(job_id, "failed", event=f"failed: {error}", level="error", detail=detail, attempt=attempt, **values)


def cancelled(job_id: str, message: str, *, result: dict[str, Any] | None = None, attempt: int | None = None) -> JobOut | None:
    """End a running job as cancelled (keeping ``result``, e.g. a resumable checkpoint)."""
    values: dict[str, Any] = {"message": message}
    if result is not None:
        values["result"] = result
    return _end(job_id, "cancelled", event=message, attempt=attempt, **values)


def requeue(job_id: str, *, error: str, delay_s: float, attempt: int | None = None) -> bool:
    """Put a running job back in the queue after a transient error, to run again in ``delay_s``."""
    now = utcnow()
    with session_scope() as s:
        row = s.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.status == "running", *_mine(attempt))
            .values(status="queued", error=error, not_before=now + timedelta(seconds=delay_s), sent_at=now)
            .returning(JOBS.c.tenant_id, JOBS.c.type, JOBS.c.queue)
        ).first()
        if row is None:
            return False
        insert_event(s, job_id=job_id, tenant_id=row.tenant_id, kind="log", level="warning",
                     message=f"transient error, retry in {delay_s:.1f}s: {error}")
    job_queue.send(job_id=job_id, job_type=row.type, queue=row.queue, delay_s=delay_s)
    return True


def running_job_ids() -> list[str]:
    """Ids of every running job (any workspace)."""
    with session_scope() as s:
        return list(s.scalars(select(Job.id).where(Job.status == "running")))
