"""Gallery widgets: the thumbnail grid, one asset's view with every parameter, and image settings forms."""

from __future__ import annotations

from typing import Any

import streamlit as st

from backend.context import Ctx
from backend.generation import service as assets
from backend.generation.images import SCHEDULERS, SIZE_PRESETS
from backend.generation.models import AssetOut
from studio.feedback import attempt

PREFILL_KEY = "generate_prefill"


def asset_grid(ctx: Ctx, items: list[AssetOut], *, cols: int = 4, key: str = "grid") -> str | None:
    """Thumbnails in a grid; returns the id of the asset whose "Open" was clicked."""
    chosen = None
    columns = st.columns(cols)
    for i, a in enumerate(items):
        with columns[i % cols]:
            if a.kind == "image" or a.thumb_key:
                st.image(assets.read_asset(a, thumbnail=True), width="stretch")
            stars = "★" * (a.rating or 0)
            st.caption(f"{a.prompt[:60]} {stars}")
            if st.button("Open", key=f"{key}-open-{a.id}"):
                chosen = a.id
    return chosen


def _param_text(name: str, value: Any) -> str:
    """A parameter as a creator reads it (LoRAs as "name × strength")."""
    if name == "loras" and isinstance(value, list):
        return ", ".join(f"{lo.get('name', lo.get('id'))} × {lo.get('strength')}" for lo in value if isinstance(lo, dict)) or "none"
    return str(value)


def asset_view(ctx: Ctx, a: AssetOut, *, key: str = "view") -> None:
    """One asset: full image or video, every parameter, rating, download, reuse, delete."""
    data = assets.read_asset(a)
    left, right = st.columns([3, 2])
    with left:
        if a.kind == "video":
            st.video(data)
        else:
            st.image(data, width="stretch")
    with right:
        st.markdown(f"**Prompt:** {a.prompt}")
        if a.negative_prompt:
            st.markdown(f"**Negative:** {a.negative_prompt}")
        st.dataframe([{"parameter": k, "value": _param_text(k, v)} for k, v in sorted(a.params.items())
                      if k not in ("prompt", "negative_prompt")], hide_index=True, width="stretch")
        st.download_button("Download", data=data, file_name=a.filename, mime=a.mime, key=f"{key}-dl-{a.id}")
        if ctx.can_edit:
            rating = st.select_slider("Rating", options=[0, 1, 2, 3, 4, 5], value=a.rating or 0, key=f"{key}-rate-{a.id}")
            if rating != (a.rating or 0):
                attempt(lambda: assets.rate_asset(ctx, a.id, rating or None), success="Rating saved")
            if a.kind == "image" and st.button("Reuse these settings", key=f"{key}-reuse-{a.id}"):
                st.session_state[PREFILL_KEY] = {**a.params, "prompt": a.prompt, "negative_prompt": a.negative_prompt}
                st.switch_page("pages/generate.py")
            confirm_key = f"{key}-confirm-del-{a.id}"
            if not st.session_state.get(confirm_key):
                if st.button("Delete", key=f"{key}-del-{a.id}", type="secondary", icon=":material/delete:"):
                    st.session_state[confirm_key] = True
                    st.rerun()
            else:  # deleting cannot be undone, so it takes a second click
                st.warning("Delete this asset and its file? This cannot be undone.")
                yes, no = st.columns(2)
                if yes.button("Yes, delete", key=f"{key}-del-yes-{a.id}", type="primary"):
                    st.session_state.pop(confirm_key, None)
                    if attempt(lambda: assets.delete_asset(ctx, a.id) or True, success="Asset deleted"):
                        st.session_state.pop("gallery_open", None)
                        st.rerun()
                if no.button("Keep it", key=f"{key}-del-no-{a.id}"):
                    st.session_state.pop(confirm_key, None)
                    st.rerun()


AUTO_BASE_MODEL = "automatic"


def _size_choice(prefill: dict[str, Any]) -> str:
    """The size option a prefill selects: its preset, "custom" for other sizes, else the first preset."""
    if "width" not in prefill or "height" not in prefill:
        return next(iter(SIZE_PRESETS))
    wh = (int(prefill["width"]), int(prefill["height"]))
    return next((name for name, v in SIZE_PRESETS.items() if v == wh), "custom")


def image_settings(prefill: dict[str, Any], *, loras: list[Any], base_models: list[str], key: str) -> dict[str, Any]:
    """Size, steps, guidance, scheduler, seed, count, base model and LoRAs; returns submit fields."""
    size_options = [*SIZE_PRESETS, "custom"]
    c1, c2, c3 = st.columns(3)
    with c1:
        size = st.selectbox("Size", size_options, index=size_options.index(_size_choice(prefill)), key=f"{key}-size")
        if size == "custom":
            width = st.number_input("Width", 64, 2048, int(prefill.get("width", 512)), step=8, key=f"{key}-w")
            height = st.number_input("Height", 64, 2048, int(prefill.get("height", 512)), step=8, key=f"{key}-h")
        else:
            width, height = SIZE_PRESETS[size]
        count = st.number_input("Images", 1, 8, 1, key=f"{key}-n", help="Image i uses seed + i.")
    with c2:
        steps = st.number_input("Steps", 1, 150, int(prefill.get("steps", 30)), key=f"{key}-steps")
        guidance = st.number_input("Guidance", 0.0, 30.0, float(prefill.get("guidance", 7.0)), step=0.5, key=f"{key}-cfg")
        sched = prefill.get("scheduler", "euler")
        scheduler = st.selectbox("Scheduler", SCHEDULERS, index=SCHEDULERS.index(sched) if sched in SCHEDULERS else 0,
                                 key=f"{key}-sched")
    with c3:
        seed_text = st.text_input("Seed (empty = random)", str(prefill.get("seed", "")), key=f"{key}-seed")
        bm_options = [AUTO_BASE_MODEL, *base_models]
        bm = prefill.get("base_model")
        base_model = st.selectbox("Base model", bm_options, index=bm_options.index(bm) if bm in bm_options else 0,
                                  key=f"{key}-bm", help="automatic: the first LoRA's base model, else the studio's default")
    lora_labels = {lo.label: lo.id for lo in loras}
    if not loras:
        st.caption("No LoRAs in this workspace yet: train one on the Train page to generate your character.")
    pre_ids = [lo.get("id") for lo in prefill.get("loras", [])]
    picked = st.multiselect("LoRAs", list(lora_labels), default=[k for k, v in lora_labels.items() if v in pre_ids],
                            key=f"{key}-loras", max_selections=5, disabled=not loras)
    strengths = {lo.get("id"): lo.get("strength", 0.8) for lo in prefill.get("loras", [])}
    chosen = []
    for label in picked:
        lid = lora_labels[label]
        chosen.append({"id": lid, "strength": st.slider(f"Strength of {label}", -1.0, 2.0, float(strengths.get(lid, 0.8)),
                                                         0.05, key=f"{key}-str-{lid}")})
    # A seed that is not a whole number is passed on as typed, so the request is refused with a reason.
    seed: int | str | None = int(seed_text) if seed_text.strip().isdigit() else (seed_text.strip() or None)
    return {"width": int(width), "height": int(height), "num_images": int(count), "steps": int(steps),
            "guidance": float(guidance), "scheduler": scheduler, "seed": seed,
            "base_model": None if base_model == AUTO_BASE_MODEL else base_model, "loras": chosen}
