"""Influencers and assets: CRUD, filters, tenancy (another workspace's object is not found)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image

from backend.context import Ctx
from backend.db import utcnow
from backend.errors import InvalidInput, NotFound, PermissionDenied
from backend.generation import service as assets
from backend.influencers import service as influencers


def png(w: int = 64, h: int = 48, colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(out, format="PNG")
    return out.getvalue()


def test_influencer_crud_and_validation(ctx):
    inf = influencers.create_influencer(
        ctx, name="Mia", handle="@mia.travels", topics="travel, food", default_hashtags=["travel", "#food"],
        platforms=["Instagram"], words_to_avoid=["cheap"], auto_approve=True,
    )
    assert inf.handle == "mia.travels"
    assert inf.topics == ["travel", "food"]
    assert inf.default_hashtags == ["#travel", "#food"]
    assert inf.platforms == ["instagram"] and inf.auto_approve is True
    upd = influencers.update_influencer(ctx, inf.id, tone="warm, witty", style_profile="Short sentences.")
    assert upd.tone == "warm, witty" and upd.name == "Mia"
    assert [i.id for i in influencers.list_influencers(ctx)] == [inf.id]
    text = influencers.persona_text(upd)
    assert "Mia" in text and "Short sentences." in text and "cheap" in text
    with pytest.raises(InvalidInput):
        influencers.create_influencer(ctx, name="  ")
    with pytest.raises(InvalidInput):
        influencers.create_influencer(ctx, name="X", platforms=["myspace"])
    with pytest.raises(InvalidInput):
        influencers.create_influencer(ctx, name="X", unknown_field=1)
    influencers.delete_influencer(ctx, inf.id)
    with pytest.raises(NotFound):
        influencers.get_influencer(ctx, inf.id)


def test_influencer_tenancy(ctx, other_ctx):
    inf = influencers.create_influencer(ctx, name="Mia")
    with pytest.raises(NotFound):
        influencers.get_influencer(other_ctx, inf.id)
    with pytest.raises(NotFound):
        influencers.update_influencer(other_ctx, inf.id, bio="hijacked")
    with pytest.raises(NotFound):
        influencers.delete_influencer(other_ctx, inf.id)
    with pytest.raises(NotFound):
        influencers.add_style_document(other_ctx, inf.id, filename="a.txt", data=b"hello")
    assert influencers.list_influencers(other_ctx) == []
    viewer = Ctx(tenant_id=ctx.tenant_id, role="viewer")
    with pytest.raises(PermissionDenied):
        influencers.update_influencer(viewer, inf.id, bio="x")


def test_asset_roundtrip_filters_rating_delete(ctx, other_ctx):
    inf = influencers.create_influencer(ctx, name="Mia")
    params = {"seed": 7, "steps": 4, "base_model": "demo-sd15", "loras": [{"id": "lora1", "strength": 0.8}]}
    a = assets.create_asset_from_bytes(ctx, kind="image", data=png(), filename="../../evil name.png", mime="image/png",
                                       width=64, height=48, params=params, prompt="A Sunset over sea",
                                       influencer_id=inf.id, job_id="job1")
    b = assets.create_asset_from_bytes(ctx, kind="image", data=png(colour="blue"), filename="b.png", mime="image/png",
                                       width=64, height=48, params={"seed": 8}, prompt="portrait in a cafe")
    assert a.storage_key.startswith(f"{ctx.tenant_id}/images/{a.id}/") and ".." not in a.storage_key
    assert a.thumb_key and assets.asset_bytes(ctx, a.id) == png()
    assert Image.open(io.BytesIO(assets.asset_bytes(ctx, a.id, thumbnail=True))).format == "JPEG"
    assert assets.asset_url(ctx, a.id).startswith("file://")
    assert [x.id for x in assets.list_assets(ctx)] == [b.id, a.id]
    assert [x.id for x in assets.list_assets(ctx, lora_id="lora1")] == [a.id]
    assert [x.id for x in assets.list_assets(ctx, text="sunset")] == [a.id]
    assert [x.id for x in assets.list_assets(ctx, influencer_id=inf.id)] == [a.id]
    assert assets.list_assets(ctx, since=utcnow() + timedelta(hours=1)) == []
    assets.rate_asset(ctx, b.id, 5)
    assert [x.id for x in assets.list_assets(ctx, min_rating=4)] == [b.id]
    assert assets.count_assets(ctx, text="cafe") == 1
    assert assets.gallery_loras(ctx) == ["lora1"]
    with pytest.raises(InvalidInput):
        assets.rate_asset(ctx, b.id, 9)
    # another workspace sees nothing and can touch nothing
    assert assets.list_assets(other_ctx) == []
    for fn in (assets.get_asset, assets.asset_bytes, assets.asset_url, assets.delete_asset):
        with pytest.raises(NotFound):
            fn(other_ctx, a.id)
    with pytest.raises(NotFound):
        assets.rate_asset(other_ctx, a.id, 1)
    assets.delete_asset(ctx, a.id)
    with pytest.raises(NotFound):
        assets.get_asset(ctx, a.id)
    with pytest.raises(InvalidInput):
        assets.create_asset_from_bytes(ctx, kind="gif", data=b"x", filename="x", mime="x", width=1, height=1, params={})
