"""Submitting, reading and steering jobs on behalf of a user."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, insert, select, update

from backend.context import Ctx
from backend.db import new_id, session_scope, utcnow
from backend.errors import Conflict, InvalidInput
from backend.jobs import queue as job_queue
from backend.jobs.hooks import emit_finished
from backend.jobs.models import STATUSES, TERMINAL, Job, JobEvent, JobEventOut, JobOut
from backend.jobs.specs import spec_for
from backend.tenancy import get_owned

REQUESTS = ("save_now", "sample_now")


def _out(job: Job) -> JobOut:
    return JobOut.model_validate(job, from_attributes=True)


def add_event(s, job: Job, kind: str, message: str, *, level: str = "info", detail: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Record an event of ``job`` in the open session ``s``."""
    s.add(JobEvent(job_id=job.id, tenant_id=job.tenant_id, kind=kind, level=level, message=message[:4000], detail=detail))


def insert_event(  # type: ignore[no-untyped-def]
    s, *, job_id: str, tenant_id: str, kind: str, message: str, level: str = "info", detail: str | None = None
) -> None:
    """Record an event in the open session ``s`` with one INSERT now (no ORM object, no loaded job needed)."""
    s.execute(insert(JobEvent.__table__).values(
        id=new_id(), job_id=job_id, tenant_id=tenant_id, at=utcnow(), kind=kind, level=level, message=message[:4000], detail=detail,
    ))


def submit(ctx: Ctx, job_type: str, payload: dict[str, Any], *, subject_id: str | None = None) -> JobOut:
    """Record a queued job and hand its message to the broker (the reconciler resends on refusal)."""
    ctx.require("editor")
    spec = spec_for(job_type)
    with session_scope() as s:
        job = Job(
            tenant_id=ctx.tenant_id,
            type=job_type,
            queue=spec.queue,
            max_attempts=spec.max_attempts,
            time_limit_s=spec.time_limit_s,
            payload=payload,
            created_by=ctx.user_id,
            subject_id=subject_id,
            metrics={},
            requests=[],
            # Optimistic: set before the send so the happy path is one transaction. Should this
            # process die between commit and send, the reconciler still resends after resend_after_s.
            sent_at=utcnow(),
        )
        s.add(job)
        s.flush()
        add_event(s, job, "status", "queued")
        out = _out(job)
    if not job_queue.send(job_id=out.id, job_type=job_type, queue=spec.queue):
        with session_scope() as s:  # refused: the reconciler sends it at its next pass
            s.execute(update(Job).where(Job.id == out.id, Job.status == "queued").values(sent_at=None))
    return out


def _own(s, ctx: Ctx, job_id: str, *, lock: bool = False) -> Job:  # type: ignore[no-untyped-def]
    # lock: a change of state holds the row until commit, so a worker's claim cannot slip in
    # between reading "queued" and writing "cancelled" (SQLite serialises writers anyway).
    return get_owned(s, Job, ctx, job_id, kind="job", lock=lock)


def get(ctx: Ctx, job_id: str) -> JobOut:
    """One job of the caller's workspace."""
    with session_scope() as s:
        return _out(_own(s, ctx, job_id))


def list_jobs(
    ctx: Ctx,
    *,
    status: str | list[str] | None = None,
    job_type: str | None = None,
    subject_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[JobOut], int]:
    """A page of the workspace's jobs, newest first, and the total matching."""
    statuses = [status] if isinstance(status, str) else (status or [])
    bad = [x for x in statuses if x not in STATUSES]
    if bad:
        raise InvalidInput("unknown status", bad)
    conds = [Job.tenant_id == ctx.tenant_id]
    if statuses:
        conds.append(Job.status.in_(statuses))
    if job_type:
        conds.append(Job.type == job_type)
    if subject_id:
        conds.append(Job.subject_id == subject_id)
    with session_scope() as s:
        total = s.scalar(select(func.count()).select_from(Job).where(*conds)) or 0
        rows = s.scalars(select(Job).where(*conds).order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset))
        return [_out(j) for j in rows], total


def counts(ctx: Ctx) -> dict[str, int]:
    """How many of the workspace's jobs are in each status."""
    with session_scope() as s:
        rows = s.execute(select(Job.status, func.count()).where(Job.tenant_id == ctx.tenant_id).group_by(Job.status))
        found = {status: n for status, n in rows}
    return {status: found.get(status, 0) for status in STATUSES}


def job_types(ctx: Ctx) -> list[str]:
    """The job types present in the workspace."""
    with session_scope() as s:
        return sorted(s.scalars(select(Job.type).where(Job.tenant_id == ctx.tenant_id).distinct()))


def events(ctx: Ctx, job_id: str, *, limit: int = 500) -> list[JobEventOut]:
    """The job's events, oldest first; tracebacks only for admins."""
    with session_scope() as s:
        _own(s, ctx, job_id)
        rows = s.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.at, JobEvent.id).limit(limit))
        out = [JobEventOut.model_validate(e, from_attributes=True) for e in rows]
    if not ctx.is_admin:
        out = [e.model_copy(update={"detail": None}) for e in out]
    return out


def _end_queued(s, job: Job, message: str) -> JobOut:  # type: ignore[no-untyped-def]
    """End a job that never started as cancelled (the caller holds its row lock)."""
    job.status = "cancelled"
    job.finished_at = utcnow()
    add_event(s, job, "status", message)
    s.flush()
    return _out(job)


def cancel(ctx: Ctx, job_id: str) -> JobOut:
    """Cancel: a queued job ends at once, a running one is asked to stop between steps."""
    ctx.require("editor")
    ended: JobOut | None = None
    with session_scope() as s:
        job = _own(s, ctx, job_id, lock=True)
        if job.status in TERMINAL:
            raise Conflict(f"job is already {job.status}")
        if job.status == "queued":
            ended = _end_queued(s, job, "cancelled before it started")
        else:
            job.cancel_requested = True
            add_event(s, job, "log", f"cancel requested by {ctx.username or 'user'}")
    if ended is not None:
        emit_finished(ended)  # ended here, not by a worker: the job-finished hooks still hear of it
    return get(ctx, job_id)


def request_stop(ctx: Ctx, job_id: str) -> JobOut:
    """Ask a running job to stop keeping its work (training keeps its checkpoint; resumable)."""
    ctx.require("editor")
    ended: JobOut | None = None
    with session_scope() as s:
        job = _own(s, ctx, job_id, lock=True)
        if job.status == "queued":
            ended = _end_queued(s, job, "stopped before it started")
        elif job.status != "running":
            raise Conflict(f"job is {job.status}, not running")
        else:
            job.stop_requested = True
            add_event(s, job, "log", "stop requested")
            s.flush()
            out = _out(job)
    if ended is not None:
        emit_finished(ended)
        return ended
    return out


def request(ctx: Ctx, job_id: str, what: str) -> JobOut:
    """Ask a running job for an extra action (``save_now``, ``sample_now``)."""
    ctx.require("editor")
    if what not in REQUESTS:
        raise InvalidInput("unknown request", [what])
    with session_scope() as s:
        job = _own(s, ctx, job_id, lock=True)
        if job.status != "running":
            raise Conflict(f"job is {job.status}, not running")
        job.requests = [*job.requests, what]
        add_event(s, job, "log", f"{what} requested")
        return _out(job)


def retry(ctx: Ctx, job_id: str, *, payload_update: dict[str, Any] | None = None) -> JobOut:
    """Queue a failed or cancelled job again, with fresh attempts (its checkpoints are kept)."""
    ctx.require("editor")
    with session_scope() as s:
        job = _own(s, ctx, job_id, lock=True)
        if job.status not in ("failed", "cancelled"):
            raise Conflict(f"only failed or cancelled jobs can be retried; this one is {job.status}")
        job.status = "queued"
        job.attempts = 0
        job.error = None
        job.finished_at = None
        job.cancel_requested = False
        job.stop_requested = False
        job.requests = []
        job.not_before = None
        job.sent_at = None
        if payload_update:
            job.payload = {**job.payload, **payload_update}
        add_event(s, job, "status", f"retried by {ctx.username or 'user'}")
        jtype, queue = job.type, job.queue
    if job_queue.send(job_id=job_id, job_type=jtype, queue=queue):
        with session_scope() as s:
            s.execute(update(Job).where(Job.id == job_id).values(sent_at=utcnow()))
    return get(ctx, job_id)


def wait(ctx: Ctx, job_id: str, *, timeout_s: float = 3600, poll_s: float = 0.2) -> JobOut:
    """Block until the job ends (or ``timeout_s`` passes) and return it."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = get(ctx, job_id)
        if job.finished or time.monotonic() > deadline:
            return job
        time.sleep(poll_s)
