"""Ingest on the production stack: PostgreSQL, Redis, S3 (minio client), a real worker process."""

from __future__ import annotations

import io

from PIL import Image

from backend.datasets import service
from backend.datasets.ingest import UploadFile, report_of, start_upload
from backend.jobs import service as jobs
from backend.storage import get_storage
from backend.storage.s3 import S3Storage
from tests.datasets.imagegen import jpeg, jpeg_rotated, png, zip_bytes


def test_ingest_through_a_worker_process_on_postgres_and_s3(production_env, studio_env, start_worker, ctx, other_ctx):
    # A message lost on the shared Redis is sent again soon (the reconciler's job), not after a minute.
    studio_env(resend_after_s=3, reconcile_every_s=1)
    worker = start_worker(queues="cpu", threads=1)
    ds = service.create_dataset(ctx, name="Prod", trigger_word="ohwx", class_word="woman")
    archive = zip_bytes({"set/a.jpg": jpeg(1), "set/a.txt": b"ohwx woman, park", "set/b.jpg": jpeg_rotated(2), "../x.jpg": jpeg(3),
                         "__MACOSX/set/._a.jpg": b"junk"})
    job = start_upload(ctx, ds.id, [UploadFile(name="set.zip", data=archive), UploadFile(name="c.png", data=png(4))])
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    done = jobs.wait(ctx, job.id, timeout_s=90)
    assert done.status == "succeeded", (done.error, worker.stop())
    report = report_of(done)
    assert report is not None
    assert sorted(report.accepted) == ["c.png", "set/a.jpg", "set/b.jpg"]
    assert report.rejected == [{"file": "../x.jpg", "reason": "path escapes the archive ('..') refused"}]
    images = {i.filename: i for i in service.all_images(ctx, ds.id)}
    assert images["set/a.jpg"].caption == "ohwx woman, park"
    assert (images["set/b.jpg"].width, images["set/b.jpg"].height) == (300, 400)
    # Every stored object lives under the dataset's prefix in the bucket; the raw upload is gone.
    keys = storage.list(f"{ctx.tenant_id}/")
    assert keys and all(k.startswith(f"{ctx.tenant_id}/datasets/{ds.id}/images/") for k in keys)
    thumb = Image.open(io.BytesIO(storage.get_bytes(images["c.png"].thumb_key)))
    assert thumb.format == "WEBP"
    assert {t.image_key for t in service.training_items(ctx, ds.id)} <= set(keys)
    # Another workspace sees nothing; delete empties the bucket prefix.
    assert service.list_datasets(other_ctx)[1] == 0
    service.delete_dataset(ctx, ds.id)
    assert storage.list(f"{ctx.tenant_id}/datasets/{ds.id}/") == []
