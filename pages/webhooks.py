"""Webhooks (admins): URLs that receive signed job_completed / job_failed events, and the delivery log."""

from __future__ import annotations

import streamlit as st

from backend.webhooks import service as webhooks
from backend.webhooks.models import EVENTS
from studio.auth import require_ctx
from studio.feedback import attempt

ctx = require_ctx()
st.title("Webhooks")
if not ctx.is_admin:
    st.info("Only admins manage webhooks.")
    st.stop()
st.caption("Each event is JSON `{event, timestamp, data: {job_id, status, type, result | error, asset_ids}}` signed with "
           "HMAC-SHA256 of the body in the `X-Studio-Signature: sha256=<hex>` header.")
with st.form("new-webhook"):
    url = st.text_input("URL")
    events = st.multiselect("Events", EVENTS, default=list(EVENTS))
    types = st.text_input("Only these job types (comma-separated, empty = all)")
    if st.form_submit_button("Add webhook"):
        if attempt(lambda: webhooks.create_webhook(ctx, url=url, events=events, job_types=types.split(",")), success="Added"):
            st.rerun()
for w in webhooks.list_webhooks(ctx):
    with st.container(border=True):
        st.markdown(f"**{w.url}** · {', '.join(w.events)} · {'active' if w.active else 'paused'}")
        st.code(w.secret, language=None)
        c1, c2, c3 = st.columns(3)
        if c1.button("Pause" if w.active else "Resume", key=f"t-{w.id}"):
            attempt(lambda w=w: webhooks.update_webhook(ctx, w.id, active=not w.active))
            st.rerun()
        if c2.button("Rotate secret", key=f"r-{w.id}"):
            attempt(lambda w=w: webhooks.update_webhook(ctx, w.id, rotate_secret=True))
            st.rerun()
        if c3.button("Delete", key=f"d-{w.id}"):
            attempt(lambda w=w: webhooks.delete_webhook(ctx, w.id))
            st.rerun()
st.subheader("Deliveries")
rows = webhooks.list_deliveries(ctx, limit=200)
if rows:
    st.dataframe([{"at": d.created_at, "event": d.event, "job": d.source_job_id, "status": d.status, "attempts": d.attempts,
                   "code": d.response_code, "error": d.error or ""} for d in rows], hide_index=True)
else:
    st.caption("No deliveries yet.")
