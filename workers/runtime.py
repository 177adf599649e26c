"""Runs one job attempt: claim, call the handler, and end the job in exactly one state."""

from __future__ import annotations

import logging
import os
import socket
import traceback

from dramatiq.middleware.time_limit import TimeLimitExceeded

from backend.errors import DomainError
from backend.jobs import lifecycle
from backend.jobs.errors import JobCancelled, PermanentError, TransientError
from backend.jobs.specs import spec_for
from workers.context import JobContext
from workers.registry import get_handler

log = logging.getLogger(__name__)
WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"

# Errors of the environment that a later attempt may not meet again.
TRANSIENT_TYPES: tuple[type[BaseException], ...] = (TransientError, ConnectionError, TimeoutError)


def execute(job_type: str, job_id: str) -> None:
    """Run the job ``job_id`` if it is still ours to run; a duplicate message is a no-op."""
    job = lifecycle.claim(job_id, worker=WORKER_NAME)
    if job is None:
        return
    spec = spec_for(job_type)
    n = job.attempts  # this attempt; every write below is fenced to it
    ctx = JobContext(job)
    ctx.start()
    try:
        result = get_handler(job_type)(ctx)
        ctx.close()
        lifecycle.succeed(job_id, result or {}, attempt=n)
    except JobCancelled as err:
        ctx.close()
        lifecycle.cancelled(job_id, str(err), result=err.result, attempt=n)
    except TimeLimitExceeded:
        ctx.close()
        lifecycle.fail(job_id, f"time limit of {spec.time_limit_s} s exceeded", attempt=n)
    except TRANSIENT_TYPES as err:
        ctx.close()
        reason = str(err) or type(err).__name__
        if job.attempts >= job.max_attempts:
            lifecycle.fail(job_id, f"gave up after {job.attempts} attempts: {reason}", detail=traceback.format_exc(), attempt=n)
        else:
            delay = getattr(err, "retry_after_s", None) or spec.backoff(job.attempts)
            lifecycle.requeue(job_id, error=reason, delay_s=delay, attempt=n)
    except (PermanentError, DomainError) as err:
        ctx.close()
        lifecycle.fail(job_id, str(err), detail=traceback.format_exc(), attempt=n)
    except Exception as err:  # noqa: BLE001 - an unexpected error is a bug: fail with the reason
        ctx.close()
        log.exception("job %s (%s) crashed", job_id, job_type)
        lifecycle.fail(job_id, f"{type(err).__name__}: {err}", detail=traceback.format_exc(), attempt=n)
