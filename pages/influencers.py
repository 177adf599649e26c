"""Influencers: personas, style documents, the style profile, and what the LLM costs."""

from __future__ import annotations

import streamlit as st

from backend.generation.loras import list_lora_refs
from backend.influencers import service as influencers
from backend.influencers.models import PLATFORMS
from backend.jobs import service as jobs
from backend.llm import service as llm
from backend.llm.client import NO_KEY_MESSAGE, llm_configured
from studio.auth import require_ctx
from studio.feedback import attempt
from studio.jobs import live_job

ctx = require_ctx()
st.title("Influencers")
rows = influencers.list_influencers(ctx)

with st.expander("New influencer", expanded=not rows):
    with st.form("new-influencer"):
        name = st.text_input("Name")
        handle = st.text_input("Handle")
        if st.form_submit_button("Create", disabled=not ctx.can_edit):
            if attempt(lambda: influencers.create_influencer(ctx, name=name, handle=handle), success="Influencer created"):
                st.rerun()

if rows:
    by_label = {f"{r.name} (@{r.handle})" if r.handle else r.name: r for r in rows}
    inf = by_label[st.selectbox("Influencer", list(by_label))]
    lora_choices = {"(none)": "", **{lo.label: lo.id for lo in list_lora_refs(ctx)}}
    persona_tab, docs_tab, cost_tab = st.tabs(["Persona", "Style documents & profile", "LLM cost"])
    with persona_tab, st.form(f"persona-{inf.id}"):
        fields = {
            "name": st.text_input("Name", inf.name), "handle": st.text_input("Handle", inf.handle),
            "bio": st.text_area("Bio", inf.bio), "tone": st.text_area("Tone of voice", inf.tone),
            "audience": st.text_area("Audience", inf.audience),
            "topics": st.text_input("Topics (comma-separated)", ", ".join(inf.topics)),
            "words_to_use": st.text_input("Words to use", ", ".join(inf.words_to_use)),
            "words_to_avoid": st.text_input("Words to avoid", ", ".join(inf.words_to_avoid)),
            "default_hashtags": st.text_input("Default hashtags", " ".join(inf.default_hashtags).replace(" ", ", ")),
            "platforms": st.multiselect("Platforms", PLATFORMS, default=inf.platforms),
            "default_lora_id": lora_choices[st.selectbox(
                "Default LoRA", list(lora_choices),
                index=list(lora_choices.values()).index(inf.default_lora_id) if inf.default_lora_id in lora_choices.values() else 0)],
            "default_lora_strength": st.slider("Default LoRA strength", -1.0, 2.0, float(inf.default_lora_strength), 0.05),
            "trigger_word": st.text_input("Trigger word (overrides the LoRA's)", inf.trigger_word),
            "auto_approve": st.checkbox("Auto-approve scheduled posts", inf.auto_approve),
        }
        c1, c2 = st.columns(2)
        if c1.form_submit_button("Save", disabled=not ctx.can_edit):
            if attempt(lambda: influencers.update_influencer(ctx, inf.id, **fields), success="Saved"):
                st.rerun()
        if c2.form_submit_button("Delete influencer", disabled=not ctx.can_edit):
            if attempt(lambda: influencers.delete_influencer(ctx, inf.id) or True, success="Deleted"):
                st.rerun()
    with docs_tab:
        up = st.file_uploader("Upload style documents (PDF, .txt, .md)", type=["pdf", "txt", "md", "markdown"],
                              accept_multiple_files=True, disabled=not ctx.can_edit)
        if up and st.button("Add documents"):
            for f in up:
                attempt(lambda f=f: influencers.add_style_document(ctx, inf.id, filename=f.name, data=f.getvalue()),
                        success=f"{f.name} added")
        docs = influencers.list_style_documents(ctx, inf.id)
        for d in docs:
            c1, c2 = st.columns([5, 1])
            c1.markdown(f"**{d.filename}** · {d.pages} page(s) · {d.chars:,} characters  \n{d.excerpt[:200]}")
            if c2.button("Remove", key=f"rm-{d.id}", disabled=not ctx.can_edit):
                attempt(lambda d=d: influencers.delete_style_document(ctx, d.id), success="Removed")
                st.rerun()
        if not llm_configured():
            st.info(NO_KEY_MESSAGE + " You can write the style profile below yourself.")
        elif st.button("Condense documents into the style profile", disabled=not docs or not ctx.can_edit):
            job = attempt(lambda: influencers.submit_profile_job(ctx, inf.id))
            if job:
                st.session_state[f"profile_job_{inf.id}"] = job.id
        pj = st.session_state.get(f"profile_job_{inf.id}")
        if pj:
            live_job(ctx, pj, key="profile")
            if jobs.get(ctx, pj).status == "succeeded" and st.session_state.get("profile_shown") != pj:
                st.session_state["profile_shown"] = pj
                st.rerun()
        with st.form(f"profile-{inf.id}"):
            current = influencers.get_influencer(ctx, inf.id).style_profile
            profile = st.text_area("Style profile (editable)", current, height=240)
            if st.form_submit_button("Save profile", disabled=not ctx.can_edit):
                attempt(lambda: influencers.update_influencer(ctx, inf.id, style_profile=profile), success="Profile saved")
    with cost_tab:
        status = llm.budget_status(ctx)
        c1, c2, c3 = st.columns(3)
        c1.metric("Spent this month", f"${status['spent_usd']:.4f}")
        c2.metric("Monthly budget", f"${status['budget_usd']:.2f}")
        c3.metric("Left", f"${status['left_usd']:.4f}")
        days = llm.daily_costs(ctx)
        if days:
            st.bar_chart({str(d["day"]): d["cost_usd"] for d in days}, x_label="day", y_label="USD")
        else:
            st.caption("No LLM calls yet.")
        if ctx.is_admin:
            new = st.number_input("Monthly budget (USD)", 0.0, 1_000_000.0, float(status["budget_usd"]), step=5.0)
            if st.button("Set budget"):
                attempt(lambda: llm.set_monthly_budget(ctx, new), success="Budget saved")
        calls = llm.list_calls(ctx, limit=50)
        if calls:
            st.dataframe([{"at": c.created_at, "purpose": c.purpose, "model": c.model, "tokens": c.prompt_tokens + c.completion_tokens,
                           "cost": c.cost_usd, "cached": c.cached, "error": c.error or ""} for c in calls], hide_index=True)
