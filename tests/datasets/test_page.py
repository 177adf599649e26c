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


def _add(ctx, dataset_id: str, files: dict[str, bytes]) -> None:  # type: ignore[no-untyped-def]
    job = start_upload(ctx, dataset_id, [UploadFile(name=n, data=d) for n, d in files.items()])
    run_ingest(ctx, dataset_id=dataset_id, files=job.payload["files"], upload_id=job.payload["upload_id"])


def _table(at, n: int = 0) -> list[dict]:  # type: ignore[no-untyped-def]
    return at.dataframe[n].value.to_dict("records")


def test_list_sorts_pages_and_shows_the_total(page_app, ctx):  # noqa: F811
    made = [service.create_dataset(ctx, name=f"set-{i:02d}") for i in range(22)]
    _add(ctx, made[5].id, {"a.jpg": jpeg(1), "b.jpg": jpeg(2)})
    _add(ctx, made[9].id, {"c.jpg": jpeg(3)})
    at = page_app(PAGE, ctx)
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Datasets"] == "22"
    rows = _table(at)
    assert len(rows) == 20 and rows[0]["Name"] == "set-21"  # newest first by default
    at.selectbox(key="ds_sort").set_value("name").run()
    rows = _table(at)
    assert [r["Name"] for r in rows[:3]] == ["set-00", "set-01", "set-02"]
    at.selectbox(key="ds_sort").set_value("images").run()
    rows = _table(at)
    assert [(r["Name"], r["Images"]) for r in rows[:2]] == [("set-05", 2), ("set-09", 1)]
    assert any("Page 1 of 2" in c for c in texts(at.caption))
    at = button(at, "Next").click().run()
    assert not at.exception
    assert len(_table(at)) == 2 and any("Page 2 of 2" in c for c in texts(at.caption))


def test_upload_several_files_and_a_zip_shows_progress_then_the_report(page_app, ctx):  # noqa: F811
    from tests.datasets.imagegen import zip_bytes
    from workers.runner import ensure_embedded_workers

    ds = service.create_dataset(ctx, name="Upload", trigger_word="ohwx")
    archive = zip_bytes({"set/b.png": png(11), "set/b.txt": b"ohwx woman, studio", "set/notes.jpg": b"not a picture",
                         "../evil.jpg": jpeg(12), "__MACOSX/set/._b.png": b"junk"})
    at = page_app(PAGE, ctx)
    at.file_uploader[0].set_value([("a.jpg", jpeg(10), "image/jpeg"), ("a.txt", b"ohwx woman, park", "text/plain"),
                                   ("c.webp", encode_webp(13), "image/webp"), ("set.zip", archive, "application/zip")])
    at.run()
    at = button(at, "Upload").click().run()
    assert not at.exception
    job_id = at.session_state["dataset_ingest_jobs"][ds.id]
    # No worker yet: the job waits in the queue and the page shows its live progress bar.
    assert jobs.get(ctx, job_id).status == "queued"
    assert at.get("progress") and "queued" in at.get("progress")[0].proto.text
    ensure_embedded_workers()
    assert jobs.wait(ctx, job_id, timeout_s=60).status == "succeeded"
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accepted"] == "3" and metrics["Refused"] == "2"
    refused = {r["File"]: r["Reason"] for r in _table(at, 1)}
    assert set(refused) == {"set/notes.jpg", "../evil.jpg"}  # names as inside the archive
    assert "not an image" in refused["set/notes.jpg"] and "'..'" in refused["../evil.jpg"]
    captions = {i.filename: i.caption for i in service.all_images(ctx, ds.id)}
    assert captions == {"a.jpg": "ohwx woman, park", "c.webp": None, "set/b.png": "ohwx woman, studio"}
    assert len(at.get("image")) == 3


def encode_webp(seed: int) -> bytes:
    from tests.datasets.imagegen import encode, pattern

    return encode(pattern(seed), "WEBP", quality=90)


def test_grid_pages_repeats_removal_rename_and_delete(page_app, ctx):  # noqa: F811
    from backend.storage import get_storage

    ds = service.create_dataset(ctx, name="Grid", default_repeats=10)
    _add(ctx, ds.id, {f"{i:02d}.jpg": jpeg(100 + i) for i in range(13)})
    at = page_app(PAGE, ctx)
    assert not at.exception
    assert "13 images · page 1 of 2" in texts(at.caption)
    assert len(at.get("image")) == 12
    at = button(at, "Next page").click().run()
    assert "13 images · page 2 of 2" in texts(at.caption) and len(at.get("image")) == 1
    at = button(at, "Previous page").click().run()
    first, second = service.list_images(ctx, ds.id, limit=2)[0]
    # Per-image repeats (0 = the dataset default).
    at.number_input(key=f"rep_{first.id}").set_value(7)
    [b for b in at.button if b.label == "Save" and f"img_{first.id}" in (b.form_id or "")][0].click()
    at.run()
    assert not at.exception and service.get_image(ctx, first.id).repeats == 7
    # Select one image and remove it: row and files gone.
    at.checkbox(key=f"sel_{second.id}").check().run()
    at = button(at, "Remove 1 selected").click().run()
    assert not at.exception and service.get_dataset(ctx, ds.id).image_count == 12
    assert not get_storage().exists(second.thumb_key)
    # Settings tab: rename.
    name_box = [t for t in at.text_input if t.label == "Name" and t.key != "new_ds_name"][0]
    name_box.input("Grid renamed")
    at = button(at, "Save changes").click().run()
    assert not at.exception and service.get_dataset(ctx, ds.id).name == "Grid renamed"
    assert "Grid renamed" in texts(at.header)
    # Delete: confirmed by typing the name; rows and every stored file go.
    at.text_input(key=f"del_confirm_{ds.id}").input("Grid renamed").run()
    at = button(at, "Delete dataset").click().run()
    assert not at.exception
    assert service.list_datasets(ctx)[1] == 0
    assert get_storage().list(f"{ctx.tenant_id}/datasets/{ds.id}/") == []
