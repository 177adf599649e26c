"""Ingest through the embedded worker: refusals, hostile archives, captions, duplicates, kohya."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from backend.datasets import service
from backend.datasets.ingest import UploadFile, report_of, start_upload
from backend.datasets.kohya import export_kohya
from backend.jobs import service as jobs
from backend.storage import get_storage
from tests.datasets.imagegen import bomb_png, encode, png16, jpeg, jpeg_rotated, pattern, png, zip_bytes


def ingest(ctx, dataset_id: str, files: list[UploadFile]):  # type: ignore[no-untyped-def]
    job = start_upload(ctx, dataset_id, files)
    assert job.queue == "cpu" and job.type == "dataset.ingest"
    done = jobs.wait(ctx, job.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    report = report_of(done)
    assert report is not None
    return report


def configure(studio_env, **settings: object) -> None:
    """Change settings, then (re)start the embedded workers on the new broker."""
    from workers.runner import ensure_embedded_workers, stop_embedded_workers

    stop_embedded_workers()
    studio_env(**settings)
    ensure_embedded_workers()


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_each_refusal_class_and_conversions(ctx, studio_env):
    configure(studio_env, max_image_bytes=200_000)
    ds = service.create_dataset(ctx, name="Mia", trigger_word="ohwx", class_word="woman")
    big = encode(pattern(9, (900, 900)), "PNG", compress_level=0)
    assert len(big) > 200_000
    inputs = {
        "ok.jpg": jpeg(1),
        "rotated.jpg": jpeg_rotated(2),
        "palette.png": png(3, mode="P"),
        "alpha.png": png(4, mode="RGBA"),
        "cmyk.jpg": encode(pattern(5, mode="CMYK"), "JPEG"),
        "sixteen.png": png16(6),
        "photo.webp": encode(pattern(7), "WEBP", quality=90),
        "notes.jpg": b"this is plain text pretending to be a jpeg",
        "truncated.jpg": jpeg(8)[:1500],
        "huge.png": big,
        "bomb.png": bomb_png(7000),
        "tiny.jpg": jpeg(10, (200, 600)),
        "anim.gif": encode(pattern(11), "GIF"),
        "scan.tiff": encode(pattern(12), "TIFF", compression="tiff_lzw"),
    }
    report = ingest(ctx, ds.id, [UploadFile(name=n, data=d) for n, d in inputs.items()])
    assert sorted(report.accepted) == sorted(["ok.jpg", "rotated.jpg", "palette.png", "alpha.png", "cmyk.jpg", "sixteen.png", "photo.webp"])
    reasons = {r["file"]: r["reason"] for r in report.rejected}
    assert set(reasons) == {"notes.jpg", "truncated.jpg", "huge.png", "bomb.png", "tiny.jpg", "anim.gif", "scan.tiff"}
    assert "not an image" in reasons["notes.jpg"]
    assert "truncated or corrupt" in reasons["truncated.jpg"]
    assert "limit is 200000 bytes" in reasons["huge.png"]
    assert "megapixels" in reasons["bomb.png"] and "7000x7000" in reasons["bomb.png"]
    assert "short side must be at least 256" in reasons["tiny.jpg"]
    assert "unsupported format GIF" in reasons["anim.gif"]
    assert "unsupported format TIFF" in reasons["scan.tiff"]
    images = {i.filename: i for i in service.all_images(ctx, ds.id)}
    # EXIF orientation applied: the 400x300 landscape with "rotate 90" is a 300x400 portrait.
    assert (images["rotated.jpg"].width, images["rotated.jpg"].height) == (300, 400)
    storage = get_storage()
    for img in images.values():
        normal = Image.open(io.BytesIO(storage.get_bytes(img.image_key)))
        assert normal.mode == "RGB" and normal.size == (img.width, img.height)
        thumb = Image.open(io.BytesIO(storage.get_bytes(img.thumb_key)))
        assert thumb.format == "WEBP" and max(thumb.size) <= 256
        assert storage.exists(img.storage_key)
    # The stored original keeps the bytes as uploaded.
    assert storage.get_bytes(images["ok.jpg"].storage_key) == inputs["ok.jpg"]
    # The raw upload area is emptied once the job has finished.
    assert not [k for k in storage.list(f"{ctx.tenant_id}/datasets/{ds.id}/") if "/uploads/" in k]


def test_alpha_is_flattened_on_white(ctx, embedded_workers):
    ds = service.create_dataset(ctx, name="Alpha")
    im = pattern(20, mode="RGBA")
    px = im.load()
    for x in range(40):
        for y in range(40):
            px[x, y] = (0, 0, 0, 0)
    report = ingest(ctx, ds.id, [UploadFile(name="a.png", data=encode(im, "PNG"))])
    assert report.accepted == ["a.png"]
    img = service.all_images(ctx, ds.id)[0]
    normal = Image.open(io.BytesIO(get_storage().get_bytes(img.image_key)))
    assert normal.getpixel((5, 5)) == (255, 255, 255)


def test_hostile_zip_keeps_valid_files_and_writes_nothing_outside(ctx, studio_env, tmp_path):
    configure(studio_env, max_image_bytes=1_000_000)
    ds = service.create_dataset(ctx, name="Zip", trigger_word="ohwx")
    root = Path(os.environ["STUDIO_DATA_DIR"]).resolve()
    before_outside = files_under(tmp_path) - files_under(root)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("photos/a.jpg", jpeg(30))
        zf.writestr("photos/a.txt", "ohwx woman smiling, outdoors")
        zf.writestr("photos/b.png", png(31))
        zf.writestr("photos/b.txt", "ohwx woman in a café".encode("utf-8"))
        zf.writestr("photos/c.webp", encode(pattern(32), "WEBP"))
        zf.writestr("photos/c.txt", "caf\xe9 latin-1".encode("latin-1"))  # not UTF-8
        zf.writestr("../../escape.jpg", jpeg(33))
        zf.writestr("/etc/evil.jpg", jpeg(34))
        zf.writestr("C:/windows/evil.jpg", jpeg(35))
        link = zipfile.ZipInfo("photos/link.jpg")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("__MACOSX/photos/._a.jpg", b"\x00\x05\x16\x07junk")
        zf.writestr("photos/.DS_Store", b"junk")
        zf.writestr("photos/Thumbs.db", b"junk")
        zf.writestr("photos/._b.png", b"junk")
        zf.writestr("photos/bomb.jpg", b"\x00" * 5_000_000)  # deflates to a few KB, inflates past the limit
        zf.writestr("photos/orphan.txt", "no image for me")
    data = buf.getvalue()
    assert len(data) < 200_000
    report = ingest(ctx, ds.id, [UploadFile(name="upload.zip", data=data)])
    assert sorted(report.accepted) == ["photos/a.jpg", "photos/b.png", "photos/c.webp"]
    reasons = {r["file"]: r["reason"] for r in report.rejected}
    assert "'..'" in reasons["../../escape.jpg"]
    assert "absolute" in reasons["/etc/evil.jpg"] and "absolute" in reasons["C:/windows/evil.jpg"]
    assert "link" in reasons["photos/link.jpg"]
    # Refused from the declared size in the zip directory: the entry was never inflated (reading it
    # would have produced "uncompressed data is over the limit ..." instead).
    assert reasons["photos/bomb.jpg"] == "uncompressed size 5000000 bytes is over the limit of 1000000 bytes"
    assert "not UTF-8" in reasons["photos/c.txt"]
    assert "without a matching image" in reasons["photos/orphan.txt"]
    # Junk is ignored silently: neither accepted nor refused.
    listed = set(report.accepted) | set(reasons)
    assert not {n for n in listed if "DS_Store" in n or "Thumbs" in n or "__MACOSX" in n or "/._" in n}
    captions = {i.filename: i.caption for i in service.all_images(ctx, ds.id)}
    assert captions == {"photos/a.jpg": "ohwx woman smiling, outdoors", "photos/b.png": "ohwx woman in a café", "photos/c.webp": None}
    assert any("not UTF-8" in w["warning"] for w in report.warnings if w["file"] == "photos/c.webp")
    # Nothing appeared outside the storage root (the test's tmp folder minus the data dir).
    after_outside = files_under(tmp_path) - files_under(root)
    assert after_outside == before_outside
    assert not list(Path("/etc").glob("evil.jpg")) and not (tmp_path.parent / "escape.jpg").exists()


def test_bomb_entry_with_lying_header_is_refused_while_reading(ctx, studio_env):
    configure(studio_env, max_image_bytes=100_000)
    ds = service.create_dataset(ctx, name="Liar")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok.jpg", jpeg(40))
        zf.writestr("liar.jpg", b"\xff\xd8\xff" + b"\x00" * 3_000_000)
    raw = bytearray(buf.getvalue())
    # Rewrite liar.jpg's declared uncompressed size (local header and central directory) to 10 bytes.
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
        info = zf.getinfo("liar.jpg")
    real = info.file_size.to_bytes(4, "little")
    raw = bytearray(bytes(raw).replace(real, (10).to_bytes(4, "little")))
    report = ingest(ctx, ds.id, [UploadFile(name="liar.zip", data=bytes(raw))])
    assert report.accepted == ["ok.jpg"]
    assert [r["file"] for r in report.rejected] == ["liar.jpg"]


def test_archive_caps_entries_and_total(ctx, studio_env):
    configure(studio_env, max_archive_entries=3)
    ds = service.create_dataset(ctx, name="Caps")
    many = zip_bytes({f"{i}.jpg": jpeg(50 + i) for i in range(4)})
    report = ingest(ctx, ds.id, [UploadFile(name="many.zip", data=many), UploadFile(name="single.jpg", data=jpeg(60))])
    assert report.accepted == ["single.jpg"]
    assert report.rejected == [{"file": "many.zip", "reason": "archive has 4 entries; the limit is 3"}]
    configure(studio_env, max_archive_entries=100, max_archive_bytes=1_000_000)
    raw_png = {f"{i}.png": encode(pattern(70 + i, (600, 600)), "PNG", compress_level=0) for i in range(4)}
    assert sum(map(len, raw_png.values())) > 1_000_000
    total = zip_bytes(raw_png)
    assert len(total) < 1_000_000
    report = ingest(ctx, ds.id, [UploadFile(name="total.zip", data=total)])
    assert report.accepted == [] and "unpacks to" in report.rejected[0]["reason"]


def test_duplicates_and_near_duplicates(ctx, embedded_workers):
    ds = service.create_dataset(ctx, name="Dups")
    original = pattern(80, (400, 400))
    first = encode(original, "PNG")
    same_pixels = encode(original, "WEBP", lossless=True)  # other bytes, same pixels
    near = encode(original.resize((390, 390)), "JPEG", quality=80)
    report = ingest(ctx, ds.id, [UploadFile(name="a.png", data=first), UploadFile(name="b.webp", data=same_pixels), UploadFile(name="c.jpg", data=near)])
    assert report.accepted == ["a.png", "c.jpg"]
    assert report.rejected == [{"file": "b.webp", "reason": "duplicate of a.png (same pixels)"}]
    assert len(report.warnings) == 1 and report.warnings[0]["file"] == "c.jpg"
    assert report.warnings[0]["warning"].startswith("near-duplicate of a.png")
    # A second upload of the same picture names the twin already in the dataset.
    again = ingest(ctx, ds.id, [UploadFile(name="again.png", data=first)])
    assert again.accepted == [] and again.rejected == [{"file": "again.png", "reason": "duplicate of a.png (same pixels)"}]
    # The refused duplicates left no files behind: 2 images x (original, normalised, thumb) at most.
    keys = get_storage().list(f"{ctx.tenant_id}/datasets/{ds.id}/images/")
    assert len(keys) <= 6 and all(any(i.id in k for i in service.all_images(ctx, ds.id)) for k in keys)


def test_kohya_zip_round_trip(ctx, embedded_workers, tmp_path):
    src = service.create_dataset(ctx, name="Source", trigger_word="ohwx", class_word="woman", default_repeats=5)
    ingest(ctx, src.id, [UploadFile(name="x.jpg", data=jpeg(90)), UploadFile(name="x.txt", data=b"ohwx woman, beach"),
                          UploadFile(name="y.png", data=png(91))])
    y = next(i for i in service.all_images(ctx, src.id) if i.filename == "y.png")
    service.set_repeats(ctx, y.id, 12)
    out = export_kohya(ctx, src.id, tmp_path / "kohya.zip")
    with zipfile.ZipFile(out) as zf:
        names = sorted(zf.namelist())
        assert names == ["12_ohwx woman/y.png", "12_ohwx woman/y.txt", "5_ohwx woman/x.jpg", "5_ohwx woman/x.txt"]
        assert zf.read("5_ohwx woman/x.txt") == b"ohwx woman, beach"
    dst = service.create_dataset(ctx, name="Imported")
    report = ingest(ctx, dst.id, [UploadFile(name="kohya.zip", path=out)])
    assert sorted(report.accepted) == ["12_ohwx woman/y.png", "5_ohwx woman/x.jpg"]
    items = {i.filename: i for i in service.training_items(ctx, dst.id)}
    assert items["5_ohwx woman/x.jpg"].repeats == 5 and items["12_ohwx woman/y.png"].repeats == 12
    assert items["5_ohwx woman/x.jpg"].caption == "ohwx woman, beach"
    got = service.get_dataset(ctx, dst.id)
    assert (got.trigger_word, got.class_word) == ("ohwx", "woman")
    assert service.dataset_hash(ctx, dst.id) == service.dataset_hash(ctx, src.id)


def test_delete_cleans_storage_and_rows(ctx, embedded_workers):
    ds = service.create_dataset(ctx, name="Doomed")
    ingest(ctx, ds.id, [UploadFile(name="a.jpg", data=jpeg(100)), UploadFile(name="b.jpg", data=jpeg(101))])
    storage = get_storage()
    prefix = f"{ctx.tenant_id}/datasets/{ds.id}/"
    assert len(storage.list(prefix)) >= 4
    service.delete_dataset(ctx, ds.id)
    assert storage.list(prefix) == []
    from sqlalchemy import func, select

    from backend.datasets.models import DatasetImage
    from backend.db import session_scope

    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(DatasetImage).where(DatasetImage.dataset_id == ds.id)) == 0
    with pytest.raises(Exception, match="not found"):
        service.get_dataset(ctx, ds.id)


def test_folder_upload_names_are_relative_and_links_refused(ctx, embedded_workers, tmp_path):
    from backend.datasets.ingest import files_from_folder

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "p.jpg").write_bytes(jpeg(110))
    (folder / "sub" / "p.txt").write_text("ohwx, portrait")
    (folder / "q.png").write_bytes(png(111))
    (folder / ".DS_Store").write_bytes(b"junk")
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(jpeg(112))
    (folder / "link.jpg").symlink_to(secret)
    ds = service.create_dataset(ctx, name="Folder")
    report = ingest(ctx, ds.id, files_from_folder(folder))
    assert sorted(report.accepted) == ["q.png", "sub/p.jpg"]
    assert report.rejected == [{"file": "link.jpg", "reason": "symbolic link refused"}]
    assert {i.filename: i.caption for i in service.all_images(ctx, ds.id)}["sub/p.jpg"] == "ohwx, portrait"
