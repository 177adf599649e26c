"""The gpu queue runs one job at a time per process (one thread, prefetch 1); cpu jobs run beside it."""

from __future__ import annotations

import threading
import time
from typing import Any

from backend.jobs import service as jobs
from backend.jobs.specs import JobSpec, register
from workers.context import JobContext
from workers.registry import handler

PROBE = "test.platform.gpu_probe"
register(JobSpec(PROBE, queue="gpu", max_attempts=1, time_limit_s=60))
_lock = threading.Lock()
_running = {"now": 0, "most": 0}


@handler(PROBE)
def gpu_probe(ctx: JobContext) -> dict[str, Any]:
    """Counts how many probes run at the same moment in this process."""
    with _lock:
        _running["now"] += 1
        _running["most"] = max(_running["most"], _running["now"])
    try:
        time.sleep(0.3)
    finally:
        with _lock:
            _running["now"] -= 1
    return {"ok": True}


def test_gpu_jobs_run_one_at_a_time_while_cpu_jobs_run_beside(ctx, embedded_workers) -> None:  # type: ignore[no-untyped-def]
    gpu_worker = next(w for w in embedded_workers.workers if w.consumer_whitelist == {"gpu"})
    assert gpu_worker.queue_prefetch == 1 and len(gpu_worker.workers) == 1  # one thread, one message held
    _running.update(now=0, most=0)
    probes = [jobs.submit(ctx, PROBE, {}) for _ in range(3)]
    assert {p.queue for p in probes} == {"gpu"}
    cpu = jobs.submit(ctx, "system.sleep", {"steps": 2, "delay_s": 0.1})
    done = [jobs.wait(ctx, p.id, timeout_s=60) for p in probes]
    assert [d.status for d in done] == ["succeeded"] * 3
    assert _running["most"] == 1
    assert jobs.wait(ctx, cpu.id, timeout_s=60).status == "succeeded"
    starts = sorted((d.started_at, d.finished_at) for d in done)
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(starts, starts[1:]))  # no overlap in the rows either
