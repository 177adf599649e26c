"""Dashboard cards: each is a function ``card(ctx)`` that draws one section of the Dashboard.

A feature adds its card with ONE line in ``CARDS`` ("module:function"), like PAGES in
studio/navigation.py. The function lives in the feature's own studio module, e.g.::

    # studio/datasets_widgets.py
    def dashboard_card(ctx: Ctx) -> None:
        st.subheader("Datasets")
        st.metric("Images", datasets.count_images(ctx))

    # here
    CARDS = [..., "studio.datasets_widgets:dashboard_card"]

A card that fails is shown as an error box; the rest of the dashboard still renders.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import streamlit as st

from backend.context import Ctx
from backend.jobs import service as jobs
from backend.jobs.models import STATUSES
from studio.jobs import jobs_table, render_progress

# In order, top to bottom.
CARDS: list[str] = [
    "studio.dashboard:job_counts_card",
    "studio.dashboard:running_jobs_card",
    "studio.dashboard:recent_jobs_card",
]

REFRESH_S = 2.0


def load_card(spec: str) -> Callable[[Ctx], None]:
    """The card function named ``module:function``."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def render_cards(ctx: Ctx, cards: list[str] | None = None) -> None:
    """Draw every card; one card's failure does not hide the others."""
    for spec in CARDS if cards is None else cards:
        try:
            card = load_card(spec)
        except (ImportError, AttributeError) as err:
            st.error(f"Dashboard card {spec} is missing: {err}")
            continue
        with st.container(border=True):
            try:
                card(ctx)
            except Exception as err:  # noqa: BLE001 - isolate a broken card (st.rerun/st.stop are BaseExceptions)
                st.error(f"Dashboard card {spec} failed: {err}")


def job_counts_card(ctx: Ctx) -> None:
    """How many jobs are in each status, updated in place."""

    @st.fragment(run_every=REFRESH_S)
    def _counts() -> None:
        counts = jobs.counts(ctx)
        for col, status in zip(st.columns(len(STATUSES)), STATUSES, strict=True):
            col.metric(status.capitalize(), counts[status])

    st.subheader("Jobs")
    _counts()


def running_jobs_card(ctx: Ctx) -> None:
    """Running jobs with their progress, updated in place."""

    @st.fragment(run_every=REFRESH_S)
    def _running() -> None:
        rows, total = jobs.list_jobs(ctx, status="running", limit=10)
        if not rows:
            st.caption("Nothing is running.")
            return
        for job in rows:
            render_progress(job, compact=True)
        if total > len(rows):
            st.caption(f"and {total - len(rows)} more running; see the Jobs page.")

    st.subheader("Running now")
    _running()


def recent_jobs_card(ctx: Ctx) -> None:
    """The latest jobs of the workspace."""

    @st.fragment(run_every=REFRESH_S * 2)
    def _recent() -> None:
        rows, _ = jobs.list_jobs(ctx, limit=10)
        jobs_table(ctx, rows)

    st.subheader("Recent jobs")
    _recent()
