"""AppTests of the Generate, Gallery, Influencers and Webhooks pages."""

from __future__ import annotations

import io

from PIL import Image
from streamlit.testing.v1 import AppTest

from backend.generation import service as assets
from backend.influencers import service as influencers
from backend.jobs import service as jobs
from tests.conftest import ROOT

TIMEOUT = 60


def page(path: str, ctx) -> AppTest:  # type: ignore[no-untyped-def]
    at = AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)
    at.session_state["studio_ctx"] = ctx
    return at.run()


def btn(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, format="PNG")
    return out.getvalue()


def test_generate_page_image_batch(ctx, demo_sd15, embedded_workers):
    at = page("pages/generate.py", ctx)
    assert not at.exception
    at.text_area(key="img-prompt").input("portrait of ohwx")
    at.selectbox(key="img-size").select("custom")
    at.run()
    at.number_input(key="img-w").set_value(64)
    at.number_input(key="img-h").set_value(64)
    at.number_input(key="img-steps").set_value(2)
    at.text_input(key="img-seed").input("5")
    btn(at, "Generate").click().run()
    assert not at.exception, at.exception
    job_id = at.session_state["image_job"]
    done = jobs.wait(ctx, job_id, timeout_s=120)
    assert done.status == "succeeded", done.error
    assert done.payload["seed"] == 5 and done.payload["width"] == 64
    at.run()
    assert not at.exception
    assert any("Saved to the Gallery" in c.value for c in at.caption)


def test_generate_page_without_llm_key_allows_hand_written_captions(ctx):
    influencers.create_influencer(ctx, name="Mia")
    at = page("pages/generate.py", ctx)
    assert not at.exception
    assert any("STUDIO_LLM_API_KEY" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "Write caption"]
    at.text_area(key="plan-caption").input("My own caption")
    at.run()
    assert at.text_area(key="plan-caption").value == "My own caption"


def test_gallery_filters_open_rate_delete(ctx, other_ctx):
    a = assets.create_asset_from_bytes(ctx, kind="image", data=png("red"), filename="a.png", mime="image/png", width=32,
                                       height=32, params={"seed": 1, "steps": 3}, prompt="sunset on the beach")
    assets.create_asset_from_bytes(ctx, kind="image", data=png("blue"), filename="b.png", mime="image/png", width=32,
                                   height=32, params={"seed": 2}, prompt="city at night")
    at = page("pages/gallery.py", ctx)
    assert not at.exception
    assert any("2 asset(s)" in c.value for c in at.caption)
    at.text_input(key="g-text").input("sunset").run()
    assert any("1 asset(s)" in c.value for c in at.caption)
    btn(at, "Open").click().run()
    assert not at.exception and at.session_state["gallery_open"] == a.id
    assert any("seed" in str(df.value) for df in at.dataframe)
    at.select_slider(key=f"view-rate-{a.id}").set_value(4).run()
    assert assets.get_asset(ctx, a.id).rating == 4
    btn(at, "Delete").click().run()
    assert assets.count_assets(ctx) == 2  # deleting asks first
    btn(at, "Keep it").click().run()
    assert not [b for b in at.button if b.label == "Yes, delete"]
    btn(at, "Delete").click().run()
    btn(at, "Yes, delete").click().run()
    assert not at.exception
    assert assets.count_assets(ctx) == 1 and "gallery_open" not in at.session_state
    # another workspace's gallery is empty
    other = page("pages/gallery.py", other_ctx)
    assert any("0 asset(s)" in c.value for c in other.caption)


def test_influencers_page_edit_and_cost_chart(ctx):
    inf = influencers.create_influencer(ctx, name="Mia")
    at = page("pages/influencers.py", ctx)
    assert not at.exception
    at.text_area[1].input("Warm and witty")  # Tone of voice (after Bio)
    btn(at, "Save").click().run()
    assert not at.exception
    assert influencers.get_influencer(ctx, inf.id).tone == "Warm and witty"


def test_influencers_page_style_profile_is_editable_without_a_key(ctx):
    inf = influencers.create_influencer(ctx, name="Mia")
    influencers.update_influencer(ctx, inf.id, style_profile="Short sentences.")
    at = page("pages/influencers.py", ctx)
    assert not at.exception
    assert any("STUDIO_LLM_API_KEY" in i.value and "style profile below" in i.value for i in at.info)
    box = next(t for t in at.text_area if t.label == "Style profile (editable)")
    assert box.value == "Short sentences."
    box.input("Short sentences. Ends with a question.")
    btn(at, "Save profile").click().run()
    assert not at.exception
    assert influencers.get_influencer(ctx, inf.id).style_profile == "Short sentences. Ends with a question."


def test_influencers_page_charts_llm_costs_over_time(ctx, other_ctx):
    from backend.llm import service as llm

    influencers.create_influencer(ctx, name="Mia")
    at = page("pages/influencers.py", ctx)
    assert any(c.value == "No LLM calls yet." for c in at.caption)
    assert not (at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart"))
    llm.record_call(ctx.tenant_id, model="test/model", job_id="j1", purpose="caption", prompt_tokens=10,
                    completion_tokens=5, cost_usd=0.0042, cost_source="usage")
    llm.record_call(other_ctx.tenant_id, model="test/model", job_id="j2", purpose="caption", cost_usd=9.0,
                    cost_source="usage")
    at = page("pages/influencers.py", ctx)
    assert not at.exception
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # daily costs as a chart
    assert any(m.value == "$0.0042" for m in at.metric)  # only this workspace's spend
    assert any(abs(float(v) - 0.0042) < 1e-9 for df in at.dataframe for v in df.value["cost"])


def test_webhooks_page_admin_only(ctx):
    from backend.context import Ctx

    at = page("pages/webhooks.py", Ctx(tenant_id=ctx.tenant_id, role="editor"))
    assert any("Only admins" in i.value for i in at.info)
    at = page("pages/webhooks.py", ctx)
    at.text_input[0].input("https://example.com/hook")
    btn(at, "Add webhook").click().run()
    assert not at.exception
    from backend.webhooks.service import list_webhooks

    assert [w.url for w in list_webhooks(ctx)] == ["https://example.com/hook"]


def test_reuse_settings_prefills_the_generate_page(ctx, demo_sd15):
    from studio.gallery import PREFILL_KEY

    params = {"seed": 77, "steps": 4, "guidance": 3.5, "scheduler": "ddim", "width": 64, "height": 96,
              "base_model": "demo-sd15", "loras": []}
    at = AppTest.from_file(str(ROOT / "pages/generate.py"), default_timeout=TIMEOUT)
    at.session_state["studio_ctx"] = ctx
    at.session_state[PREFILL_KEY] = {**params, "prompt": "reused prompt", "negative_prompt": "blurry"}
    at.run()
    assert not at.exception
    assert at.text_area(key="img-prompt").value == "reused prompt"
    assert at.text_area(key="img-negative").value == "blurry"
    assert at.selectbox(key="img-size").value == "custom"  # 64x96 is no preset
    assert (at.number_input(key="img-w").value, at.number_input(key="img-h").value) == (64, 96)
    assert at.number_input(key="img-steps").value == 4 and at.selectbox(key="img-sched").value == "ddim"
    assert at.text_input(key="img-seed").value == "77" and at.selectbox(key="img-bm").value == "demo-sd15"
    # A preset size selects its preset.
    at2 = AppTest.from_file(str(ROOT / "pages/generate.py"), default_timeout=TIMEOUT)
    at2.session_state["studio_ctx"] = ctx
    at2.session_state[PREFILL_KEY] = {**params, "width": 1080, "height": 1920, "prompt": "p"}
    at2.run()
    assert at2.selectbox(key="img-size").value.startswith("story / reel")


def test_generate_page_refuses_a_bad_seed_with_a_reason(ctx, demo_sd15):
    at = page("pages/generate.py", ctx)
    at.text_area(key="img-prompt").input("portrait")
    at.text_input(key="img-seed").input("lucky")
    btn(at, "Generate").click().run()
    assert not at.exception
    assert "image_job" not in at.session_state
    assert any("Invalid image request" in e.value for e in at.error)
    assert any("seed" in c.value and "integer" in c.value for c in at.caption)
    assert jobs.list_jobs(ctx)[1] == 0


def test_gallery_lora_filter_shows_lora_names(ctx, demo_sd15):
    from tests.generation.loras import record_random_lora

    lora = record_random_lora(ctx, name="Zoe", trigger_word="zxq")
    assets.create_asset_from_bytes(ctx, kind="image", data=png("red"), filename="a.png", mime="image/png", width=32,
                                   height=32, params={"seed": 1, "loras": [{"id": lora.id, "name": "Zoe", "strength": 0.7}]},
                                   prompt="zxq at the beach")
    assets.create_asset_from_bytes(ctx, kind="image", data=png("blue"), filename="b.png", mime="image/png", width=32,
                                   height=32, params={"seed": 2}, prompt="no lora")
    at = page("pages/gallery.py", ctx)
    box = at.selectbox(key="g-lora")
    assert box.options == ["(any)", "Zoe (zxq)"]
    box.select(lora.id).run()
    assert any("1 asset(s)" in c.value for c in at.caption)
    btn(at, "Open").click().run()
    assert any("Zoe × 0.7" in str(df.value) for df in at.dataframe)


def test_gallery_influencer_rating_and_date_filters_and_download(ctx):
    from datetime import date, timedelta

    mia = influencers.create_influencer(ctx, name="Mia")
    influencers.create_influencer(ctx, name="Zoe")
    a = assets.create_asset_from_bytes(ctx, kind="image", data=png("red"), filename="a.png", mime="image/png", width=32,
                                       height=32, params={"seed": 1}, prompt="mia at the beach", influencer_id=mia.id)
    b = assets.create_asset_from_bytes(ctx, kind="image", data=png("blue"), filename="b.png", mime="image/png", width=32,
                                       height=32, params={"seed": 2}, prompt="nobody")
    assets.rate_asset(ctx, b.id, 5)
    at = page("pages/gallery.py", ctx)
    assert at.selectbox(key="g-inf").options == ["(any)", "Mia", "Zoe"]
    at.selectbox(key="g-inf").select("Mia").run()
    assert any("1 asset(s)" in c.value for c in at.caption)
    at.selectbox(key="g-inf").select("(any)").run()
    at.select_slider(key="g-rating").set_value(4).run()
    assert any("1 asset(s)" in c.value for c in at.caption)
    at.select_slider(key="g-rating").set_value(0).run()
    at.date_input(key="g-dates").set_value((date.today() - timedelta(days=3), date.today() - timedelta(days=1))).run()
    assert any("0 asset(s)" in c.value for c in at.caption)
    at.date_input(key="g-dates").set_value((date.today() - timedelta(days=1), date.today() + timedelta(days=1))).run()
    assert any("2 asset(s)" in c.value for c in at.caption)
    opened = next(b for b in at.button if b.label == "Open" and a.id in b.key)
    opened.click().run()
    assert not at.exception and at.session_state["gallery_open"] == a.id
    assert [d for d in at.get("download_button") if d.proto.label == "Download"]


def test_generate_page_post_flow_caption_then_image_from_the_edited_prompt(ctx, llm_server, demo_sd15, embedded_workers):
    import json

    from tests.generation.servers import chat_answer

    inf = influencers.create_influencer(ctx, name="Mia", trigger_word="ohwx")
    llm_server.add(chat_answer(json.dumps({"caption": "Sunday brunch", "hashtags": ["brunch"],
                                           "image_prompt": "ohwx woman at brunch", "alt_text": "A brunch table."})))
    at = page("pages/generate.py", ctx)
    assert not at.exception and not at.info  # a key is set: no "how to set a key" message
    at.text_area(key="post-topic").input("brunch")
    btn(at, "Write caption").click().run()
    done = jobs.wait(ctx, at.session_state["caption_job"], timeout_s=60)
    assert done.status == "succeeded", done.error
    at.run()
    assert at.text_area(key="plan-caption").value == "Sunday brunch"
    assert at.text_input(key="plan-hashtags").value == "#brunch"
    assert at.text_area(key="plan-prompt").value == "ohwx woman at brunch"
    at.text_area(key="plan-prompt").input("ohwx woman at brunch, golden hour")  # every part is editable
    at.selectbox(key="post-img-size").select("custom")
    at.run()
    at.number_input(key="post-img-w").set_value(64)
    at.number_input(key="post-img-h").set_value(64)
    at.number_input(key="post-img-steps").set_value(2)
    btn(at, "Generate image").click().run()
    assert not at.exception, at.exception
    image = jobs.wait(ctx, at.session_state["post_image_job"], timeout_s=120)
    assert image.status == "succeeded", image.error
    assert image.payload["prompt"] == "ohwx woman at brunch, golden hour" and image.payload["influencer_id"] == inf.id
    assert assets.get_asset(ctx, image.result["asset_ids"][0]).influencer_id == inf.id
