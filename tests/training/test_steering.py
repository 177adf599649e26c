"""Stop then resume, cancel, save-now and sample-now on a running training job (embedded workers)."""

from __future__ import annotations

import pytest

from backend.jobs import service as jobs
from backend.training import service as training
from tests.conftest import wait_until
from tests.training.conftest import quick

pytestmark = pytest.mark.slow


def _at_step(ctx, job_id: str, step: int):  # type: ignore[no-untyped-def]
    def check():  # type: ignore[no-untyped-def]
        cur = jobs.get(ctx, job_id)
        assert not cur.finished, f"the run ended early: {cur.status} {cur.error}"
        return cur if cur.metrics.get("step", 0) >= step else None

    return wait_until(check, timeout=90, interval=0.05)


def test_stop_keeps_checkpoint_then_resume_continues(ctx, demo_models, embedded_workers, make_dataset):
    ds = make_dataset(ctx, n=2)
    job = training.submit(ctx, dataset_id=ds.id, base_model="demo-sd15", params=quick(max_steps=60, sample_prompts=[]))
    _at_step(ctx, job.id, 2)
    training.stop(ctx, job.id)
    stopped = jobs.wait(ctx, job.id, timeout_s=60)
    assert stopped.status == "cancelled", stopped.error
    assert stopped.result and stopped.result["resumable"] is True
    at = stopped.result["step"]
    assert 2 <= at < 60
    assert [c["step"] for c in training.checkpoints(ctx, job.id)] == [at]
    assert training.lora_for_job(ctx, job.id) is None

    training.resume(ctx, job.id)
    done = jobs.wait(ctx, job.id, timeout_s=120)
    assert done.status == "succeeded", done.error
    assert done.result["resumed_from"] == at and done.result["steps"] == 60
    # The loss chart continues: every step appears once, from 1 to the end.
    assert [p[0] for p in done.metrics["loss_history"]] == list(range(1, 61))
    assert any(e.message == f"resumed from the checkpoint at step {at} of 60" for e in jobs.events(ctx, job.id))


def test_cancel_ends_cancelled_without_lora(ctx, demo_models, embedded_workers, make_dataset):
    ds = make_dataset(ctx, n=2)
    job = training.submit(ctx, dataset_id=ds.id, base_model="demo-sd15", params=quick(max_steps=2000))
    _at_step(ctx, job.id, 1)
    training.cancel(ctx, job.id)
    done = jobs.wait(ctx, job.id, timeout_s=60)
    assert done.status == "cancelled" and done.metrics["step"] < 2000
    assert training.lora_for_job(ctx, job.id) is None and training.list_loras(ctx) == []


def test_save_now_and_sample_now_are_honoured_within_steps(ctx, demo_models, embedded_workers, make_dataset):
    ds = make_dataset(ctx, n=2)
    job = training.submit(ctx, dataset_id=ds.id, base_model="demo-sd15",
                          params=quick(max_steps=2000, sample_prompts=["[trigger] at the beach", "portrait of [trigger]"]))
    cur = _at_step(ctx, job.id, 1)
    asked = cur.metrics["step"]
    training.save_now(ctx, job.id)
    training.sample_now(ctx, job.id)
    wait_until(lambda: training.checkpoints(ctx, job.id) and len(training.samples(ctx, job.id)) >= 2, timeout=30, interval=0.05)
    ckpt = training.checkpoints(ctx, job.id)[0]["step"]
    shots = training.samples(ctx, job.id)
    training.cancel(ctx, job.id)
    jobs.wait(ctx, job.id, timeout_s=60)
    # Honoured within a few steps: the trainer polls every 0.25 s and acts between steps; `asked` is
    # read from metrics written at most every 0.5 s, so allow the steps of ~1 s at the measured speed.
    it_s = jobs.get(ctx, job.id).metrics.get("it_s") or 1.0
    assert asked <= ckpt <= asked + 2 + int(it_s * 1.0) + 1
    assert [s["index"] for s in shots[:2]] == [0, 1]
    assert shots[0]["prompt"] == "ohwx at the beach" and shots[1]["prompt"] == "portrait of ohwx"
    png = training.artifact_bytes(ctx, job.id, shots[0]["key"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
