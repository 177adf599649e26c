"""The scheduler: every few seconds, claim due targets with a conditional UPDATE and send their jobs.

Two schedulers may run at once (two machines, or the studio and ``python -m backend scheduler``):
a target moves ``scheduled -> publishing`` only in an UPDATE ... WHERE status='scheduled', so
exactly one of them wins it and sends its publish job.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from backend.calendar.jobs import PUBLISH_JOB
from backend.calendar.models import PostTarget
from backend.context import system_ctx
from backend.db import session_scope, utcnow
from backend.settings import get_settings

log = logging.getLogger(__name__)
# A claim whose job was never linked after this long: the scheduler died between claim and send.
ORPHAN_AFTER = timedelta(minutes=5)


@dataclass
class PassReport:
    claimed: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    plan_posts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"claimed": len(self.claimed), "missed": len(self.missed), "recovered": len(self.recovered),
                "plan_posts": len(self.plan_posts)}


def claim(target_id: str, *, now: datetime) -> bool:
    """Take one due target for publishing; True for exactly one caller however many race."""
    with session_scope() as s:
        res = s.execute(
            update(PostTarget)
            .where(PostTarget.id == target_id, PostTarget.status == "scheduled", PostTarget.due_at <= now)
            .values(status="publishing", claimed_at=now, job_id=None, updated_at=now)
        )
        return res.rowcount == 1


def claim_due(*, now: datetime, limit: int) -> list[tuple[str, str, str]]:
    """Take up to ``limit`` due targets in one transaction: (target id, tenant id, post id) of each won.

    On PostgreSQL the rows are locked with SKIP LOCKED, so concurrent schedulers take disjoint
    batches instead of queueing behind each other; the conditional UPDATE is what guarantees that
    each target is taken once (SQLite has no row locks and serialises writers anyway).
    """
    with session_scope() as s:
        ids = list(s.scalars(
            select(PostTarget.id).where(PostTarget.status == "scheduled", PostTarget.due_at <= now)
            .order_by(PostTarget.due_at, PostTarget.id).limit(limit).with_for_update(skip_locked=True)
        ))
        if not ids:
            return []
        res = s.execute(
            update(PostTarget)
            .where(PostTarget.id.in_(ids), PostTarget.status == "scheduled", PostTarget.due_at <= now)
            .values(status="publishing", claimed_at=now, job_id=None, updated_at=now)
            .returning(PostTarget.id, PostTarget.tenant_id, PostTarget.post_id)
            .execution_options(synchronize_session=False)
        )
        won = {row[0]: (row[0], row[1], row[2]) for row in res}
    return [won[i] for i in ids if i in won]  # due order


def _send(target_id: str, tenant_id: str, post_id: str) -> str:
    from backend.jobs import service as jobs

    job = jobs.submit(system_ctx(tenant_id), PUBLISH_JOB, {"target_id": target_id, "post_id": post_id}, subject_id=target_id)
    with session_scope() as s:
        s.execute(update(PostTarget).where(PostTarget.id == target_id, PostTarget.job_id.is_(None)).values(job_id=job.id))
    return job.id


def send_post(post_id: str, *, now: datetime | None = None) -> list[str]:
    """Claim and send the due targets of one post (``posts publish-now``), leaving every other due
    post to the running schedulers; the same conditional claim, so a racing scheduler cannot double it."""
    now = now or utcnow()
    with session_scope() as s:
        rows = list(s.execute(select(PostTarget.id, PostTarget.tenant_id).where(
            PostTarget.post_id == post_id, PostTarget.status == "scheduled", PostTarget.due_at <= now)))
    sent = []
    for target_id, tenant_id in rows:
        if claim(target_id, now=now):
            _send(target_id, tenant_id, post_id)
            sent.append(target_id)
    return sent


def fail_missed(*, now: datetime, window_s: float) -> list[str]:
    """Targets due longer ago than the window (everything was down) end failed 'missed'."""
    if window_s <= 0:
        return []
    cutoff = now - timedelta(seconds=window_s)
    with session_scope() as s:
        res = s.execute(
            update(PostTarget).where(PostTarget.status == "scheduled", PostTarget.due_at < cutoff)
            .values(status="failed", reason="missed", updated_at=now)
            .returning(PostTarget.id)
            .execution_options(synchronize_session=False)
        )
        return list(res.scalars())


def recover_orphans(*, now: datetime) -> list[str]:
    """Claims left without a job (scheduler killed mid-way): link the job if it exists, else reschedule."""
    from backend.jobs.models import Job

    recovered = []
    with session_scope() as s:
        rows = list(s.scalars(select(PostTarget).where(
            PostTarget.status == "publishing", PostTarget.job_id.is_(None), PostTarget.claimed_at < now - ORPHAN_AFTER
        )))
        for t in rows:
            job_id = s.scalar(select(Job.id).where(Job.subject_id == t.id, Job.type == PUBLISH_JOB, Job.created_at >= t.claimed_at))
            values = {"job_id": job_id} if job_id else {"status": "scheduled", "claimed_at": None}
            res = s.execute(update(PostTarget).where(PostTarget.id == t.id, PostTarget.status == "publishing",
                                                     PostTarget.job_id.is_(None)).values(**values))
            if res.rowcount == 1:
                recovered.append(t.id)
    return recovered


def run_once(*, now: datetime | None = None, limit: int = 500, batch: int = 50) -> PassReport:
    """One scheduler pass: fail missed posts, claim due ones and send their publish jobs."""
    now = now or utcnow()
    report = PassReport()
    report.missed = fail_missed(now=now, window_s=get_settings().publish_missed_window_s)
    report.recovered = recover_orphans(now=now)
    while len(report.claimed) < limit:
        # Small batches: each publish job goes out soon after its claim, and a scheduler killed
        # mid-pass leaves few claims for recover_orphans.
        won = claim_due(now=now, limit=min(batch, limit - len(report.claimed)))
        for target_id, tenant_id, post_id in won:
            _send(target_id, tenant_id, post_id)
            report.claimed.append(target_id)
        if not won:
            break
    try:
        from backend.calendar.plans import run_plans

        report.plan_posts = run_plans(now=now)
    except Exception:  # noqa: BLE001 - automation trouble must not stop publishing
        log.exception("recurring plans pass failed")
    return report


def run_loop(stop: threading.Event, *, interval_s: float | None = None) -> None:
    """Pass after pass until ``stop`` is set; a failing pass is logged and the loop goes on."""
    every = interval_s or get_settings().scheduler_interval_s
    while not stop.is_set():
        try:
            report = run_once()
            if report.claimed or report.missed:
                log.info("scheduler pass: %s", report.as_dict())
        except Exception:  # noqa: BLE001 - a database hiccup must not kill the scheduler
            log.exception("scheduler pass failed")
        stop.wait(every)


class SchedulerThread:
    """The scheduler loop in a daemon thread (the embedded runner of ``make run``)."""

    def __init__(self, interval_s: float | None = None) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=run_loop, args=(self.stop_event,), kwargs={"interval_s": interval_s},
                                       name="calendar-scheduler", daemon=True)

    def start(self) -> SchedulerThread:
        self.thread.start()
        return self

    def stop(self, timeout_s: float = 30) -> None:
        self.stop_event.set()
        self.thread.join(timeout_s)
