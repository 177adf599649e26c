"""Job types used only by the tests; a worker process loads them with STUDIO_WORKER_IMPORTS=tests.jobtypes.

Each handler does something a real pipeline does (checkpoints, side effects, errors, crashes)
so the job machinery is tested end to end through a real worker.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from backend.jobs.errors import PermanentError, TransientError
from backend.jobs.specs import JobSpec, register
from workers.context import JobContext
from workers.registry import handler

register(JobSpec("test.checkpointed", queue="cpu", max_attempts=3, time_limit_s=120))
register(JobSpec("test.permanent", queue="cpu", max_attempts=3, time_limit_s=60))
register(JobSpec("test.transient", queue="cpu", max_attempts=4, time_limit_s=60, backoff_s=0.5))
register(JobSpec("test.suicide", queue="cpu", max_attempts=2, time_limit_s=60))
register(JobSpec("test.slow", queue="cpu", max_attempts=3, time_limit_s=1))
register(JobSpec("test.crash", queue="cpu", max_attempts=3, time_limit_s=60))
register(JobSpec("test.chatty", queue="cpu", max_attempts=1, time_limit_s=120))


@handler("test.checkpointed")
def checkpointed(ctx: JobContext) -> dict[str, Any]:
    """Counts steps, keeping a checkpoint; its side effect (a file keyed by job id) is written once at the end."""
    work = Path(ctx.payload["dir"])
    steps, delay = int(ctx.payload.get("steps", 10)), float(ctx.payload.get("delay_s", 0.1))
    ckpt = work / f"{ctx.job_id}.ckpt"
    start = int(ckpt.read_text()) if ckpt.exists() else 0
    with open(work / f"{ctx.job_id}.attempts", "a") as fh:
        fh.write(f"{ctx.attempt} {start}\n")
    ctx.log(f"attempt {ctx.attempt} starts at step {start}")
    for step in range(start, steps):
        ctx.check_cancelled()
        time.sleep(delay)
        ckpt.write_text(str(step + 1))
        ctx.progress((step + 1) / steps, stage="counting", metrics={"step": step + 1})
    effect = work / f"{ctx.job_id}.effect"
    if not effect.exists():  # idempotent: a redelivered finished attempt does not repeat it
        with open(effect, "a") as fh:
            fh.write("done\n")
    ctx.progress(1.0, stage="finishing")
    return {"steps": steps, "resumed_from": start}


@handler("test.permanent")
def permanent(ctx: JobContext) -> dict[str, Any]:
    ctx.progress(0.1, stage="validating")
    raise PermanentError(f"bad input: {ctx.payload.get('reason', 'no prompt')}")


@handler("test.transient")
def transient(ctx: JobContext) -> dict[str, Any]:
    """Fails with a transient error until attempt ``succeed_on``."""
    if ctx.attempt < int(ctx.payload.get("succeed_on", 3)):
        raise TransientError(f"upstream answered 503 on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


@handler("test.suicide")
def suicide(ctx: JobContext) -> dict[str, Any]:
    """Kills its own worker process, as an out-of-memory kill or a segfault would."""
    ctx.progress(0.2, stage="about to crash", force=True)
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)
    return {}


@handler("test.slow")
def slow(ctx: JobContext) -> dict[str, Any]:
    """Runs far past its 1 s time limit (in short steps, so the limit can interrupt it)."""
    for i in range(600):
        time.sleep(0.05)
        if i % 10 == 0:
            ctx.progress(i / 600, stage="slow")
    return {"finished": True}


@handler("test.crash")
def crash(ctx: JobContext) -> dict[str, Any]:
    """A bug in a handler: an unexpected exception."""
    ctx.log("about to divide")
    return {"x": json.loads("{}")["missing"]}


@handler("test.chatty")
def chatty(ctx: JobContext) -> dict[str, Any]:
    """Writes progress and log lines as fast as it can (SQLite contention)."""
    n = int(ctx.payload.get("writes", 200))
    for i in range(n):
        ctx.progress((i + 1) / n, stage=f"stage {i // 20}", message=f"write {i}", metrics={"i": i}, force=True)
        if i % 5 == 0:
            ctx.log(f"line {i}")
    return {"writes": n}
