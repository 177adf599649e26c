"""Callbacks run after a job reaches a terminal state (webhooks subscribe here)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from backend.jobs.models import JobOut

log = logging.getLogger(__name__)
_finished: list[Callable[[JobOut], None]] = []


def on_job_finished(fn: Callable[[JobOut], None]) -> Callable[[JobOut], None]:
    """Register ``fn`` to be called with every job that ends (succeeded, failed, cancelled)."""
    if fn not in _finished:
        _finished.append(fn)
    return fn


def emit_finished(job: JobOut) -> None:
    """Call every registered callback; a failing callback is logged, never raised."""
    for fn in list(_finished):
        try:
            fn(job)
        except Exception:  # noqa: BLE001 - a hook must not change the job's outcome
            log.exception("job hook %s failed for job %s", getattr(fn, "__name__", fn), job.id)
