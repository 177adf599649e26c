"""Recovers jobs whose message was lost or whose worker died. Run by every worker and the embedded runner."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update

from backend.db import session_scope, utcnow
from backend.jobs import queue as job_queue
from backend.jobs.hooks import emit_finished
from backend.jobs.models import QUEUES, Job, JobOut
from backend.jobs.service import add_event
from backend.settings import get_settings

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    resent: int = 0
    recovered: int = 0
    gave_up: int = 0
    still_queued: int = 0  # sent long ago, but their message is still in the broker


def reconcile(*, resend_all: bool = False, queues: set[str] | None = None) -> ReconcileReport:
    """Re-queue running jobs with a stale heartbeat; re-send queued jobs with no recent message.

    :param resend_all: re-send every due queued job now (a fresh in-process broker lost them all).
    :param queues: only jobs of these queues (a worker reconciles the queues it serves).
    """
    settings = get_settings()
    now = utcnow()
    report = ReconcileReport()
    finished: list[JobOut] = []
    stale_before = now - timedelta(seconds=settings.stale_after_s)
    with session_scope() as s:
        q = select(Job).where(Job.status == "running", Job.heartbeat_at < stale_before)
        if queues:
            q = q.where(Job.queue.in_(queues))
        for job in s.scalars(q.with_for_update(skip_locked=True)):
            if job.attempts >= job.max_attempts:
                job.status, job.finished_at = "failed", now
                job.error = f"gave up after {job.attempts} attempts: the worker stopped responding"
                add_event(s, job, "status", job.error, level="error")
                report.gave_up += 1
                s.flush()
                finished.append(JobOut.model_validate(job, from_attributes=True))
            else:
                job.status, job.sent_at = "queued", None
                add_event(s, job, "log", f"worker {job.worker} stopped responding; job re-queued", level="warning")
                report.recovered += 1
    for out in finished:
        emit_finished(out)

    resend_before = now - timedelta(seconds=settings.resend_after_s)
    with session_scope() as s:
        q = select(Job.id, Job.type, Job.queue, Job.sent_at).where(
            Job.status == "queued", or_(Job.not_before.is_(None), Job.not_before <= now)
        )
        if not resend_all:
            q = q.where(or_(Job.sent_at.is_(None), Job.sent_at < resend_before))
        if queues:
            q = q.where(Job.queue.in_(queues))
        due = list(s.execute(q.limit(1000)))
    # A job sent long ago may simply be waiting its turn (a long gpu queue): on Redis, resend only
    # those whose message is gone; never-sent (refused, recovered) jobs are always sent.
    if not resend_all and any(sent for *_, sent in due):
        try:
            live = job_queue.live_job_ids(queues or QUEUES)
        except Exception as err:  # noqa: BLE001 - an unreachable broker refuses the sends below anyway
            log.warning("reconciler cannot list live messages: %s", err)
            live = None
        if live:
            report.still_queued = sum(1 for job_id, *_, sent in due if sent is not None and job_id in live)
            due = [row for row in due if row[3] is None or row[0] not in live]
    sent = [job_id for job_id, job_type, queue, _sent in due if job_queue.send(job_id=job_id, job_type=job_type, queue=queue)]
    if sent:  # one statement for the whole batch, not one transaction per job
        with session_scope() as s:
            s.execute(update(Job).where(Job.id.in_(sent), Job.status == "queued").values(sent_at=utcnow())
                      .execution_options(synchronize_session=False))
        report.resent = len(sent)
    if report.resent or report.recovered or report.gave_up:
        log.info("reconciler: %s", report)
    return report
