"""The calendar's job types, and the hook that fails a target whose publish job ended badly."""

from __future__ import annotations

from backend.jobs.hooks import on_job_finished
from backend.jobs.models import JobOut
from backend.jobs.specs import JobSpec, register

PUBLISH_JOB = "calendar.publish"

# Five attempts with backoff from 30 s: a webhook or Instagram outage of a few minutes heals by itself.
register(JobSpec(PUBLISH_JOB, queue="cpu", max_attempts=5, time_limit_s=1800, backoff_s=30, backoff_max_s=1800))


@on_job_finished
def _fail_target_of_failed_job(job: JobOut) -> None:
    """A publish job that crashed, timed out or gave up leaves its target failed, not 'publishing'."""
    if job.type != PUBLISH_JOB or job.status == "succeeded":
        return
    from backend.publishing.service import mark_target_failed

    target_id = str(job.payload.get("target_id") or "")
    if target_id:
        mark_target_failed(target_id, job.error or f"publish job {job.status}", job_id=job.id)
