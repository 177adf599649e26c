"""LoRAs: the trained models of the workspace with their samples, download, rename and delete."""

from __future__ import annotations

import streamlit as st

from backend.training import service as training
from studio.auth import require_ctx
from studio.feedback import attempt

ctx = require_ctx()
st.title("LoRAs")
loras = training.list_loras(ctx)
if not loras:
    st.info("No LoRAs yet: train one on the Train page.")
for lora in loras:
    with st.container(border=True):
        st.subheader(lora.name)
        loss = f"{lora.final_loss:.4f}" if lora.final_loss is not None else "–"
        st.caption(f"trigger `{lora.trigger_word or '–'}` · base {lora.base_model} ({lora.architecture.upper()}) · "
                   f"rank {lora.rank} / alpha {lora.alpha:g} · {lora.steps} steps at {lora.resolution} px · final loss {loss}")
        if lora.samples:
            cols = st.columns(len(lora.samples))
            for col, s in zip(cols, lora.samples):
                col.image(training.artifact_bytes(ctx, lora.job_id, s["key"]) if lora.job_id else b"", caption=s["prompt"])
        c1, c2, c3 = st.columns([2, 2, 1])
        c1.download_button("Download .safetensors", data=lambda lora=lora: training.lora_bytes(ctx, lora.id),
                           file_name=training.lora_filename(lora), key=f"dl_{lora.id}")
        with c2.popover("Rename", disabled=not ctx.can_edit):
            new = st.text_input("Name", lora.name, key=f"rn_{lora.id}")
            if st.button("Save", key=f"rn_btn_{lora.id}"):
                attempt(lambda lora=lora: training.rename_lora(ctx, lora.id, new), success="Renamed.", rerun=True)
        if c3.button("Delete", key=f"del_{lora.id}", disabled=not ctx.can_edit):
            attempt(lambda lora=lora: training.delete_lora(ctx, lora.id), success="Deleted.", rerun=True)
