"""InfluencerAI Studio: first-run setup or login, then the navigation and the pages."""

from __future__ import annotations

import streamlit as st

from studio.auth import login_gate, logout_button
from studio.bootstrap import boot
from studio.feedback import show_flashes
from studio.navigation import leave_folder_mode, login_only, pages_for

if leave_folder_mode():
    st.rerun()  # only on the first run of a fresh server
st.set_page_config(page_title="InfluencerAI Studio", page_icon=":sparkles:", layout="wide")
boot()
ctx = login_gate()
if ctx is None:
    # Before login every URL leads here and no page file runs or appears in a menu.
    login_only()
    st.stop()
with st.sidebar:
    st.caption(f"Signed in as **{ctx.username}** ({ctx.role})")
    logout_button()
show_flashes()
st.navigation(pages_for(ctx.role)).run()
