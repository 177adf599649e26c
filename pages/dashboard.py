"""Dashboard: job counts, running jobs with live progress, recent jobs, and the features' cards."""

from __future__ import annotations

import streamlit as st

from studio.auth import require_ctx
from studio.dashboard import render_cards

ctx = require_ctx()
st.title("Dashboard")
render_cards(ctx)
