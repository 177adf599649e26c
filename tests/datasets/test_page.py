"""AppTest of the Datasets page: create, list, grid, caption edit, bulk tools, report, statistics."""

from __future__ import annotations

from backend.datasets import service
from backend.datasets.ingest import UploadFile, run_ingest, start_upload
from backend.jobs import service as jobs
from tests.datasets.imagegen import jpeg, png
from tests.ui.conftest import button, page_app, texts  # noqa: F401 - page_app is a fixture

PAGE = "pages/datasets.py"


def test_create_dataset_from_the_form(page_app, ctx):  # noqa: F811
    at = page_app(PAGE, ctx)
    assert not at.exception
    assert texts(at.title) == ["Datasets"]
    at.text_input(key="new_ds_name").input("Mia")
    at.text_input(key="new_ds_trigger").input("ohwx")
    at.text_input(key="new_ds_class").input("woman")
    at = button(at, "Create dataset").click().run()
    assert not at.exception
    ds = service.find_dataset(ctx, "Mia")
    assert ds is not None and (ds.trigger_word, ds.class_word) == ("ohwx", "woman")
    assert "Mia" in texts(at.header)
    # A duplicate name is refused with a message, not a traceback.
    at.text_input(key="new_ds_name").input("mia")
    at = button(at, "Create dataset").click().run()
    assert not at.exception and any("already exists" in e for e in texts(at.error))


def test_grid_caption_edit_bulk_report_and_stats(page_app, ctx):  # noqa: F811
    ds = service.create_dataset(ctx, name="Curate", trigger_word="ohwx", class_word="woman")
    job = start_upload(ctx, ds.id, [UploadFile(name="a.jpg", data=jpeg(1)), UploadFile(name="a.txt", data=b"smiling"),
                                    UploadFile(name="b.png", data=png(2)), UploadFile(name="bad.jpg", data=b"nope")])
    # The worker's own code, run here, so the job row carries the real report.
    report = run_ingest(ctx, dataset_id=ds.id, files=job.payload["files"], upload_id=job.payload["upload_id"])
    from backend.jobs import lifecycle

    claimed = lifecycle.claim(job.id, worker="test")
    assert claimed is not None
    lifecycle.succeed(job.id, report.model_dump())
    assert jobs.get(ctx, job.id).status == "succeeded"

    at = page_app(PAGE, None)
    at.session_state["studio_ctx"] = ctx
    at.session_state["dataset_ingest_jobs"] = {ds.id: job.id}
    at.run()
    assert not at.exception
    assert "Curate" in texts(at.header)
    # The report: accepted and refused with the reason.
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accepted"] == "2" and metrics["Refused"] == "1"
    assert len(at.get("image")) >= 2  # thumbnails rendered
    captions = {t.key: t for t in at.text_area if t.key and t.key.startswith("cap_")}
    assert len(captions) == 2
    b = next(i for i in service.all_images(ctx, ds.id) if i.filename == "b.png")
    captions[f"cap_{b.id}"].input("ohwx woman in a red coat")
    # Each image has its own form; click the Save of this image's form.
    [x for x in at.button if x.label == "Save" and f"img_{b.id}" in (x.form_id or "")][0].click()
    at.run()
    assert not at.exception
    assert service.get_image(ctx, b.id).caption == "ohwx woman in a red coat"

    # Bulk: add the trigger word where missing (a.jpg's "smiling").
    button(at, "Apply to all captions").click().run()
    assert not at.exception
    caps = {i.filename: i.caption for i in service.all_images(ctx, ds.id)}
    assert caps["a.jpg"] == "ohwx, smiling" and caps["b.png"] == "ohwx woman in a red coat"

    # Statistics tab: count and the advice about a small dataset.
    assert any(w.startswith("fewer than 10 images") for w in texts(at.warning))
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
