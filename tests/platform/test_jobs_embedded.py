"""Job lifecycle on the embedded broker: submit, progress, success, cancel."""

from __future__ import annotations

from backend.jobs import service as jobs
from tests.conftest import wait_until


def test_sleep_job_runs_to_success(ctx, embedded_workers):
    job = jobs.submit(ctx, "system.sleep", {"steps": 3, "delay_s": 0.05})
    done = jobs.wait(ctx, job.id, timeout_s=20)
    assert done.status == "succeeded"
    assert done.attempts == 1
    assert done.progress == 1.0
    assert done.result == {"steps": 3}
    kinds = [e.message for e in jobs.events(ctx, job.id) if e.kind == "status"]
    assert kinds[0] == "queued" and kinds[-1] == "succeeded"


def test_cancel_running_job(ctx, embedded_workers, studio_env):
    job = jobs.submit(ctx, "system.sleep", {"steps": 200, "delay_s": 0.05})
    wait_until(lambda: jobs.get(ctx, job.id).status == "running", timeout=10)
    jobs.cancel(ctx, job.id)
    done = jobs.wait(ctx, job.id, timeout_s=30)
    assert done.status == "cancelled"
    assert done.progress < 1.0
