"""Dataset service: create, list/sort/page, rename, curation, statistics, trainer contract, tenancy."""

from __future__ import annotations

import pytest

from backend.datasets import service
from backend.datasets.ingest import UploadFile, run_ingest, start_upload
from backend.datasets.kohya import export_kohya, export_kohya_bytes
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.jobs import service as jobs
from tests.conftest import make_tenant
from tests.datasets.imagegen import jpeg, png


def add_images(ctx, dataset_id: str, files: dict[str, bytes]):  # type: ignore[no-untyped-def]
    """Upload for real, then run the ingest in this process (the job's own code, no worker)."""
    job = start_upload(ctx, dataset_id, [UploadFile(name=n, data=d) for n, d in files.items()])
    return run_ingest(ctx, dataset_id=dataset_id, files=job.payload["files"], upload_id=job.payload["upload_id"])


def test_create_validate_and_unique_names(ctx):
    ds = service.create_dataset(ctx, name=" Mia ", trigger_word="ohwx", class_word="woman", description="summer", default_repeats=8)
    assert (ds.name, ds.trigger_word, ds.class_word, ds.description, ds.default_repeats, ds.image_count) == ("Mia", "ohwx", "woman", "summer", 8, 0)
    with pytest.raises(Conflict):
        service.create_dataset(ctx, name="mia")
    with pytest.raises(InvalidInput):
        service.create_dataset(ctx, name="  ")
    with pytest.raises(InvalidInput):
        service.create_dataset(ctx, name="x", trigger_word="two words")
    with pytest.raises(InvalidInput):
        service.create_dataset(ctx, name="y", default_repeats=0)


def test_same_name_in_another_workspace_is_fine(ctx, other_ctx):
    service.create_dataset(ctx, name="Mia")
    assert service.create_dataset(other_ctx, name="Mia").name == "Mia"


def test_list_sorts_pages_and_totals(ctx):
    a = service.create_dataset(ctx, name="Bravo")
    b = service.create_dataset(ctx, name="alpha")
    c = service.create_dataset(ctx, name="Charlie")
    add_images(ctx, c.id, {"1.jpg": jpeg(1), "2.jpg": jpeg(2)})
    add_images(ctx, a.id, {"3.jpg": jpeg(3)})
    rows, total = service.list_datasets(ctx, sort="name")
    assert total == 3 and [d.name for d in rows] == ["alpha", "Bravo", "Charlie"]
    rows, _ = service.list_datasets(ctx, sort="images")
    assert [(d.name, d.image_count) for d in rows] == [("Charlie", 2), ("Bravo", 1), ("alpha", 0)]
    rows, _ = service.list_datasets(ctx, sort="images", descending=False)
    assert rows[0].name == "alpha"
    rows, _ = service.list_datasets(ctx, sort="created")
    assert [d.id for d in rows] == [c.id, b.id, a.id]
    page, total = service.list_datasets(ctx, sort="name", limit=2, offset=2)
    assert total == 3 and [d.name for d in page] == ["Charlie"]
    found, total = service.list_datasets(ctx, search="rav")
    assert total == 1 and found[0].id == a.id
    with pytest.raises(InvalidInput):
        service.list_datasets(ctx, sort="size")  # type: ignore[arg-type]


def test_rename_and_update(ctx):
    a = service.create_dataset(ctx, name="One")
    service.create_dataset(ctx, name="Two")
    assert service.rename_dataset(ctx, a.id, "Uno").name == "Uno"
    assert service.rename_dataset(ctx, a.id, "UNO").name == "UNO"  # own name, other case
    with pytest.raises(Conflict):
        service.rename_dataset(ctx, a.id, "two")
    upd = service.update_dataset(ctx, a.id, trigger_word="zxq", default_repeats=3)
    assert (upd.name, upd.trigger_word, upd.default_repeats) == ("UNO", "zxq", 3)
    with pytest.raises(InvalidInput):
        service.update_dataset(ctx, a.id, colour="red")


def test_curation_captions_repeats_and_removal(ctx):
    ds = service.create_dataset(ctx, name="Cur", trigger_word="ohwx", default_repeats=4)
    add_images(ctx, ds.id, {"a.jpg": jpeg(10), "a.txt": b"woman smiling", "b.jpg": jpeg(11), "c.png": png(12), "c.txt": b"ohwx at the beach"})
    imgs = {i.filename: i for i in service.all_images(ctx, ds.id)}
    assert service.set_caption(ctx, imgs["b.jpg"].id, "  woman\nreading  ").caption == "woman reading"
    assert service.bulk_caption(ctx, ds.id, "add_trigger") == 2  # c already has it
    caps = {i.filename: i.caption for i in service.all_images(ctx, ds.id)}
    assert caps == {"a.jpg": "ohwx, woman smiling", "b.jpg": "ohwx, woman reading", "c.png": "ohwx at the beach"}
    assert service.bulk_caption(ctx, ds.id, "suffix", text="high quality") == 3
    assert service.bulk_caption(ctx, ds.id, "suffix", text="high quality") == 0  # idempotent
    assert service.bulk_caption(ctx, ds.id, "prefix", text="photo") == 3
    assert service.bulk_caption(ctx, ds.id, "replace", find="woman", replace="lady") == 2
    caps = {i.filename: i.caption for i in service.all_images(ctx, ds.id)}
    assert caps["a.jpg"] == "photo, ohwx, lady smiling, high quality"
    assert service.bulk_caption(ctx, ds.id, "clear", image_ids=[imgs["a.jpg"].id]) == 1
    with pytest.raises(InvalidInput):
        service.bulk_caption(ctx, ds.id, "replace", find="")
    assert service.set_repeats(ctx, imgs["b.jpg"].id, 9).repeats == 9
    with pytest.raises(InvalidInput):
        service.set_repeats(ctx, imgs["b.jpg"].id, 0)
    items = {t.filename: t for t in service.training_items(ctx, ds.id)}
    assert items["a.jpg"].caption == "" and items["a.jpg"].repeats == 4 and items["b.jpg"].repeats == 9
    assert items["c.png"].image_key.endswith(".png") and (items["c.png"].width, items["c.png"].height) == (320, 288)
    h1 = service.dataset_hash(ctx, ds.id)
    assert h1 == service.dataset_hash(ctx, ds.id)
    service.set_caption(ctx, imgs["c.png"].id, "changed")
    h2 = service.dataset_hash(ctx, ds.id)
    assert h2 != h1
    service.set_repeats(ctx, imgs["c.png"].id, 2)
    assert service.dataset_hash(ctx, ds.id) != h2
    page, total = service.list_images(ctx, ds.id, limit=2, offset=0)
    assert total == 3 and len(page) == 2
    from backend.storage import get_storage

    removed_keys = {imgs["a.jpg"].storage_key, imgs["a.jpg"].thumb_key}
    assert service.remove_images(ctx, ds.id, [imgs["a.jpg"].id]) == 1
    assert service.get_dataset(ctx, ds.id).image_count == 2
    assert not any(get_storage().exists(k) for k in removed_keys)


def test_stats_buckets_and_warnings(ctx):
    from backend.datasets.buckets import bucket_for

    ds = service.create_dataset(ctx, name="Stats")
    add_images(ctx, ds.id, {"p.jpg": jpeg(20, (512, 768)), "p.txt": b"x", "s.jpg": jpeg(21, (600, 600)), "l.jpg": jpeg(22, (768, 512))})
    st = service.stats(ctx, ds.id, resolution=512)
    assert st.count == 3 and st.captioned == 1 and abs(st.caption_coverage - 1 / 3) < 1e-9
    assert (st.min_width, st.max_width, st.min_height, st.max_height) == (512, 768, 512, 768)
    assert st.mean_width == pytest.approx((512 + 600 + 768) / 3, abs=0.1)
    buckets = {(b.width, b.height): b.count for b in st.buckets}
    assert buckets == {bucket_for(512, 768, resolution=512): 1, (512, 512): 1, bucket_for(768, 512, resolution=512): 1}
    assert st.total_repeats == 30
    assert any(w.startswith("fewer than 10 images") for w in st.warnings)
    assert "2 images have no caption" in st.warnings
    assert "no trigger word set" in st.warnings


def test_viewer_cannot_change(studio_env):
    admin = make_tenant("acme")
    viewer = make_tenant("acme", role="viewer")
    ds = service.create_dataset(admin, name="Ro")
    assert service.get_dataset(viewer, ds.id).name == "Ro"
    with pytest.raises(PermissionDenied):
        service.create_dataset(viewer, name="Nope")
    with pytest.raises(PermissionDenied):
        service.delete_dataset(viewer, ds.id)


def test_another_workspace_gets_not_found_everywhere(ctx, other_ctx, tmp_path):
    ds = service.create_dataset(ctx, name="Secret", trigger_word="ohwx")
    add_images(ctx, ds.id, {"a.jpg": jpeg(30)})
    img = service.all_images(ctx, ds.id)[0]
    upload = start_upload(ctx, ds.id, [UploadFile(name="b.jpg", data=jpeg(32))])
    calls = [
        lambda: service.get_dataset(other_ctx, ds.id),
        lambda: service.update_dataset(other_ctx, ds.id, description="x"),
        lambda: service.rename_dataset(other_ctx, ds.id, "Mine"),
        lambda: service.delete_dataset(other_ctx, ds.id),
        lambda: service.list_images(other_ctx, ds.id),
        lambda: service.all_images(other_ctx, ds.id),
        lambda: service.get_image(other_ctx, img.id),
        lambda: service.thumbnails(other_ctx, [img.id]),
        lambda: service.image_bytes(other_ctx, img.id),
        lambda: service.set_caption(other_ctx, img.id, "mine"),
        lambda: service.set_repeats(other_ctx, img.id, 3),
        lambda: service.remove_images(other_ctx, ds.id, [img.id]),
        lambda: service.remove_images(other_ctx, ds.id, []),
        lambda: service.bulk_caption(other_ctx, ds.id, "add_trigger"),
        lambda: service.training_items(other_ctx, ds.id),
        lambda: service.dataset_hash(other_ctx, ds.id),
        lambda: service.stats(other_ctx, ds.id),
        lambda: start_upload(other_ctx, ds.id, [UploadFile(name="x.jpg", data=jpeg(31))]),
        lambda: run_ingest(other_ctx, dataset_id=ds.id, files=[]),
        lambda: export_kohya(other_ctx, ds.id, tmp_path / "x.zip"),
        lambda: export_kohya_bytes(other_ctx, ds.id),
        lambda: jobs.get(other_ctx, upload.id),  # the ingest job of another workspace's upload
    ]
    for i, call in enumerate(calls):
        with pytest.raises(NotFound):
            call()
            pytest.fail(f"call {i} did not raise")
    # Another workspace's image id inside my own dataset is not found either.
    mine = service.create_dataset(other_ctx, name="Mine")
    with pytest.raises(NotFound):
        service.remove_images(other_ctx, mine.id, [img.id])
    # Bulk tools on my own dataset never reach another workspace's image, even by id.
    assert service.bulk_caption(other_ctx, mine.id, "prefix", text="mine", image_ids=[img.id]) == 0
    assert service.list_datasets(other_ctx)[1] == 1 and service.find_dataset(other_ctx, "Secret") is None
    # Nothing changed for the owner.
    assert service.get_image(ctx, img.id).caption is None and service.get_dataset(ctx, ds.id).image_count == 1
