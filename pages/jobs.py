"""Jobs: filter by status and type, a paginated table that updates in place, and one job's detail."""

from __future__ import annotations

import streamlit as st

from studio.auth import require_ctx
from studio.jobs import job_detail, job_filters, job_label, jobs_page_table

ctx = require_ctx()
st.title("Jobs")
filters = job_filters(ctx)
shown = jobs_page_table(ctx, filters)
job_detail_id = st.query_params.get("job")
if shown or job_detail_id:
    st.divider()
    options = [j.id for j in shown]
    if job_detail_id and job_detail_id not in options:
        options.insert(0, job_detail_id)
    labels = {j.id: job_label(j) for j in shown}
    chosen = st.selectbox(
        "Open job", options, index=options.index(job_detail_id) if job_detail_id in options else None,
        format_func=lambda i: labels.get(i, i), placeholder="Choose a job to see its details", key="jobs_open",
    )
    if chosen:
        if chosen != job_detail_id:
            st.query_params["job"] = chosen
        job_detail(ctx, chosen)
