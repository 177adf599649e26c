"""Assets: storing generated media with its parameters, and the gallery's queries."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from backend.context import Ctx
from backend.db import new_id, session_scope
from backend.errors import InvalidInput
from backend.generation.models import ASSET_KINDS, Asset, AssetOut
from backend.storage import get_storage, object_key
from backend.storage.keys import prefix_of
from backend.tenancy import get_owned

THUMB_SIDE = 384
_STORAGE_KIND = {"image": "images", "video": "videos"}


def _out(a: Asset) -> AssetOut:
    return AssetOut.model_validate(a, from_attributes=True)


def _own(s, ctx: Ctx, asset_id: str) -> Asset:  # type: ignore[no-untyped-def]
    return get_owned(s, Asset, ctx, asset_id, kind="asset")


def image_thumbnail(data: bytes, side: int = THUMB_SIDE) -> bytes:
    """A JPEG thumbnail no larger than ``side`` on its longer edge."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
        im.thumbnail((side, side))
        out = io.BytesIO()
        im.save(out, format="JPEG", quality=85)
        return out.getvalue()


def _lora_ids(params: dict[str, Any]) -> str:
    ids = [str(x.get("id")) for x in (params.get("loras") or []) if isinstance(x, dict) and x.get("id")]
    return ("," + ",".join(ids) + ",") if ids else ""


def create_asset_from_bytes(
    ctx: Ctx,
    *,
    kind: str,
    data: bytes,
    filename: str,
    mime: str,
    width: int,
    height: int,
    params: dict[str, Any],
    prompt: str = "",
    negative_prompt: str = "",
    influencer_id: str | None = None,
    job_id: str | None = None,
    duration_s: float | None = None,
    thumb: bytes | None = None,
    source_asset_id: str | None = None,
) -> AssetOut:
    """Store ``data`` as a new asset (images get a thumbnail) and record its parameters."""
    ctx.require("editor")
    if kind not in ASSET_KINDS:
        raise InvalidInput("invalid asset kind", [f"{kind!r} is not one of {', '.join(ASSET_KINDS)}"])
    if not data:
        raise InvalidInput("empty asset", [filename])
    asset_id = new_id()
    storage = get_storage()
    key = object_key(ctx.tenant_id, _STORAGE_KIND[kind], asset_id, filename)
    if thumb is None and kind == "image":
        thumb = image_thumbnail(data)
    thumb_key = object_key(ctx.tenant_id, _STORAGE_KIND[kind], asset_id, "thumb.jpg") if thumb else None
    storage.put_bytes(key, data, content_type=mime)
    if thumb and thumb_key:
        storage.put_bytes(thumb_key, thumb, content_type="image/jpeg")
    with session_scope() as s:
        a = Asset(
            id=asset_id, tenant_id=ctx.tenant_id, kind=kind, storage_key=key, thumb_key=thumb_key, mime=mime,
            width=int(width), height=int(height), duration_s=duration_s, size=len(data), prompt=prompt or "",
            negative_prompt=negative_prompt or "", params=dict(params), base_model=str(params.get("base_model") or ""),
            lora_ids=_lora_ids(params), influencer_id=influencer_id, job_id=job_id, source_asset_id=source_asset_id,
        )
        s.add(a)
        s.flush()
        s.refresh(a)
        return _out(a)


def get_asset(ctx: Ctx, asset_id: str) -> AssetOut:
    """One asset of the caller's workspace."""
    with session_scope() as s:
        return _out(_own(s, ctx, asset_id))


def asset_bytes(ctx: Ctx, asset_id: str, *, thumbnail: bool = False) -> bytes:
    """The asset's file (or its thumbnail, falling back to the file)."""
    return read_asset(get_asset(ctx, asset_id), thumbnail=thumbnail)


def read_asset(a: AssetOut, *, thumbnail: bool = False) -> bytes:
    """The file of an asset already read from the caller's workspace (no second query)."""
    return get_storage().get_bytes(a.thumb_key if thumbnail and a.thumb_key else a.storage_key)


def asset_url(ctx: Ctx, asset_id: str, *, expires_s: int | None = None) -> str:
    """A URL a client outside the studio can fetch (presigned on S3)."""
    a = get_asset(ctx, asset_id)
    return get_storage().url(a.storage_key, expires_s=expires_s)


def _filters(
    ctx: Ctx,
    *,
    kind: str | None,
    influencer_id: str | None,
    lora_id: str | None,
    since: datetime | None,
    until: datetime | None,
    min_rating: int | None,
    text: str | None,
    job_id: str | None,
    ids: list[str] | None,
) -> list[Any]:
    conds: list[Any] = [Asset.tenant_id == ctx.tenant_id]
    if kind:
        conds.append(Asset.kind == kind)
    if influencer_id:
        conds.append(Asset.influencer_id == influencer_id)
    if lora_id:
        conds.append(Asset.lora_ids.contains(f",{lora_id},", autoescape=True))
    if since:
        conds.append(Asset.created_at >= since)
    if until:
        conds.append(Asset.created_at < until)
    if min_rating:
        conds.append(Asset.rating >= min_rating)
    if text and text.strip():
        conds.append(func.lower(Asset.prompt).contains(text.strip().lower(), autoescape=True))
    if job_id:
        conds.append(Asset.job_id == job_id)
    if ids is not None:
        conds.append(Asset.id.in_(ids))
    return conds


def list_assets(
    ctx: Ctx,
    *,
    kind: str | None = None,
    influencer_id: str | None = None,
    lora_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_rating: int | None = None,
    text: str | None = None,
    job_id: str | None = None,
    ids: list[str] | None = None,
    limit: int = 60,
    offset: int = 0,
) -> list[AssetOut]:
    """The workspace's assets matching every given filter, newest first."""
    conds = _filters(ctx, kind=kind, influencer_id=influencer_id, lora_id=lora_id, since=since, until=until,
                     min_rating=min_rating, text=text, job_id=job_id, ids=ids)
    with session_scope() as s:
        rows = s.scalars(select(Asset).where(*conds).order_by(Asset.created_at.desc(), Asset.id).limit(limit).offset(offset))
        return [_out(a) for a in rows]


def count_assets(ctx: Ctx, **filters: Any) -> int:
    """How many assets match ``filters`` (same names as list_assets)."""
    keys = ("kind", "influencer_id", "lora_id", "since", "until", "min_rating", "text", "job_id", "ids")
    conds = _filters(ctx, **{k: filters.get(k) for k in keys})
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(Asset).where(*conds)) or 0)


def gallery_loras(ctx: Ctx) -> list[str]:
    """Every LoRA id used by an asset of the workspace (for the gallery's filter)."""
    with session_scope() as s:
        rows = s.scalars(select(Asset.lora_ids).where(Asset.tenant_id == ctx.tenant_id, Asset.lora_ids != "").distinct())
        return sorted({x for r in rows for x in r.split(",") if x})


def rate_asset(ctx: Ctx, asset_id: str, rating: int | None) -> AssetOut:
    """Set the 1..5 rating (None clears it)."""
    ctx.require("editor")
    if rating is not None and not 1 <= int(rating) <= 5:
        raise InvalidInput("invalid rating", [f"{rating} is not between 1 and 5"])
    with session_scope() as s:
        a = _own(s, ctx, asset_id)
        a.rating = None if rating is None else int(rating)
        s.flush()
        return _out(a)


def delete_asset(ctx: Ctx, asset_id: str) -> None:
    """Delete the asset's row and files."""
    ctx.require("editor")
    with session_scope() as s:
        a = _own(s, ctx, asset_id)
        kind = _STORAGE_KIND[a.kind]
        s.delete(a)
    get_storage().delete_prefix(prefix_of(ctx.tenant_id, kind, asset_id))
