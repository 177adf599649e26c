"""Job widgets: a live progress panel that updates in place, status badges."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from backend.context import Ctx
from backend.jobs import service as jobs
from backend.jobs.models import JobOut

STATUS_COLOURS = {"queued": "gray", "running": "blue", "succeeded": "green", "failed": "red", "cancelled": "orange"}


def status_badge(status: str) -> str:
    """Markdown for a coloured status label."""
    return f":{STATUS_COLOURS.get(status, 'gray')}[**{status}**]"


def eta_text(job: JobOut) -> str:
    eta = job.metrics.get("eta_s") if job.metrics else None
    return f" · ETA {timedelta(seconds=int(eta))}" if eta else ""


def render_progress(job: JobOut) -> None:
    """A progress bar with stage, message and status."""
    label = f"{job.stage or job.status} — {job.progress * 100:.0f}%{eta_text(job)}"
    st.progress(min(max(job.progress, 0.0), 1.0), text=label)
    st.markdown(f"{status_badge(job.status)} · attempt {job.attempts}/{job.max_attempts} · `{job.type}`")
    if job.message:
        st.caption(job.message)
    if job.error:
        st.error(job.error)


def live_job(ctx: Ctx, job_id: str, *, every_s: float = 1.0, key: str | None = None) -> None:
    """A job's progress that refreshes in place until the job ends."""

    @st.fragment(run_every=every_s)
    def _panel() -> None:
        job = jobs.get(ctx, job_id)
        render_progress(job)
        if job.finished and st.session_state.get(f"_live_done_{job_id}") is None:
            st.session_state[f"_live_done_{job_id}"] = job.status
            st.rerun()  # let the page show what the finished job produced

    _panel()
