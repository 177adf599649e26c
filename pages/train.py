"""Train a LoRA: dataset (or upload one here), base model and preset, parameters, review; then the live run."""

from __future__ import annotations

import streamlit as st

from studio.auth import require_ctx
from studio.train_widgets import (TAB, dataset_step, model_step, open_pending_tab, params_step, review_step, run_view,
                                  runs_picker)

ctx = require_ctx()
st.title("Train a LoRA")
open_pending_tab()  # a run just submitted opens the Runs tab
new_run, runs = st.tabs(["New training", "Runs"], key=TAB, on_change="rerun")
with new_run:
    ds = dataset_step(ctx)
    model, preset = model_step()
    params = params_step(ctx, model, preset, ds)
    review_step(ctx, ds, model, preset, params)
with runs:
    job_id = runs_picker(ctx)
    if job_id:
        run_view(ctx, job_id)
    else:
        st.info("No training runs yet.")
