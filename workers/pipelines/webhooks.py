"""The "webhook.deliver" job: one signed POST of a job event, retried with backoff."""

from __future__ import annotations

from typing import Any

from backend.webhooks.service import deliver
from workers.context import JobContext
from workers.registry import handler


@handler("webhook.deliver")
def deliver_event(ctx: JobContext) -> dict[str, Any]:
    return deliver(ctx.ctx, ctx.payload["delivery_id"], attempt=ctx.attempt, max_attempts=ctx.job.max_attempts)
