"""``calendar.publish``: publish one claimed post target (webhook or Instagram)."""

from __future__ import annotations

from typing import Any

from backend.calendar.jobs import PUBLISH_JOB
from backend.publishing.service import publish_target
from workers.context import JobContext
from workers.registry import handler


@handler(PUBLISH_JOB)
def publish(ctx: JobContext) -> dict[str, Any]:
    ctx.progress(0.1, stage="publishing", force=True)
    result = publish_target(str(ctx.payload["target_id"]), job_id=ctx.job_id, attempt=ctx.attempt,
                            max_attempts=ctx.job.max_attempts)
    ctx.progress(1.0, stage=str(result.get("status") or "done"), force=True)
    return result
