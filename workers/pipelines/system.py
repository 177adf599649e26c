"""Built-in job types: ``system.noop`` (benchmarks, doctor) and ``system.sleep`` (demo of progress)."""

from __future__ import annotations

import time
from typing import Any

from workers.context import JobContext
from workers.registry import handler



@handler("system.noop")
def noop(ctx: JobContext) -> dict[str, Any]:
    ctx.progress(1.0, stage="done", force=True)
    return {"ok": True}


@handler("system.sleep")
def sleep(ctx: JobContext) -> dict[str, Any]:
    steps = int(ctx.payload.get("steps", 10))
    delay = float(ctx.payload.get("delay_s", 0.2))
    for i in range(steps):
        ctx.check_cancelled()
        time.sleep(delay)
        ctx.progress((i + 1) / steps, stage="sleeping", metrics={"step": i + 1, "total": steps})
    return {"steps": steps}
