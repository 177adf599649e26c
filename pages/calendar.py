"""Calendar: posts by month, week or list; create, edit, drag to reschedule, approve; slots and exports."""

from __future__ import annotations

import streamlit as st

from backend.influencers.service import list_influencers
from studio.auth import require_ctx
from studio.calendar_events import VIEWS
from studio.calendar_view import (
    CREATE_KEY,
    EDIT_KEY,
    accounts_editor,
    calendar_widget,
    create_form,
    edit_panel,
    import_export,
    legend,
    plans_editor,
    slots_editor,
)

ctx = require_ctx()
st.title("Calendar")
influencers = list_influencers(ctx)
names = {"": "All influencers", **{i.id: i.name for i in influencers}}
c1, c2, c3 = st.columns([2, 2, 1])
influencer_id = c1.selectbox("Influencer", list(names), format_func=names.get, key="cal-influencer") or None
view = c2.radio("View", list(VIEWS), horizontal=True, key="cal-view")
if ctx.can_edit and influencers and c3.button("New post", type="primary"):
    st.session_state[CREATE_KEY] = None
    st.session_state.pop(EDIT_KEY, None)
legend()

left, right = st.columns([3, 2])
with left:
    calendar_widget(ctx, view, influencer_id)
with right:
    if not influencers:
        st.info("Create an influencer first (Influencers page).")
    elif CREATE_KEY in st.session_state and ctx.can_edit:
        create_form(ctx, influencers, st.session_state[CREATE_KEY])
    elif st.session_state.get(EDIT_KEY):
        edit_panel(ctx, st.session_state[EDIT_KEY])
    else:
        st.caption("Click a day to create a post, a post to edit it; drag a post to move it.")

with st.expander("Posting slots"):
    if influencer_id:
        slots_editor(ctx, influencer_id)
    else:
        st.caption("Choose an influencer above.")
with st.expander("Recurring plans (automation)"):
    if influencer_id:
        plans_editor(ctx, influencer_id)
    else:
        st.caption("Choose an influencer above.")
with st.expander("Publishing accounts"):
    accounts_editor(ctx, influencers)
with st.expander("Import / export"):
    import_export(ctx)
