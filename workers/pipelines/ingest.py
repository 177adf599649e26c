"""``dataset.ingest``: check and keep every file of one upload, reporting progress per file."""

from __future__ import annotations

from typing import Any

from backend.datasets.ingest import INGEST_JOB, IngestCancelled, run_ingest
from backend.jobs.errors import JobCancelled
from workers.context import JobContext
from workers.registry import handler


@handler(INGEST_JOB.name)
def ingest(ctx: JobContext) -> dict[str, Any]:
    p = ctx.payload

    def progress(fraction: float, message: str) -> None:
        ctx.progress(fraction, stage="ingesting", message=message, force=fraction >= 1.0)

    try:
        report = run_ingest(
            ctx.ctx,
            dataset_id=p["dataset_id"],
            files=list(p["files"]),
            upload_id=p.get("upload_id"),
            progress=progress,
            cancelled=lambda: ctx.cancel_requested,
        )
    except IngestCancelled as err:
        raise JobCancelled(str(err)) from None
    return report.model_dump()
