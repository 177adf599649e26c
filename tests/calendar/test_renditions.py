"""PNG and WebP images reach Instagram as a JPEG rendition the Graph API really downloads (S3 storage)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from backend.calendar import service
from backend.generation.service import asset_bytes, create_asset_from_bytes, get_asset
from backend.publishing.service import RENDITION_FILE, publish_target
from backend.storage import get_storage, object_key
from tests.calendar.conftest import TOKEN
from tests.calendar.test_instagram import _claimed, _target

RED = (220, 30, 40)


def _half_transparent(fmt: str, w: int = 40, h: int = 50) -> bytes:
    """Left half fully transparent, right half opaque red."""
    im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    im.paste(Image.new("RGBA", (w - w // 2, h), (*RED, 255)), (w // 2, 0))
    buf = io.BytesIO()
    im.save(buf, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue()


def _asset(ctx, fmt: str, data: bytes):  # type: ignore[no-untyped-def]
    w, h = Image.open(io.BytesIO(data)).size
    return create_asset_from_bytes(ctx, kind="image", data=data, filename=f"gen.{fmt.lower()}", mime=f"image/{fmt.lower()}",
                                   width=w, height=h, params={})


@pytest.fixture
def fetching_ig(ctx, s3_env, studio_env, influencer, graph_factory):  # type: ignore[no-untyped-def]
    """A Graph server that downloads every media URL, and the studio storing on S3 (presigned URLs)."""
    from backend.publishing.accounts import create_account

    srv = graph_factory(fetch_media=True)
    studio_env(instagram_graph_url=srv.url + "/v21.0", publish_poll_interval_s="0.02", publish_http_timeout_s="5")
    acc = create_account(ctx, name="mia ig", kind="instagram", influencer_id=influencer.id,
                         ig_user_id=srv.ig_user_id, access_token=TOKEN)
    return srv, acc


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_are_published_as_a_jpeg_rendition_flattened_on_white(ctx, influencer, fetching_ig, fmt):
    srv, acc = fetching_ig
    original = _half_transparent(fmt)
    asset = _asset(ctx, fmt, original)
    target_id = _claimed(ctx, influencer, acc, assets=[asset.id])

    assert publish_target(target_id)["status"] == "published"

    (cid,) = srv.containers
    url = srv.containers[cid]["image_url"]
    assert url.startswith("http://127.0.0.1:") and f"/{RENDITION_FILE}?" in url  # presigned S3 URL of the rendition
    content_type, body = srv.fetched[cid]
    assert content_type == "image/jpeg"
    with Image.open(io.BytesIO(body)) as im:
        assert im.format == "JPEG" and im.mode == "RGB" and im.size == (40, 50)
        left, right = im.getpixel((5, 25)), im.getpixel((35, 25))
    assert all(c >= 245 for c in left), left  # transparency flattened on white, not black
    assert all(abs(a - b) <= 12 for a, b in zip(right, RED, strict=True)), right  # the picture itself kept
    # The original asset is untouched; the rendition lives under the asset's key prefix.
    assert asset_bytes(ctx, asset.id) == original and get_asset(ctx, asset.id).mime == f"image/{fmt.lower()}"
    assert get_storage().exists(object_key(ctx.tenant_id, "images", asset.id, RENDITION_FILE))
    steps = [(a.step, a.outcome) for a in service.attempts(ctx, target_id)]
    assert ("rendition", "ok") in steps and _target(ctx, target_id).status == "published"


def test_carousel_of_pngs_reuses_renditions_and_a_jpeg_is_sent_as_is(ctx, influencer, fetching_ig):
    srv, acc = fetching_ig
    png = _asset(ctx, "PNG", _half_transparent("PNG", 50, 50))
    buf = io.BytesIO()
    Image.new("RGB", (50, 50), RED).save(buf, format="JPEG")
    jpg = _asset(ctx, "JPEG", buf.getvalue())
    first = _claimed(ctx, influencer, acc, media_kind="carousel", assets=[png.id, jpg.id])
    assert publish_target(first)["status"] == "published"
    children = [c for c in srv.containers.values() if c.get("is_carousel_item") == "true"]
    assert f"/{RENDITION_FILE}?" in children[0]["image_url"] and "/gen.jpeg?" in children[1]["image_url"]
    assert all(Image.open(io.BytesIO(b)).format == "JPEG" for _t, b in srv.fetched.values())
    # A second post of the same PNG reuses the stored rendition instead of encoding again.
    second = _claimed(ctx, influencer, acc, assets=[png.id])
    assert publish_target(second)["status"] == "published"
    assert ("rendition", "ok") not in [(a.step, a.outcome) for a in service.attempts(ctx, second)]
