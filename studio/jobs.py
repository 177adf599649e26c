"""Job widgets shared by every page that starts or shows jobs.

    live_job(ctx, job_id)            # progress bar + stage/ETA/metrics, refreshed in place until the job ends
    job_actions(ctx, job)            # Cancel / Stop / Retry buttons (disabled for viewers)
    job_detail(ctx, job_id)          # everything about one job: progress, actions, metrics, payload, events
    jobs_table(ctx, rows)            # a table of jobs with a progress column
    job_filters / jobs_page_table    # the Jobs page's filters and paginated, self-refreshing table
    job_label(job)                   # "system.sleep · 3f2a1b2c · 2025-01-01 10:00:00 UTC" for select boxes

A feature page that submits a job typically does::

    job = attempt(lambda: training.start(ctx, ...), success="Training queued")
    if job: st.session_state["training_job"] = job.id
    if "training_job" in st.session_state: live_job(ctx, st.session_state["training_job"])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from backend.accounts import service as accounts
from backend.context import Ctx
from backend.jobs import service as jobs
from backend.jobs.models import STATUSES, JobOut
from studio.feedback import attempt

STATUS_COLOURS = {"queued": "gray", "running": "blue", "succeeded": "green", "failed": "red", "cancelled": "orange"}


def status_badge(status: str) -> str:
    """Markdown for a coloured status label."""
    return f":{STATUS_COLOURS.get(status, 'gray')}[**{status}**]"


def job_label(job: JobOut) -> str:
    """A one-line name for a job in select boxes (no status: it changes while the box shows)."""
    return f"{job.type} · {job.id[:8]} · {job.created_at:%Y-%m-%d %H:%M:%S} UTC"


def workspace_tz(ctx: Ctx) -> ZoneInfo:
    """The caller's workspace time zone (UTC if unset or unknown)."""
    try:
        return ZoneInfo(accounts.get_tenant(ctx).timezone or "UTC")
    except Exception:  # noqa: BLE001 - a bad stored zone must not break a page
        return ZoneInfo("UTC")


def fmt_time(dt: datetime | None, tz: ZoneInfo) -> str:
    """A timestamp in the workspace's zone, or an em dash."""
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if dt else "—"


def eta_text(job: JobOut) -> str:
    eta = job.metrics.get("eta_s") if job.metrics else None
    return f" · ETA {timedelta(seconds=int(eta))}" if isinstance(eta, (int, float)) and eta > 0 else ""


def render_progress(job: JobOut, *, compact: bool = False) -> None:
    """A progress bar with stage, message and status."""
    label = f"{job.stage or job.status} — {job.progress * 100:.0f}%{eta_text(job)}"
    if compact:
        label = f"{job.type} · {label}"
    st.progress(min(max(job.progress, 0.0), 1.0), text=label)
    if compact:
        return
    st.markdown(f"{status_badge(job.status)} · attempt {job.attempts}/{job.max_attempts} · `{job.type}`")
    if job.message:
        st.caption(job.message)
    if job.cancel_requested and not job.finished:
        st.caption("Cancel requested; the job stops at its next step.")
    if job.stop_requested and not job.finished:
        st.caption("Stop requested; the job saves its work and stops.")
    if job.error:
        st.error(job.error)


def live_job(
    ctx: Ctx, job_id: str, *, every_s: float = 1.0, compact: bool = False, key: str | None = None, job: JobOut | None = None
) -> None:
    """A job's progress that refreshes in place (``st.fragment(run_every=...)``) until the job ends.

    When the job ends the whole page reruns once, so it can show what the job produced.
    ``job``: the job as the caller just read it (saves reading it again).
    """
    seen_key = f"_live_seen_{job_id}"
    first = job if job is not None else jobs.get(ctx, job_id)
    unshown = [first]  # the fragment's first draw uses it; its own reruns read the job afresh

    @st.fragment(run_every=None if first.finished else every_s)
    def _panel() -> None:
        job = unshown.pop() if unshown else jobs.get(ctx, job_id)
        render_progress(job, compact=compact)
        before = st.session_state.get(seen_key)
        st.session_state[seen_key] = job.status
        if job.finished and before is not None and before not in ("succeeded", "failed", "cancelled"):
            st.rerun()  # the whole app: stop polling and let the page show the outcome

    _panel()


def job_actions(ctx: Ctx, job: JobOut, *, key: str = "job") -> None:
    """Cancel / Stop / Retry for one job; disabled for viewers, each shown only when it applies."""
    viewer_help = None if ctx.can_edit else "Viewers cannot change jobs."
    cols = st.columns(3)
    if not job.finished:
        if cols[0].button("Cancel", key=f"{key}_cancel_{job.id}", disabled=not ctx.can_edit, help=viewer_help,
                          icon=":material/cancel:"):
            attempt(lambda: jobs.cancel(ctx, job.id), success="Cancel requested.", rerun=True)
    if job.status == "running":
        if cols[1].button("Stop and keep work", key=f"{key}_stop_{job.id}", disabled=not ctx.can_edit,
                          help=viewer_help or "Ask the job to save what it has and stop.", icon=":material/stop:"):
            attempt(lambda: jobs.request_stop(ctx, job.id), success="Stop requested.", rerun=True)
    if job.status in ("failed", "cancelled"):
        if cols[2].button("Retry", key=f"{key}_retry_{job.id}", disabled=not ctx.can_edit, help=viewer_help,
                          icon=":material/replay:"):
            attempt(lambda: jobs.retry(ctx, job.id), success="Job queued again.", rerun=True)


def _metric_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_metrics(job: JobOut) -> None:
    """The job's latest metrics (step, loss, it/s, ...) as metric tiles."""
    if not job.metrics:
        st.caption("No metrics reported.")
        return
    items = list(job.metrics.items())
    for start in range(0, len(items), 4):
        cols = st.columns(4)
        for col, (name, value) in zip(cols, items[start : start + 4], strict=False):
            col.metric(name, _metric_value(value))


def render_events(ctx: Ctx, job_id: str, tz: ZoneInfo) -> None:
    """The job's events, oldest first; tracebacks (admins only) in expanders."""
    events = jobs.events(ctx, job_id)
    if not events:
        st.caption("No events yet.")
        return
    st.dataframe(
        [{"at": fmt_time(e.at, tz), "kind": e.kind, "level": e.level, "message": e.message} for e in events],
        hide_index=True,
    )
    for e in (e for e in events if e.detail):
        with st.expander(f"Traceback: {e.message[:80]}", expanded=False):
            st.code(e.detail, language="text")


def job_detail(ctx: Ctx, job_id: str, *, every_s: float = 1.0) -> None:
    """Everything about one job: live progress, actions, metrics, payload, result and events."""
    job = attempt(lambda: jobs.get(ctx, job_id))
    if job is None:
        return
    tz = workspace_tz(ctx)
    st.subheader(f"{job.type}")
    st.caption(
        f"Job `{job.id}` · queue {job.queue} · created {fmt_time(job.created_at, tz)} · "
        f"started {fmt_time(job.started_at, tz)} · finished {fmt_time(job.finished_at, tz)}"
        + (f" · cost ${job.cost:.4f}" if job.cost else "")
    )
    live_job(ctx, job.id, every_s=every_s, job=job)
    job_actions(ctx, job, key="detail")
    tab_metrics, tab_payload, tab_events = st.tabs(["Metrics", "Payload and result", "Events"])
    with tab_metrics:
        render_metrics(job)
    with tab_payload:
        left, right = st.columns(2)
        left.markdown("**Payload**")
        left.json(job.payload, expanded=True)
        right.markdown("**Result**")
        if job.result is None:
            right.caption("No result yet.")
        else:
            right.json(job.result, expanded=True)
    with tab_events:
        render_events(ctx, job.id, tz)


def jobs_rows(rows: list[JobOut], tz: ZoneInfo) -> list[dict[str, Any]]:
    """Table rows for ``st.dataframe``."""
    return [
        {
            "status": j.status,
            "type": j.type,
            "progress": round(j.progress, 4),
            "stage": j.stage,
            "attempts": f"{j.attempts}/{j.max_attempts}",
            "created": fmt_time(j.created_at, tz),
            "finished": fmt_time(j.finished_at, tz),
            "error": (j.error or "")[:120],
            "id": j.id,
        }
        for j in rows
    ]


def jobs_table(ctx: Ctx, rows: list[JobOut], *, key: str | None = None) -> None:
    """A table of jobs with a progress bar column."""
    if not rows:
        st.info("No jobs match.")
        return
    st.dataframe(
        jobs_rows(rows, workspace_tz(ctx)),
        hide_index=True,
        key=key,
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
            "id": st.column_config.TextColumn("id", width="small"),
        },
    )


@dataclass(frozen=True)
class JobFilters:
    """What the Jobs page shows: statuses (empty = all), one type (None = all), rows per page."""

    statuses: tuple[str, ...] = ()
    job_type: str | None = None
    per_page: int = 25


ALL_TYPES = "All types"
_PAGE_KEY = "jobs_page_no"
_FILTER_SIG_KEY = "_jobs_filter_sig"


def job_filters(ctx: Ctx, *, key: str = "jobs") -> JobFilters:
    """Status, type and page-size pickers; changing them goes back to page 1."""
    left, middle, right = st.columns([3, 2, 1])
    statuses = left.multiselect("Status", STATUSES, key=f"{key}_status", placeholder="All statuses")
    job_type = middle.selectbox("Type", [ALL_TYPES, *jobs.job_types(ctx)], key=f"{key}_type")
    per_page = right.selectbox("Per page", [10, 25, 50, 100], index=1, key=f"{key}_per_page")
    filters = JobFilters(tuple(statuses), None if job_type == ALL_TYPES else job_type, int(per_page))
    if st.session_state.get(_FILTER_SIG_KEY) != filters:
        st.session_state[_FILTER_SIG_KEY] = filters
        st.session_state[_PAGE_KEY] = 1
    return filters


def _turn_page(delta: int) -> None:
    st.session_state[_PAGE_KEY] = max(1, st.session_state.get(_PAGE_KEY, 1) + delta)


def jobs_page_table(ctx: Ctx, filters: JobFilters, *, every_s: float = 2.0) -> list[JobOut]:
    """One page of the filtered jobs, refreshed in place every ``every_s``; returns that page's jobs."""

    def fetch(page_no: int) -> tuple[list[JobOut], int]:
        return jobs.list_jobs(
            ctx, status=list(filters.statuses) or None, job_type=filters.job_type,
            limit=filters.per_page, offset=(page_no - 1) * filters.per_page,
        )

    page_no = st.session_state.get(_PAGE_KEY, 1)
    rows, total = fetch(page_no)
    pages = max(1, ceil(total / filters.per_page))
    if page_no > pages:  # jobs were removed or filters narrowed
        page_no = st.session_state[_PAGE_KEY] = pages
        rows, total = fetch(page_no)
    prev_col, info_col, next_col = st.columns([1, 4, 1])
    prev_col.button("◀ Previous", key="jobs_prev", on_click=_turn_page, args=(-1,), disabled=page_no <= 1)
    info_col.markdown(f"Page **{page_no}** of **{pages}** · {total} job{'s' if total != 1 else ''}")
    next_col.button("Next ▶", key="jobs_next", on_click=_turn_page, args=(1,), disabled=page_no >= pages)

    unshown = [rows]  # the fragment's first draw uses the page just read; its own reruns read afresh

    @st.fragment(run_every=every_s)
    def _table() -> None:
        fresh = unshown.pop() if unshown else fetch(page_no)[0]
        jobs_table(ctx, fresh)

    _table()
    return rows
