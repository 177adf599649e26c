"""Ingest, file by file: the real format decides (not the extension), colour conversions, bombs, limits.

The ingest job's own code (``run_ingest``) runs in this process after a real ``start_upload``;
test_ingest.py drives the same code through the worker.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from backend.datasets import service
from backend.datasets.images import Limits, Refused, normalise
from backend.datasets.ingest import UploadFile, run_ingest, start_upload
from backend.storage import get_storage
from tests.datasets.imagegen import encode, jpeg, la_png, palette_with_transparency, pattern, png, png16, png_header_bomb


def add(ctx, dataset_id: str, files: dict[str, bytes]):  # type: ignore[no-untyped-def]
    job = start_upload(ctx, dataset_id, [UploadFile(name=n, data=d) for n, d in files.items()])
    return run_ingest(ctx, dataset_id=dataset_id, files=job.payload["files"], upload_id=job.payload["upload_id"])


def stored(key: str) -> Image.Image:
    return Image.open(io.BytesIO(get_storage().get_bytes(key)))


def test_the_extension_proves_nothing(ctx):
    ds = service.create_dataset(ctx, name="Ext")
    corrupt_png = png(4)[:60] + b"\x00" * 400 + png(4)[-12:]  # real header, garbage pixel data
    report = add(ctx, ds.id, {
        "really_a_png.jpg": png(1),  # accepted: the bytes are a PNG
        "text.png": b"just some text, not a picture\n" * 10,
        "bitmap.bmp": encode(pattern(2), "BMP"),
        "gif_named.jpg": encode(pattern(3), "GIF"),
        "corrupt.png": corrupt_png,
        "webp_named.png": encode(pattern(5), "WEBP", quality=85),
    })
    assert sorted(report.accepted) == ["really_a_png.jpg", "webp_named.png"]
    reasons = {r["file"]: r["reason"] for r in report.rejected}
    assert "not an image" in reasons["text.png"]
    assert reasons["bitmap.bmp"] == "unsupported format BMP: only JPEG, PNG and WebP are accepted"
    assert reasons["gif_named.jpg"] == "unsupported format GIF: only JPEG, PNG and WebP are accepted"
    assert "truncated or corrupt PNG" in reasons["corrupt.png"]
    images = {i.filename: i for i in service.all_images(ctx, ds.id)}
    # The original is kept under the extension of what it really is.
    assert images["really_a_png.jpg"].storage_key.endswith("/original.png")
    assert stored(images["really_a_png.jpg"].storage_key).format == "PNG"
    assert images["webp_named.png"].storage_key.endswith("/original.webp")


def test_colour_modes_become_rgb_with_transparency_on_white(ctx):
    ds = service.create_dataset(ctx, name="Modes")
    cmyk_src = pattern(12)
    grey_src = pattern(13, mode="L")
    report = add(ctx, ds.id, {
        "palette_trns.png": palette_with_transparency(10),
        "grey_alpha.png": la_png(11),
        "cmyk.jpg": encode(cmyk_src.convert("CMYK"), "JPEG", quality=95),
        "sixteen.png": png16(13),
    })
    assert sorted(report.accepted) == ["cmyk.jpg", "grey_alpha.png", "palette_trns.png", "sixteen.png"]
    images = {i.filename: i for i in service.all_images(ctx, ds.id)}
    for name in ("palette_trns.png", "grey_alpha.png"):
        normal = stored(images[name].image_key)
        assert normal.mode == "RGB"
        assert normal.getpixel((5, 5)) == (255, 255, 255), name  # transparent corner -> white
    # The opaque part of the LA image keeps its grey level.
    la = stored(images["grey_alpha.png"].image_key)
    assert la.getpixel((200, 200)) == (pattern(11, mode="L").getpixel((200, 200)),) * 3
    # The opaque part of the palette image keeps its palette colour.
    trns = Image.open(io.BytesIO(palette_with_transparency(10))).convert("RGBA")
    assert stored(images["palette_trns.png"].image_key).getpixel((200, 200)) == trns.getpixel((200, 200))[:3]
    # 16-bit grey: the top byte of each sample, exactly (stored losslessly as PNG).
    sixteen = stored(images["sixteen.png"].image_key)
    assert sixteen.mode == "RGB" and images["sixteen.png"].image_key.endswith(".png")
    assert np.array_equal(np.asarray(sixteen)[:, :, 0], np.asarray(grey_src))
    # CMYK: converted to the RGB colours it was made from (JPEG loss aside).
    cmyk = stored(images["cmyk.jpg"].image_key)
    assert cmyk.mode == "RGB"
    assert np.abs(np.asarray(cmyk, dtype=int) - np.asarray(cmyk_src, dtype=int)).mean() < 6
    # Thumbnails exist for every mode and are WebP.
    assert all(stored(i.thumb_key).format == "WEBP" for i in images.values())


def test_decompression_bomb_is_refused_from_the_header_before_decoding(ctx):
    bomb = png_header_bomb(8000, 8000)  # 64 MP declared, 68 bytes on disk, no real pixel data
    assert len(bomb) < 100
    # Decoding it (no pixel limit) fails as a broken file: so a "too many pixels" answer proves
    # the header check came first and nothing was decoded.
    with pytest.raises(Refused, match="truncated or corrupt"):
        normalise(bomb, Limits(max_bytes=10**9, max_pixels=10**12, min_side=1))
    ds = service.create_dataset(ctx, name="Bombs")
    report = add(ctx, ds.id, {"bomb.png": bomb, "giant.png": png_header_bomb(30000, 30000), "fine.png": png(20)})
    assert report.accepted == ["fine.png"]
    reasons = {r["file"]: r["reason"] for r in report.rejected}
    assert reasons["bomb.png"] == "image is 8000x8000 (64.0 megapixels); the limit is 40 megapixels"
    assert "too many pixels" in reasons["giant.png"] or "900.0 megapixels" in reasons["giant.png"]


def test_pixel_and_side_limits_are_configurable(ctx, studio_env):
    studio_env(max_image_pixels=100_000, min_image_side=300)
    ds = service.create_dataset(ctx, name="Limits")
    report = add(ctx, ds.id, {"big.jpg": jpeg(30, (400, 400)), "short.jpg": jpeg(31, (320, 290)), "ok.jpg": jpeg(32, (310, 310))})
    assert report.accepted == ["ok.jpg"]
    reasons = {r["file"]: r["reason"] for r in report.rejected}
    assert reasons["big.jpg"] == "image is 400x400 (0.2 megapixels); the limit is 0.1 megapixels"
    assert reasons["short.jpg"] == "image is 320x290; the short side must be at least 300 px"


def test_originals_that_need_no_change_are_not_re_encoded(ctx):
    from tests.datasets.imagegen import jpeg_rotated

    ds = service.create_dataset(ctx, name="AsIs")
    keyed = pattern(40)
    report = add(ctx, ds.id, {
        "plain.png": png(41),
        "plain.webp": encode(pattern(42), "WEBP", quality=90),
        "upright.jpg": jpeg(43),
        "turned.jpg": jpeg_rotated(44),
        "colour_key.png": encode(keyed, "PNG", transparency=keyed.getpixel((0, 0))),  # RGB + tRNS
    })
    assert len(report.accepted) == 5
    images = {i.filename: i for i in service.all_images(ctx, ds.id)}
    # Upright opaque RGB: the trainer reads the original bytes themselves.
    for name in ("plain.png", "plain.webp", "upright.jpg"):
        assert images[name].image_key == images[name].storage_key, name
    # Rotated, or with a transparent colour key: a normalised copy beside the original.
    for name in ("turned.jpg", "colour_key.png"):
        assert images[name].image_key != images[name].storage_key, name
    assert stored(images["turned.jpg"].image_key).size == (300, 400)
    assert stored(images["colour_key.png"].image_key).getpixel((0, 0)) == (255, 255, 255)


def test_a_phone_mpo_photo_is_a_jpeg(ctx):
    """Many phones write MPO (a JPEG plus a depth/stereo frame): accepted as the JPEG it starts with."""
    ds = service.create_dataset(ctx, name="Phone")
    buf = io.BytesIO()
    pattern(50).save(buf, "MPO", save_all=True, append_images=[pattern(51)])
    report = add(ctx, ds.id, {"IMG_0001.JPG": buf.getvalue(), "next.jpg": jpeg(52)})
    assert sorted(report.accepted) == ["IMG_0001.JPG", "next.jpg"]
    img = next(i for i in service.all_images(ctx, ds.id) if i.filename == "IMG_0001.JPG")
    assert img.storage_key.endswith("/original.jpg") and (img.width, img.height) == (320, 288)
