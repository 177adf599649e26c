"""Datasets: create, upload (files or a .zip), curate captions and repeats, statistics, kohya export."""

from __future__ import annotations

import streamlit as st

from backend.datasets import service
from studio.auth import require_ctx
from studio.dataset_widgets import bulk_tools, dataset_list, export_panel, image_grid, new_dataset_form, settings_panel, stats_panel, upload_panel
from studio.feedback import attempt

ctx = require_ctx()
st.title("Datasets")
new_dataset_form(ctx)
selected = dataset_list(ctx)
if selected:
    ds = attempt(lambda: service.get_dataset(ctx, selected))
    if ds is not None:
        st.header(ds.name)
        st.caption(f"trigger **{ds.trigger_word or '–'}** · class **{ds.class_word or '–'}** · default repeats {ds.default_repeats} · {ds.image_count} images")
        images, stats, settings, export = st.tabs(["Images", "Statistics", "Settings", "Export"])
        with images:
            upload_panel(ctx, ds)
            st.subheader("Curate")
            bulk_tools(ctx, ds)
            image_grid(ctx, ds)
        with stats:
            stats_panel(ctx, ds)
        with settings:
            settings_panel(ctx, ds)
        with export:
            export_panel(ctx, ds)
