"""Generate: topic -> caption + image in one flow, and image-only batches, with live progress and previews."""

from __future__ import annotations

import streamlit as st

from backend.basemodels.service import list_models
from backend.generation import service as assets
from backend.generation.content import PLATFORM_LIMITS, submit_caption
from backend.generation.images import submit_images
from backend.generation.loras import list_lora_refs
from backend.influencers.service import list_influencers
from backend.jobs import service as jobs
from backend.llm.client import NO_KEY_MESSAGE, llm_configured
from studio.auth import require_ctx, require_editor
from studio.feedback import attempt
from studio.gallery import PREFILL_KEY, image_settings
from studio.jobs import job_actions, live_job

ctx = require_ctx()
st.title("Generate")
if not require_editor(ctx):
    st.stop()
influencers = list_influencers(ctx)
loras = list_lora_refs(ctx)
base_models = [m.name for m in list_models()]
prefill = st.session_state.pop(PREFILL_KEY, None) or st.session_state.get("generate_last_prefill", {})
st.session_state["generate_last_prefill"] = prefill


def show_images(job_id: str, *, key: str) -> None:
    """The job's Cancel button while it runs, and its images as previews the moment each one exists."""
    job = jobs.get(ctx, job_id)
    if not job.finished:
        job_actions(ctx, job, key=key)

    @st.fragment(run_every=None if job.finished else 2.0)
    def previews() -> None:
        done = list(reversed(assets.list_assets(ctx, job_id=job_id, limit=8)))  # oldest first: seed, seed+1, ...
        if not done:
            return
        cols = st.columns(min(4, len(done)))
        for i, a in enumerate(done):
            with cols[i % len(cols)]:
                st.image(assets.read_asset(a, thumbnail=True), caption=f"seed {a.params.get('seed', '')}")
        if job.status == "succeeded":
            st.caption("Saved to the Gallery.")
        elif job.finished:
            st.caption(f"The finished image(s) are kept in the Gallery ({len(done)}).")

    previews()


# "Reuse these settings" in the Gallery lands on the image-only tab.
post_tab, images_tab = st.tabs(["Post: topic → caption + image", "Images only"],
                               default="Images only" if prefill else None)

with post_tab:
    if not influencers:
        st.info("Create an influencer on the Influencers page first.")
    else:
        names = {f"{i.name} (@{i.handle})" if i.handle else i.name: i for i in influencers}
        inf = names[st.selectbox("Influencer", list(names), key="post-inf")]
        platform = st.selectbox("Platform", list(PLATFORM_LIMITS), key="post-platform")
        topic = st.text_area("Topic", key="post-topic", placeholder="What is the post about?")
        if not llm_configured():
            st.info(NO_KEY_MESSAGE)
        elif st.button("Write caption", type="primary", key="post-write"):
            job = attempt(lambda: submit_caption(ctx, influencer_id=inf.id, topic=topic, platform=platform))
            if job:
                st.session_state["caption_job"] = job.id
        cj = st.session_state.get("caption_job")
        if cj:
            live_job(ctx, cj, key="caption")
            job = jobs.get(ctx, cj)
            if job.status == "succeeded" and st.session_state.get("plan_from") != cj:
                r = job.result or {}
                st.session_state.update({"plan-caption": r.get("caption", ""), "plan-hashtags": " ".join(r.get("hashtags", [])),
                                         "plan-prompt": r.get("image_prompt", ""), "plan-alt": r.get("alt_text", ""),
                                         "plan_from": cj})
        st.subheader("Content plan (editable)")
        st.text_area("Caption", key="plan-caption", height=160)
        st.text_input("Hashtags", key="plan-hashtags")
        st.text_area("Image prompt", key="plan-prompt")
        st.text_input("Alt text", key="plan-alt")
        limit = PLATFORM_LIMITS[platform]["max_chars"]
        used = len(st.session_state.get("plan-caption", "")) + len(st.session_state.get("plan-hashtags", "")) + 2
        st.caption(f"{used} / {limit} characters")
        with st.expander("Image settings"):
            post_settings = image_settings({"loras": [{"id": inf.default_lora_id, "strength": inf.default_lora_strength}]
                                            if inf.default_lora_id else [], **prefill},
                                           loras=loras, base_models=base_models, key="post-img")
        if st.button("Generate image", key="post-generate"):
            job = attempt(lambda: submit_images(ctx, prompt=st.session_state.get("plan-prompt", ""),
                                                influencer_id=inf.id, **post_settings))
            if job:
                st.session_state["post_image_job"] = job.id
        pj = st.session_state.get("post_image_job")
        if pj:
            live_job(ctx, pj, key="post-image")
            show_images(pj, key="post-image")

with images_tab:
    prompt = st.text_area("Prompt", value=prefill.get("prompt", ""), key="img-prompt")
    negative = st.text_area("Negative prompt", value=prefill.get("negative_prompt", ""), key="img-negative")
    settings = image_settings(prefill, loras=loras, base_models=base_models, key="img")
    if st.button("Generate", type="primary", key="img-generate"):
        job = attempt(lambda: submit_images(ctx, prompt=prompt, negative_prompt=negative, **settings))
        if job:
            st.session_state["image_job"] = job.id
    ij = st.session_state.get("image_job")
    if ij:
        live_job(ctx, ij, key="images")
        show_images(ij, key="images")
