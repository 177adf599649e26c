"""AppTest of the train wizard and the LoRAs page."""

from __future__ import annotations

from backend.jobs import service as jobs
from backend.training import service as training
from tests.ui.conftest import page_app, texts  # noqa: F401 - the page_app fixture


def _button(at, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def test_wizard_shows_dataset_model_steps_and_submits(page_app, ctx, demo_models, embedded_workers, make_dataset):
    ds = make_dataset(ctx, n=2)
    embedded_workers.stop()  # the submitted run stays queued: this test is about the page
    at = page_app("pages/train.py", ctx)
    assert not at.exception, at.exception
    assert at.selectbox(key="train_dataset").value == ds.id
    assert any("2 images" in o for o in at.selectbox(key="train_dataset").options)
    model_box = at.selectbox(key="train_model")
    assert "demo-sd15 (SD15) — demo — random weights, output is noise" in model_box.options
    model_box.set_value("demo-sd15").run()
    assert at.selectbox(key="train_preset_demo-sd15").value == "demo-quick"
    # Total steps follow the inputs: 2 images x 2 repeats x 3 epochs / batch 2 = 6.
    at.toggle(key="tp_demo-quick_by_steps").set_value(False).run()
    at.number_input(key="tp_demo-quick_epochs").set_value(3).run()
    at.number_input(key="tp_demo-quick_batch").set_value(2).run()
    assert any(t.startswith("**6 steps**") for t in texts(at.info)), texts(at.info)
    assert [m.value for m in at.metric if m.label == "Total steps"] == ["6"]
    _button(at, "Start training").click().run()
    assert not at.exception, at.exception
    rows, total = jobs.list_jobs(ctx, job_type="training.lora")
    assert total == 1 and rows[0].payload["params"]["epochs"] == 3 and rows[0].payload["params"]["batch_size"] == 2
    assert rows[0].payload["base_model"] == "demo-sd15" and rows[0].payload["trigger_word"] == "ohwx"
    assert at.selectbox(key="train_run_pick").value == rows[0].id
    assert any("step 0/" in p.text or "queued" in p.text for p in at.get("progress"))


def test_wizard_refuses_invalid_runs_with_reasons(page_app, ctx, demo_models, studio_env):
    from backend.datasets import service as datasets

    datasets.create_dataset(ctx, name="Empty", trigger_word="ohwx")
    at = page_app("pages/train.py", ctx)
    assert not at.exception, at.exception
    assert any("has no images" in e for e in texts(at.error))
    _button(at, "Start training").click().run()
    assert jobs.list_jobs(ctx, job_type="training.lora")[1] == 0
    assert "Training refused" in texts(at.error)


def test_run_view_and_loras_page_after_training(page_app, ctx, demo_models, embedded_workers, make_dataset):
    ds = make_dataset(ctx, n=2)
    job = training.submit(ctx, dataset_id=ds.id, base_model="demo-sd15",
                          params={"max_steps": 3, "save_every": 2, "sample_every": 0, "sample_steps": 2, "resolution": 64,
                                  "rank": 4, "alpha": 4}, name="Anna v2")
    done = jobs.wait(ctx, job.id, timeout_s=120)
    assert done.status == "succeeded", done.error
    at = page_app("pages/train.py", ctx)
    assert not at.exception, at.exception
    assert any("step 3/3" in p.text and "100%" in p.text for p in at.get("progress"))
    assert len(at.get("arrow_vega_lite_chart")) >= 1 or len(at.get("vega_lite_chart")) >= 1
    assert {m.label for m in at.metric} >= {"it/s", "ETA", "Loss (smoothed)", "Memory"}
    labels = [b.label for b in at.get("download_button")]
    assert "Download LoRA at step 2" in labels and "Download the LoRA (.safetensors)" in labels
    assert [c for img in at.get("image") for c in img.captions] == ["a photo of ohwx"]

    at = page_app("pages/loras.py", ctx)
    assert not at.exception, at.exception
    assert [h.value for h in at.subheader] == ["Anna v2"]
    assert "Download .safetensors" in [b.label for b in at.get("download_button")]
    _button(at, "Delete").click().run()
    assert training.list_loras(ctx) == []


def test_run_controls_of_a_running_and_a_stopped_run(page_app, ctx, demo_models, studio_env, make_dataset, embedded_workers):
    from backend.jobs import lifecycle

    ds = make_dataset(ctx, n=1)
    embedded_workers.stop()  # this test plays the worker: the run is claimed and stays running
    job = training.submit(ctx, dataset_id=ds.id, base_model="demo-sd15", params={"max_steps": 3, "resolution": 64})
    assert lifecycle.claim(job.id, worker="test") is not None
    at = page_app("pages/train.py", ctx)
    assert not at.exception, at.exception
    labels = {b.label for b in at.button}
    assert {"Stop (keep checkpoint)", "Cancel", "Save now", "Sample now"} <= labels and "Resume" not in labels
    _button(at, "Save now").click().run()
    _button(at, "Sample now").click().run()
    asked = [e.message for e in jobs.events(ctx, job.id) if e.message.endswith(" requested")]
    assert asked == ["save_now requested", "sample_now requested"]
    _button(at, "Stop (keep checkpoint)").click().run()
    assert jobs.get(ctx, job.id).stop_requested
    # The trainer answers a stop with a cancelled, resumable job: the page then offers Resume only.
    lifecycle.cancelled(job.id, "stopped at step 1 of 3", result={"resumable": True, "step": 1})
    at.run()
    labels = {b.label for b in at.button}
    assert "Resume" in labels and not labels & {"Stop (keep checkpoint)", "Save now", "Sample now"}
    _button(at, "Resume").click().run()
    assert jobs.get(ctx, job.id).status == "queued"
