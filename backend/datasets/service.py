"""Datasets and their images: create, list, rename, delete, curate, and what the trainer reads."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from backend.context import Ctx
from backend.datasets.buckets import bucket_counts
from backend.datasets.models import (
    BucketCount,
    Dataset,
    DatasetImage,
    DatasetImageOut,
    DatasetIn,
    DatasetOut,
    DatasetStats,
    TrainingItem,
)
from backend.db import session_scope, utcnow
from backend.errors import Conflict, InvalidInput, NotFound
from backend.storage import get_storage
from backend.storage.keys import prefix_of
from backend.tenancy import get_owned
from backend.validation import parse

SortKey = Literal["name", "created", "images"]
SORTS: tuple[str, ...] = ("name", "created", "images")
FEW_IMAGES = 10


# -- helpers ----------------------------------------------------------------------------------------
def _own(s, ctx: Ctx, dataset_id: str) -> Dataset:  # type: ignore[no-untyped-def]
    return get_owned(s, Dataset, ctx, dataset_id, kind="dataset")


def _own_image(s, ctx: Ctx, image_id: str) -> DatasetImage:  # type: ignore[no-untyped-def]
    return get_owned(s, DatasetImage, ctx, image_id, kind="image")


def _count(s, dataset_id: str) -> int:  # type: ignore[no-untyped-def]
    return s.scalar(select(func.count()).select_from(DatasetImage).where(DatasetImage.dataset_id == dataset_id)) or 0


def _out(ds: Dataset, image_count: int) -> DatasetOut:
    return DatasetOut.model_validate(ds, from_attributes=True).model_copy(update={"image_count": image_count})


def _image_out(img: DatasetImage) -> DatasetImageOut:
    return DatasetImageOut.model_validate(img, from_attributes=True)


def _name_taken(s, ctx: Ctx, name: str, *, except_id: str | None = None) -> bool:  # type: ignore[no-untyped-def]
    conds = [Dataset.tenant_id == ctx.tenant_id, func.lower(Dataset.name) == name.lower()]
    if except_id:
        conds.append(Dataset.id != except_id)
    return s.scalar(select(func.count()).select_from(Dataset).where(*conds)) > 0


# -- datasets ---------------------------------------------------------------------------------------
def create_dataset(
    ctx: Ctx,
    *,
    name: str,
    trigger_word: str = "",
    class_word: str = "",
    description: str = "",
    default_repeats: int = 10,
) -> DatasetOut:
    """A new, empty dataset; the name is unique in the workspace (case-insensitively)."""
    ctx.require("editor")
    data = parse(
        DatasetIn,
        {"name": name, "trigger_word": trigger_word, "class_word": class_word, "description": description, "default_repeats": default_repeats},
        what="invalid dataset",
    )
    try:
        with session_scope() as s:
            if _name_taken(s, ctx, data.name):
                raise Conflict(f"a dataset named {data.name!r} already exists")
            ds = Dataset(tenant_id=ctx.tenant_id, **data.model_dump())
            s.add(ds)
            s.flush()
            return _out(ds, 0)
    except IntegrityError:
        raise Conflict(f"a dataset named {data.name!r} already exists") from None


def get_dataset(ctx: Ctx, dataset_id: str) -> DatasetOut:
    """One dataset of the caller's workspace, with its image count."""
    with session_scope() as s:
        ds = _own(s, ctx, dataset_id)
        return _out(ds, _count(s, ds.id))


def find_dataset(ctx: Ctx, name: str) -> DatasetOut | None:
    """The workspace's dataset called ``name`` (case-insensitive), or None."""
    with session_scope() as s:
        ds = s.scalars(select(Dataset).where(Dataset.tenant_id == ctx.tenant_id, func.lower(Dataset.name) == name.strip().lower())).first()
        return _out(ds, _count(s, ds.id)) if ds else None


def list_datasets(
    ctx: Ctx,
    *,
    sort: SortKey = "created",
    descending: bool | None = None,
    search: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[DatasetOut], int]:
    """A page of the workspace's datasets and the total; sorted by name, creation or image count.

    ``descending`` defaults to newest / largest first for created / images, A-Z for name.
    """
    if sort not in SORTS:
        raise InvalidInput("unknown sort", [f"{sort!r} is not one of {', '.join(SORTS)}"])
    if limit < 1 or offset < 0:
        raise InvalidInput("invalid page", [f"limit={limit} offset={offset}"])
    desc = (sort != "name") if descending is None else descending
    counts = (
        select(DatasetImage.dataset_id, func.count().label("n"))
        .where(DatasetImage.tenant_id == ctx.tenant_id)
        .group_by(DatasetImage.dataset_id)
        .subquery()
    )
    n = func.coalesce(counts.c.n, 0)
    conds = [Dataset.tenant_id == ctx.tenant_id]
    if search:
        conds.append(func.lower(Dataset.name).contains(search.strip().lower(), autoescape=True))
    column = {"name": func.lower(Dataset.name), "created": Dataset.created_at, "images": n}[sort]
    order = [column.desc() if desc else column.asc(), Dataset.id]
    with session_scope() as s:
        total = s.scalar(select(func.count()).select_from(Dataset).where(*conds)) or 0
        rows = s.execute(
            select(Dataset, n).outerjoin(counts, counts.c.dataset_id == Dataset.id).where(*conds).order_by(*order).limit(limit).offset(offset)
        ).all()
        return [_out(ds, count) for ds, count in rows], total


def update_dataset(ctx: Ctx, dataset_id: str, **changes: Any) -> DatasetOut:
    """Change name (rename), trigger_word, class_word, description or default_repeats."""
    ctx.require("editor")
    allowed = set(DatasetIn.model_fields)
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput("unknown dataset fields", sorted(unknown))
    with session_scope() as s:
        ds = _own(s, ctx, dataset_id)
        current = {k: getattr(ds, k) for k in allowed}
        data = parse(DatasetIn, current | {k: v for k, v in changes.items() if v is not None}, what="invalid dataset")
        if data.name.lower() != ds.name.lower() and _name_taken(s, ctx, data.name, except_id=ds.id):
            raise Conflict(f"a dataset named {data.name!r} already exists")
        for k, v in data.model_dump().items():
            setattr(ds, k, v)
        ds.updated_at = utcnow()
        s.flush()
        return _out(ds, _count(s, ds.id))


def rename_dataset(ctx: Ctx, dataset_id: str, name: str) -> DatasetOut:
    """Give the dataset a new (unique) name."""
    return update_dataset(ctx, dataset_id, name=name)


def delete_dataset(ctx: Ctx, dataset_id: str) -> int:
    """Delete the dataset, its image rows and every stored file; returns the objects removed.

    Rows go first in one transaction, so a storage hiccup cannot leave rows pointing at nothing;
    an ingest still running finds its dataset gone and removes what it wrote (see ingest).
    """
    ctx.require("editor")
    with session_scope() as s:
        ds = _own(s, ctx, dataset_id)
        s.execute(delete(DatasetImage).where(DatasetImage.dataset_id == ds.id, DatasetImage.tenant_id == ctx.tenant_id))
        s.delete(ds)
    _cancel_ingests(ctx, dataset_id)
    return get_storage().delete_prefix(prefix_of(ctx.tenant_id, "datasets", dataset_id))


def _cancel_ingests(ctx: Ctx, dataset_id: str) -> None:
    from backend.jobs import service as jobs

    active, _ = jobs.list_jobs(ctx, status=["queued", "running"], job_type="dataset.ingest", subject_id=dataset_id, limit=100)
    for job in active:
        try:
            jobs.cancel(ctx, job.id)
        except Conflict:
            pass  # it finished meanwhile


# -- images -----------------------------------------------------------------------------------------
def list_images(ctx: Ctx, dataset_id: str, *, limit: int = 50, offset: int = 0) -> tuple[list[DatasetImageOut], int]:
    """A page of the dataset's images in upload order, and the total."""
    with session_scope() as s:
        _own(s, ctx, dataset_id)
        conds = [DatasetImage.dataset_id == dataset_id, DatasetImage.tenant_id == ctx.tenant_id]
        total = s.scalar(select(func.count()).select_from(DatasetImage).where(*conds)) or 0
        rows = s.scalars(select(DatasetImage).where(*conds).order_by(DatasetImage.created_at, DatasetImage.filename, DatasetImage.id).limit(limit).offset(offset))
        return [_image_out(i) for i in rows], total


def all_images(ctx: Ctx, dataset_id: str) -> list[DatasetImageOut]:
    """Every image of the dataset in upload order."""
    with session_scope() as s:
        _own(s, ctx, dataset_id)
        rows = s.scalars(
            select(DatasetImage)
            .where(DatasetImage.dataset_id == dataset_id, DatasetImage.tenant_id == ctx.tenant_id)
            .order_by(DatasetImage.created_at, DatasetImage.filename, DatasetImage.id)
        )
        return [_image_out(i) for i in rows]


def get_image(ctx: Ctx, image_id: str) -> DatasetImageOut:
    with session_scope() as s:
        return _image_out(_own_image(s, ctx, image_id))


def thumbnails(ctx: Ctx, image_ids: Sequence[str]) -> dict[str, bytes]:
    """WebP thumbnails of the caller's images, by id (others' ids are NotFound)."""
    with session_scope() as s:
        keys = {i: _own_image(s, ctx, i).thumb_key for i in image_ids}
    storage = get_storage()
    return {i: storage.get_bytes(k) for i, k in keys.items()}


def image_bytes(ctx: Ctx, image_id: str) -> bytes:
    """The normalised image (what the trainer reads)."""
    img = get_image(ctx, image_id)
    return get_storage().get_bytes(img.image_key)


def _clean_caption(caption: str | None) -> str | None:
    if caption is None:
        return None
    caption = " ".join(caption.replace("\r", " ").replace("\n", " ").split())
    if len(caption) > 10_000:
        raise InvalidInput("caption too long", [f"{len(caption)} characters; the limit is 10000"])
    return caption or None


def set_caption(ctx: Ctx, image_id: str, caption: str | None) -> DatasetImageOut:
    """Set (or clear, with None or "") one image's caption."""
    ctx.require("editor")
    with session_scope() as s:
        img = _own_image(s, ctx, image_id)
        img.caption = _clean_caption(caption)
        _touch(s, img.dataset_id)
        return _image_out(img)


def set_repeats(ctx: Ctx, image_id: str, repeats: int | None) -> DatasetImageOut:
    """Set one image's repeats (None: use the dataset's default)."""
    ctx.require("editor")
    if repeats is not None and not 1 <= int(repeats) <= 1000:
        raise InvalidInput("invalid repeats", [f"{repeats} is not between 1 and 1000"])
    with session_scope() as s:
        img = _own_image(s, ctx, image_id)
        img.repeats = None if repeats is None else int(repeats)
        _touch(s, img.dataset_id)
        return _image_out(img)


def _touch(s, dataset_id: str) -> None:  # type: ignore[no-untyped-def]
    ds = s.get(Dataset, dataset_id)
    if ds is not None:
        ds.updated_at = utcnow()


def _image_keys(img: DatasetImage | DatasetImageOut) -> set[str]:
    return {img.storage_key, img.image_key, img.thumb_key}


def remove_images(ctx: Ctx, dataset_id: str, image_ids: Sequence[str]) -> int:
    """Remove images from the dataset, files included; returns how many."""
    ctx.require("editor")
    with session_scope() as s:
        _own(s, ctx, dataset_id)
        rows = list(s.scalars(select(DatasetImage).where(DatasetImage.id.in_(list(image_ids)), DatasetImage.dataset_id == dataset_id, DatasetImage.tenant_id == ctx.tenant_id)))
        found = {r.id for r in rows}
        missing = [i for i in image_ids if i not in found]
        if missing:
            raise NotFound("image", missing[0])
        keys = set().union(*(_image_keys(r) for r in rows)) if rows else set()
        for r in rows:
            s.delete(r)
        _touch(s, dataset_id)
    storage = get_storage()
    for key in keys:
        storage.delete(key)
    return len(rows)


BulkOp = Literal["add_trigger", "prefix", "suffix", "replace", "clear"]


def bulk_caption(
    ctx: Ctx,
    dataset_id: str,
    op: BulkOp,
    *,
    text: str = "",
    find: str = "",
    replace: str = "",
    image_ids: Sequence[str] | None = None,
) -> int:
    """Edit many captions at once; returns how many changed.

    ``add_trigger``: put the trigger word first where the caption lacks it (an empty caption
    becomes the trigger); ``prefix``/``suffix``: add ``text`` (comma-joined, skipped where already
    there); ``replace``: every ``find`` becomes ``replace``; ``clear``: remove the captions.
    """
    ctx.require("editor")
    if op not in ("add_trigger", "prefix", "suffix", "replace", "clear"):
        raise InvalidInput("unknown caption operation", [str(op)])
    text = text.strip()
    if op in ("prefix", "suffix") and not text:
        raise InvalidInput("nothing to add", ["text is empty"])
    if op == "replace" and not find:
        raise InvalidInput("nothing to find", ["find is empty"])
    changed = 0
    with session_scope() as s:
        ds = _own(s, ctx, dataset_id)
        if op == "add_trigger" and not ds.trigger_word:
            raise InvalidInput("the dataset has no trigger word", ["set a trigger word first"])
        conds = [DatasetImage.dataset_id == dataset_id, DatasetImage.tenant_id == ctx.tenant_id]
        if image_ids is not None:
            conds.append(DatasetImage.id.in_(list(image_ids)))
        for img in s.scalars(select(DatasetImage).where(*conds)):
            new = _apply(op, img.caption or "", trigger=ds.trigger_word, text=text, find=find, replace=replace)
            new_caption = _clean_caption(new)
            if new_caption != img.caption:
                img.caption = new_caption
                changed += 1
        if changed:
            ds.updated_at = utcnow()
    return changed


def _has_word(caption: str, word: str) -> bool:
    tokens = [t.strip(" .;:!?") for part in caption.lower().split(",") for t in part.split()]
    return word.lower() in tokens


def _apply(op: str, caption: str, *, trigger: str, text: str, find: str, replace: str) -> str:
    if op == "add_trigger":
        if _has_word(caption, trigger):
            return caption
        return f"{trigger}, {caption}" if caption else trigger
    if op == "prefix":
        if caption.startswith(text):
            return caption
        return f"{text}, {caption}" if caption else text
    if op == "suffix":
        if caption.endswith(text):
            return caption
        return f"{caption}, {text}" if caption else text
    if op == "replace":
        return caption.replace(find, replace)
    return ""


# -- what the trainer reads --------------------------------------------------------------------------
def training_items(ctx: Ctx, dataset_id: str) -> list[TrainingItem]:
    """Every image with its caption ("" when none) and resolved repeats, in upload order."""
    ds = get_dataset(ctx, dataset_id)
    return [
        TrainingItem(
            image_key=i.image_key,
            caption=i.caption or "",
            repeats=i.repeats if i.repeats is not None else ds.default_repeats,
            width=i.width,
            height=i.height,
            filename=i.filename,
        )
        for i in all_images(ctx, dataset_id)
    ]


def dataset_hash(ctx: Ctx, dataset_id: str) -> str:
    """A stable hash of the images' pixels, captions and resolved repeats (order-independent)."""
    ds = get_dataset(ctx, dataset_id)
    lines = sorted(
        f"{i.pixel_hash}\t{i.caption or ''}\t{i.repeats if i.repeats is not None else ds.default_repeats}"
        for i in all_images(ctx, dataset_id)
    )
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8") + b"\n")
    return h.hexdigest()


def stats(ctx: Ctx, dataset_id: str, *, resolution: int = 512) -> DatasetStats:
    """Count, resolutions, caption coverage, the trainer's buckets and advice."""
    ds = get_dataset(ctx, dataset_id)
    images = all_images(ctx, dataset_id)
    n = len(images)
    captioned = sum(1 for i in images if i.caption)
    sizes = [(i.width, i.height) for i in images]
    buckets = [BucketCount(width=w, height=h, count=c) for (w, h), c in bucket_counts(sizes, resolution).items()]
    warnings: list[str] = []
    if n == 0:
        warnings.append("the dataset has no images")
    elif n < FEW_IMAGES:
        warnings.append(f"fewer than {FEW_IMAGES} images ({n}): a LoRA learns the character better from 15-30 varied photos")
    if n and captioned < n:
        missing = n - captioned
        warnings.append(f"{missing} image{'s' if missing != 1 else ''} {'have' if missing != 1 else 'has'} no caption")
    small = sum(1 for w, h in sizes if min(w, h) < resolution)
    if small:
        warnings.append(f"{small} image{'s are' if small != 1 else ' is'} smaller than {resolution} px on the short side and will be upscaled")
    flagged = sum(1 for i in images if any(w.startswith("near-duplicate") for w in i.warnings))
    if flagged:
        warnings.append(f"{flagged} near-duplicate image{'s' if flagged != 1 else ''} (see the image warnings)")
    if not ds.trigger_word:
        warnings.append("no trigger word set")
    areas = [w * h for w, h in sizes]
    return DatasetStats(
        count=n,
        min_width=min((w for w, _ in sizes), default=None),
        min_height=min((h for _, h in sizes), default=None),
        max_width=max((w for w, _ in sizes), default=None),
        max_height=max((h for _, h in sizes), default=None),
        mean_width=round(sum(w for w, _ in sizes) / n, 1) if n else None,
        mean_height=round(sum(h for _, h in sizes) / n, 1) if n else None,
        min_pixels=min(areas, default=None),
        max_pixels=max(areas, default=None),
        captioned=captioned,
        caption_coverage=captioned / n if n else 0.0,
        resolution=resolution,
        buckets=buckets,
        total_repeats=sum(i.repeats if i.repeats is not None else ds.default_repeats for i in images),
        warnings=warnings,
    )
