"""Upload and ingest: raw inputs go to storage, a ``dataset.ingest`` job checks and keeps each file.

``start_upload`` runs in the caller's process (UI, CLI); ``run_ingest`` runs on a cpu worker.
Images are decoded, normalised and stored in a thread pool (Pillow releases the GIL), then a
single ordered pass decides duplicates, so the report is the same whatever the thread timing.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend.context import Ctx
from backend.datasets.archive import (
    MAX_CAPTION_BYTES,
    Entry,
    Rejection,
    ZipSource,
    bounded,
    is_junk,
    kohya_repeats,
    limit_for,
    path_problem,
)
from backend.datasets.images import (
    CONTENT_TYPES,
    Limits,
    Normalised,
    Refused,
    normalise,
)
from backend.datasets.models import Dataset, DatasetImage, IngestReport
from backend.datasets.service import get_dataset
from backend.db import new_id, session_scope
from backend.errors import InvalidInput, NotFound
from backend.jobs.models import JobOut
from backend.jobs.specs import JobSpec, register
from backend.settings import get_settings
from backend.storage import get_storage, object_key
from backend.storage.keys import prefix_of
from backend.tenancy import get_owned

log = logging.getLogger(__name__)
INGEST_JOB = register(JobSpec("dataset.ingest", queue="cpu", max_attempts=3, time_limit_s=6 * 3600, backoff_s=5.0))
NEAR_DUPLICATE_DISTANCE = 6  # of 64 phash bits
ZIP_MAGIC = b"PK\x03\x04"


# -- upload (caller's side) -------------------------------------------------------------------------
@dataclass
class UploadFile:
    """One uploaded input: its name as the user gave it, and its bytes or a local path."""

    name: str
    data: bytes | None = None
    path: Path | None = None

    def head(self, n: int = 4) -> bytes:
        if self.data is not None:
            return self.data[:n]
        assert self.path is not None
        with open(self.path, "rb") as fh:
            return fh.read(n)

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size


def files_from_folder(folder: Path) -> list[UploadFile]:
    """Every regular file under ``folder`` named relative to it; links are listed so ingest refuses them."""
    out: list[UploadFile] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            p = Path(root) / name
            out.append(UploadFile(name=p.relative_to(folder).as_posix(), path=p))
        # A linked folder is not walked into (followlinks=False) but must still be reported.
        for d in dirs:
            if (Path(root) / d).is_symlink():
                out.append(UploadFile(name=(Path(root) / d).relative_to(folder).as_posix(), path=Path(root) / d))
    return out


def start_upload(ctx: Ctx, dataset_id: str, files: Sequence[UploadFile]) -> JobOut:
    """Store the raw inputs (kind ``datasets``) and submit the ingest job on the cpu queue."""
    from backend.jobs import service as jobs

    ctx.require("editor")
    get_dataset(ctx, dataset_id)  # NotFound for another workspace's dataset
    if not files:
        raise InvalidInput("nothing to upload", ["choose image files or a .zip"])
    settings = get_settings()
    storage = get_storage()
    upload_id = new_id()
    manifest: list[dict[str, Any]] = []
    for n, f in enumerate(files):
        item: dict[str, Any] = {"name": f.name, "key": None, "size": None, "archive": False, "problem": None}
        if f.path is not None and (f.path.is_symlink() or not f.path.is_file()):
            item["problem"] = "symbolic link refused" if f.path.is_symlink() else "not a regular file refused"
        elif is_junk(f.name):
            continue  # OS litter, ignored silently
        else:
            size = f.size
            item["size"] = size
            archive = f.head(4) == ZIP_MAGIC
            limit = settings.max_archive_bytes if archive else limit_for(f.name, settings.max_image_bytes)
            if size > limit:
                item["problem"] = f"file is {size} bytes; the limit is {limit} bytes"
            else:
                key = object_key(ctx.tenant_id, "datasets", dataset_id, f"uploads/{upload_id}/{n:05d}_{f.name.rsplit('/', 1)[-1]}")
                if f.data is not None:
                    storage.put_bytes(key, f.data)
                else:
                    assert f.path is not None
                    storage.put_file(key, f.path)
                item.update(key=key, archive=archive)
        manifest.append(item)
    payload = {"dataset_id": dataset_id, "upload_id": upload_id, "files": manifest}
    return jobs.submit(ctx, INGEST_JOB.name, payload, subject_id=dataset_id)


def report_of(job: JobOut) -> IngestReport | None:
    """The per-file report of a finished ingest job (None while it runs or when it failed)."""
    return IngestReport.model_validate(job.result) if job.result and "accepted" in job.result else None


# -- ingest (worker's side) --------------------------------------------------------------------------
@dataclass
class Candidate:
    entry: Entry
    order: int
    caption_entry: Entry | None = None
    repeats: int | None = None
    image_id: str = field(default_factory=new_id)


@dataclass
class Outcome:
    cand: Candidate
    norm: Normalised | None = None
    keys: dict[str, str] = field(default_factory=dict)
    caption: str | None = None
    caption_problem: str | None = None
    refused: str | None = None
    warnings: list[str] = field(default_factory=list)


class IngestCancelled(Exception):
    """The job was cancelled between files; stored objects of this run were removed."""


def _collect(files: list[dict[str, Any]], limits: Limits, tmp: Path) -> tuple[list[Entry], list[Rejection], list[ZipSource]]:
    """Turn the upload manifest into entries to read, refusals and open archives."""
    settings = get_settings()
    storage = get_storage()
    entries: list[Entry] = []
    rejected: list[Rejection] = []
    zips: list[ZipSource] = []
    for n, item in enumerate(files):
        name = item["name"]
        problem = item.get("problem") or path_problem(name)
        if problem:
            rejected.append(Rejection(name, problem))
            continue
        key = item["key"]
        if item.get("archive"):
            local = storage.local_path(key)
            if local is None:
                local = storage.download(key, tmp / f"archive-{n}.zip")
            src = ZipSource(str(local), name, max_bytes=limits.max_bytes, max_total=settings.max_archive_bytes, max_entries=settings.max_archive_entries)
            found, refused = src.scan()
            zips.append(src)
            entries.extend(found)
            rejected.extend(refused)
        else:
            entries.append(Entry(name=name, size=item.get("size"), read=_storage_reader(key, name)))
    return entries, rejected, zips


def _storage_reader(key: str, name: str) -> Callable[[int], bytes]:
    def read(limit: int) -> bytes:
        return bounded(get_storage().get_bytes(key), limit, "file")

    return read


def _pair(entries: list[Entry]) -> tuple[list[Candidate], list[Rejection]]:
    """Images with their same-name .txt caption and kohya repeats; orphan captions are refused."""
    captions = {e.stem: e for e in entries if e.is_caption}
    images = [e for e in entries if not e.is_caption]
    used: set[str] = set()
    cands = []
    for order, e in enumerate(images):
        cap = captions.get(e.stem)
        if cap is not None:
            used.add(e.stem)
        kohya = kohya_repeats(e.folder) if e.folder else None
        cands.append(Candidate(entry=e, order=order, caption_entry=cap, repeats=kohya[0] if kohya else None))
    orphans = [Rejection(c.name, "caption without a matching image") for stem, c in captions.items() if stem not in used]
    return cands, orphans


def _read_caption(entry: Entry) -> tuple[str | None, str | None]:
    """(caption, problem): a caption that is not UTF-8 is refused, its image kept."""
    try:
        raw = entry.read(MAX_CAPTION_BYTES)
    except Refused as err:
        return None, str(err)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "caption is not UTF-8 text; its image was kept without a caption"
    if "\x00" in text:
        return None, "caption is not UTF-8 text; its image was kept without a caption"
    text = " ".join(text.replace("\r", " ").replace("\n", " ").split())
    return (text or None), None


def _process(tenant_id: str, dataset_id: str, cand: Candidate, limits: Limits) -> Outcome:
    """Read, check, normalise and store one image (and read its caption); runs in the pool."""
    out = Outcome(cand=cand)
    if cand.caption_entry is not None:
        out.caption, out.caption_problem = _read_caption(cand.caption_entry)
    try:
        if cand.entry.size is not None and cand.entry.size > limits.max_bytes:
            raise Refused(f"file is {cand.entry.size} bytes; the limit is {limits.max_bytes} bytes")
        data = cand.entry.read(limits.max_bytes)
        norm = _normalise_guarded(data, limits)
    except Refused as err:
        out.refused = str(err)
        return out
    out.norm = norm
    storage = get_storage()
    base = f"images/{cand.image_id}"
    original = object_key(tenant_id, "datasets", dataset_id, f"{base}/original.{norm.ext}")
    storage.put_bytes(original, data, CONTENT_TYPES[norm.ext])
    out.keys["storage_key"] = original
    if norm.image_bytes is None:
        out.keys["image_key"] = original
    else:
        key = object_key(tenant_id, "datasets", dataset_id, f"{base}/image.{norm.image_ext}")
        storage.put_bytes(key, norm.image_bytes, CONTENT_TYPES[norm.image_ext])
        out.keys["image_key"] = key
        norm.image_bytes = None  # free the memory early
    thumb = object_key(tenant_id, "datasets", dataset_id, f"{base}/thumb.webp")
    storage.put_bytes(thumb, norm.thumb_bytes, "image/webp")
    out.keys["thumb_key"] = thumb
    norm.thumb_bytes = b""
    return out


def _normalise_guarded(data: bytes, limits: Limits) -> Normalised:
    """``normalise``, where any decoder failure on hostile bytes refuses this file, never the upload."""
    try:
        return normalise(data, limits)
    except Refused:
        raise
    except Exception as err:  # noqa: BLE001 - Pillow raises many kinds of errors on malformed files
        log.warning("image refused after an unexpected decoder error: %r", err)
        raise Refused(f"unreadable image ({type(err).__name__}: {err})") from None


def _drop(outcome: Outcome) -> None:
    storage = get_storage()
    for key in set(outcome.keys.values()):
        storage.delete(key)


def _pool_size() -> int:
    return max(2, min(4, os.cpu_count() or 2))


def run_ingest(
    ctx: Ctx,
    *,
    dataset_id: str,
    files: list[dict[str, Any]],
    upload_id: str | None = None,
    progress: Callable[[float, str], None] = lambda f, m: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> IngestReport:
    """Check and keep every file of one upload; returns the per-file report."""
    ds = get_dataset(ctx, dataset_id)
    limits = Limits.from_settings()
    report = IngestReport(dataset_id=dataset_id)
    with tempfile.TemporaryDirectory(prefix="ingest-") as tmpdir:
        entries, rejected, zips = _collect(files, limits, Path(tmpdir))
        try:
            cands, orphans = _pair(entries)
            rejected.extend(orphans)
            outcomes = _run_pool(ctx.tenant_id, dataset_id, cands, limits, progress, cancelled)
        finally:
            for z in zips:
                z.close()
    _decide(ctx, ds.id, outcomes, report, rejected)
    _insert(ctx, dataset_id, ds.trigger_word, ds.class_word, outcomes, cands)
    if upload_id:
        get_storage().delete_prefix(prefix_of(ctx.tenant_id, "datasets", dataset_id) + f"uploads/{upload_id}/")
    progress(1.0, f"{len(report.accepted)} accepted, {len(report.rejected)} refused")
    return report


def _run_pool(
    tenant_id: str,
    dataset_id: str,
    cands: list[Candidate],
    limits: Limits,
    progress: Callable[[float, str], None],
    cancelled: Callable[[], bool],
) -> list[Outcome]:
    total = max(1, len(cands))
    outcomes: list[Outcome] = []
    progress(0.0, f"checking {len(cands)} images")
    with ThreadPoolExecutor(max_workers=_pool_size(), thread_name_prefix="ingest") as pool:
        futures: list[Future[Outcome]] = [pool.submit(_process, tenant_id, dataset_id, c, limits) for c in cands]
        try:
            for i, fut in enumerate(futures):
                outcomes.append(fut.result())
                progress((i + 1) / total * 0.95, f"{i + 1}/{len(cands)} files checked")
                if cancelled():
                    raise IngestCancelled("cancelled on request")
        except BaseException:
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            for o in outcomes + [f.result() for f in futures if f.done() and not f.cancelled() and f.exception() is None]:
                _drop(o)
            raise
    return outcomes


def _existing(ctx: Ctx, dataset_id: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    with session_scope() as s:
        rows = s.execute(
            select(DatasetImage.pixel_hash, DatasetImage.phash, DatasetImage.filename).where(
                DatasetImage.dataset_id == dataset_id, DatasetImage.tenant_id == ctx.tenant_id
            )
        ).all()
    return {p: f for p, _, f in rows}, [(ph, f) for _, ph, f in rows]


def _decide(ctx: Ctx, dataset_id: str, outcomes: list[Outcome], report: IngestReport, rejected: list[Rejection]) -> None:
    """In input order: refusals, exact duplicates (naming the twin), near-duplicate warnings."""
    by_pixels, phashes = _existing(ctx, dataset_id)
    names = [f for _, f in phashes]
    bits = np.array([int(p, 16) for p, _ in phashes], dtype=np.uint64) if phashes else np.zeros(0, dtype=np.uint64)
    for o in outcomes:
        name = o.cand.entry.name
        if o.caption_problem and o.cand.caption_entry is not None:
            rejected.append(Rejection(o.cand.caption_entry.name, o.caption_problem))
        if o.refused or o.norm is None:
            rejected.append(Rejection(name, o.refused or "refused"))
            if o.cand.caption_entry is not None and not o.caption_problem:
                rejected.append(Rejection(o.cand.caption_entry.name, "its image was refused"))
            continue
        twin = by_pixels.get(o.norm.pixel_hash)
        if twin is not None:
            rejected.append(Rejection(name, f"duplicate of {twin} (same pixels)"))
            _drop(o)
            o.refused = "duplicate"
            continue
        warnings: list[str] = []
        if o.caption_problem:
            warnings.append("caption file refused: not UTF-8")
        mine = np.uint64(int(o.norm.phash, 16))
        if len(bits):
            dist = np.bitwise_count(np.bitwise_xor(bits, mine))
            j = int(np.argmin(dist))
            if int(dist[j]) <= NEAR_DUPLICATE_DISTANCE:
                warnings.append(f"near-duplicate of {names[j]} (perceptual distance {int(dist[j])})")
        by_pixels[o.norm.pixel_hash] = name
        bits = np.append(bits, mine)
        names.append(name)
        o.warnings = warnings
        report.accepted.append(name)
        report.warnings.extend({"file": name, "warning": w} for w in warnings)
    report.rejected = [{"file": r.file, "reason": r.reason} for r in rejected]


def _insert(ctx: Ctx, dataset_id: str, trigger: str, class_word: str, outcomes: list[Outcome], cands: list[Candidate]) -> None:
    """Record the accepted images in one transaction; a dataset deleted meanwhile gets its files removed."""
    kept = [o for o in outcomes if o.norm is not None and not o.refused]
    kohya_names = {k[1] for c in cands if c.entry.folder and (k := kohya_repeats(c.entry.folder))}
    try:
        with session_scope() as s:
            ds = get_owned(s, Dataset, ctx, dataset_id, kind="dataset", lock=True)
            if not ds.trigger_word and len(kohya_names) == 1:
                # A kohya zip names the character: "10_ohwx woman" -> trigger ohwx, class woman.
                words = next(iter(kohya_names)).split(maxsplit=1)
                if words:
                    ds.trigger_word = words[0][:64]
                    if not ds.class_word and len(words) > 1:
                        ds.class_word = words[1][:64]
            for o in kept:
                assert o.norm is not None
                s.add(
                    DatasetImage(
                        id=o.cand.image_id,
                        tenant_id=ctx.tenant_id,
                        dataset_id=dataset_id,
                        filename=o.cand.entry.name[:500],
                        storage_key=o.keys["storage_key"],
                        image_key=o.keys["image_key"],
                        thumb_key=o.keys["thumb_key"],
                        width=o.norm.width,
                        height=o.norm.height,
                        caption=o.caption,
                        repeats=o.cand.repeats,
                        pixel_hash=o.norm.pixel_hash,
                        phash=o.norm.phash,
                        warnings=o.warnings,
                    )
                )
    except (NotFound, IntegrityError):
        # The dataset was deleted while we worked: leave nothing behind.
        get_storage().delete_prefix(prefix_of(ctx.tenant_id, "datasets", dataset_id))
        raise NotFound("dataset", dataset_id) from None
