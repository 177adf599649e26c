"""A worker process killed mid-training: the other worker resumes from the last checkpoint and finishes."""

from __future__ import annotations

import pytest

from backend.jobs import service as jobs
from backend.training import service as training
from tests.conftest import wait_until
from tests.training.conftest import quick

pytestmark = pytest.mark.slow
# Short heartbeat / stale settings: the lost worker is noticed within ~1.5 s instead of minutes.
FAST = {"heartbeat_interval_s": "0.25", "stale_after_s": "1.5", "reconcile_every_s": "0.3", "resend_after_s": "1.5"}
STEPS = 30


def _running_pid(job_id: str) -> int:
    """The process id of the worker that claimed the job (its worker name is host:pid)."""
    from backend.db import session_scope
    from backend.jobs.models import Job

    with session_scope() as s:
        return int(s.get(Job, job_id).worker.rsplit(":", 1)[1])  # type: ignore[union-attr]


def test_killed_worker_resumes_from_checkpoint(ctx, demo_models, redis_url, studio_env, start_worker, make_dataset):
    studio_env(broker_url=redis_url)
    # Two workers from the start (their imports overlap); the one running the job is killed.
    workers = [start_worker(**FAST), start_worker(**FAST)]
    ds = make_dataset(ctx, n=2)
    job = training.submit(ctx, dataset_id=ds.id, base_model="demo-sd15",
                          params=quick(max_steps=STEPS, save_every=4, sample_prompts=[]))
    wait_until(lambda: training.checkpoints(ctx, job.id), timeout=90, interval=0.05)
    victim = next(w for w in workers if w.proc.pid == _running_pid(job.id))
    victim.proc.send_signal(9)  # SIGKILL: no chance to clean up
    victim.proc.wait(10)
    killed_at = jobs.get(ctx, job.id).metrics["step"]
    saved = training.checkpoints(ctx, job.id)[-1]["step"]
    assert saved >= 4 and killed_at < STEPS, "the run finished before the kill"

    done = jobs.wait(ctx, job.id, timeout_s=150)
    assert done.status == "succeeded", done.error
    assert done.attempts == 2
    resumed = done.result["resumed_from"]
    assert resumed is not None and resumed >= saved and done.result["steps"] == STEPS
    logs = [e.message for e in jobs.events(ctx, job.id)]
    assert any("stopped responding" in m for m in logs)
    assert f"resumed from the checkpoint at step {resumed} of {STEPS}" in logs
