"""Gallery: every generated asset, filtered by influencer, LoRA, date, rating and prompt text."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from backend.generation import service as assets
from backend.generation.loras import list_lora_refs
from backend.influencers.service import list_influencers
from studio.auth import require_ctx
from studio.gallery import asset_grid, asset_view

ctx = require_ctx()
st.title("Gallery")
PAGE = 24

with st.sidebar:
    st.subheader("Filters")
    infs = {"(any)": None, **{i.name: i.id for i in list_influencers(ctx)}}
    influencer_id = infs[st.selectbox("Influencer", list(infs), key="g-inf")]
    lora_names = {r.id: r.label for r in list_lora_refs(ctx)}
    lora_ids = ["(any)", *assets.gallery_loras(ctx)]
    lora = st.selectbox("LoRA", lora_ids, key="g-lora",
                        format_func=lambda i: lora_names.get(i, f"deleted LoRA {i[:8]}") if i != "(any)" else i)
    dates = st.date_input("Dates", value=(), key="g-dates")
    min_rating = st.select_slider("Minimum rating", options=[0, 1, 2, 3, 4, 5], value=0, key="g-rating")
    text = st.text_input("Text in the prompt", key="g-text")

since = until = None
if isinstance(dates, (list, tuple)) and len(dates) >= 1:
    since = datetime.combine(dates[0], time.min, tzinfo=UTC)
    until = datetime.combine(dates[-1], time.min, tzinfo=UTC) + timedelta(days=1)
filters = dict(influencer_id=influencer_id, lora_id=None if lora == "(any)" else lora, since=since, until=until,
               min_rating=min_rating or None, text=text or None)
total = assets.count_assets(ctx, **filters)
pages = max(1, (total + PAGE - 1) // PAGE)
page = st.number_input("Page", 1, pages, 1, key="g-page") if pages > 1 else 1
st.caption(f"{total} asset(s)")

opened = st.session_state.get("gallery_open")
if opened:
    if st.button("← Back to the grid"):
        st.session_state.pop("gallery_open")
        st.rerun()
    try:
        asset_view(ctx, assets.get_asset(ctx, opened))
    except Exception as err:  # noqa: BLE001 - deleted meanwhile
        st.warning(str(err))
        st.session_state.pop("gallery_open", None)
else:
    items = assets.list_assets(ctx, limit=PAGE, offset=(int(page) - 1) * PAGE, **filters)
    if not items:
        st.info("Nothing here yet: generate images on the Generate page.")
    chosen = asset_grid(ctx, items)
    if chosen:
        st.session_state["gallery_open"] = chosen
        st.rerun()
