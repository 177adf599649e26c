"""Image jobs with the workspace's LoRAs: one trained in the test by the real trainer, one recorded through
training's service; same seed with and without a LoRA differ; the CLI's --lora; tenancy."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from PIL import Image

from backend.errors import NotFound
from backend.generation import service as assets
from backend.generation.images import submit_images
from backend.generation.loras import get_lora_ref, list_lora_refs
from backend.jobs import service as jobs
from backend.training import service as training
from tests.generation.loras import record_random_lora

SMALL = {"width": 64, "height": 64, "steps": 3, "seed": 21}


def pixels(ctx, asset_id: str) -> str:  # type: ignore[no-untyped-def]
    return hashlib.sha256(Image.open(io.BytesIO(assets.asset_bytes(ctx, asset_id))).tobytes()).hexdigest()


def run_image_job(ctx, **fields):  # type: ignore[no-untyped-def]
    done = jobs.wait(ctx, submit_images(ctx, **(SMALL | fields)).id, timeout_s=120)
    assert done.status == "succeeded", done.error
    return done


def test_lora_trained_in_the_test_changes_the_image(ctx, demo_sd15, embedded_workers):
    from tests.training.conftest import quick, upload_dataset

    ds = upload_dataset(ctx, n=2, name="Mia", trigger="ohwx")
    # A high learning rate so that 4 steps move the weights far enough to show in 8-bit pixels.
    run = training.submit(ctx, dataset_id=ds.id, base_model="demo-sd15", preset="demo-quick", name="Mia v1",
                          params=quick(max_steps=4, learning_rate=0.05, sample_every=0, sample_prompts=[]))
    trained = jobs.wait(ctx, run.id, timeout_s=180)
    assert trained.status == "succeeded", trained.error
    lora = training.lora_for_job(ctx, run.id)
    assert lora is not None

    ref = get_lora_ref(ctx, lora.id)
    assert (ref.name, ref.trigger_word, ref.base_model, ref.architecture) == ("Mia v1", "ohwx", "demo-sd15", "sd15")
    assert [r.id for r in list_lora_refs(ctx)] == [lora.id]

    plain = run_image_job(ctx, prompt="a photo of ohwx woman")
    with_lora = run_image_job(ctx, prompt="a photo of ohwx woman", loras=[{"id": lora.id, "strength": 1.0}])
    assert with_lora.payload["base_model"] == "demo-sd15" and with_lora.payload["lora_names"] == {lora.id: "Mia v1"}
    (a,), (b,) = plain.result["asset_ids"], with_lora.result["asset_ids"]
    assert pixels(ctx, a) != pixels(ctx, b), "the trained LoRA did not change the image"
    shown = assets.get_asset(ctx, b)
    assert shown.params["loras"] == [{"id": lora.id, "name": "Mia v1", "strength": 1.0}]
    assert [x.id for x in assets.list_assets(ctx, lora_id=lora.id)] == [b]  # the gallery's LoRA filter
    # The LoRA was unloaded after its job: the same request without it gives the first image again.
    again = run_image_job(ctx, prompt="a photo of ohwx woman")
    assert pixels(ctx, again.result["asset_ids"][0]) == pixels(ctx, a)


def test_cli_lora_with_strength(ctx, demo_sd15, embedded_workers, capsys):
    from backend.cli import main

    lora = record_random_lora(ctx, name="Zoe", trigger_word="zxq")
    base = ["generate", "image", "--tenant", "acme", "--prompt", "zxq on a boat", "--size", "64x64", "--steps", "2",
            "--seed", "9", "--json"]
    assert main(base) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*base, "--lora", f"{lora.id}:0.6"]) == 0
    job = json.loads(capsys.readouterr().out)
    assert job["status"] == "succeeded"
    assert jobs.get(ctx, job["job_id"]).payload["loras"] == [{"id": lora.id, "strength": 0.6}]
    asset = assets.get_asset(ctx, job["result"]["asset_ids"][0])
    assert asset.params["loras"] == [{"id": lora.id, "name": "Zoe", "strength": 0.6}]
    assert pixels(ctx, asset.id) != pixels(ctx, plain["result"]["asset_ids"][0])
    assert "<lora:Zoe:0.6>" in Image.open(io.BytesIO(assets.asset_bytes(ctx, asset.id))).text["parameters"]
    # A bad strength and an unknown LoRA are refused before anything is queued.
    assert main([*base, "--lora", f"{lora.id}:strong"]) == 1
    assert "ID:STRENGTH" in capsys.readouterr().err
    assert main([*base, "--lora", "nope"]) == 1
    assert "not found" in capsys.readouterr().err.lower()


def test_another_workspaces_lora_is_not_found(ctx, other_ctx, demo_sd15):
    lora = record_random_lora(ctx, name="Zoe", trigger_word="zxq")
    assert list_lora_refs(other_ctx) == []
    with pytest.raises(NotFound):
        get_lora_ref(other_ctx, lora.id)
    with pytest.raises(NotFound):
        submit_images(other_ctx, prompt="x", loras=[{"id": lora.id, "strength": 0.8}], **SMALL)
    assert jobs.list_jobs(other_ctx)[1] == 0  # nothing was queued


def test_generate_page_offers_the_workspaces_loras(ctx, other_ctx, demo_sd15, embedded_workers):
    from tests.generation.test_pages import btn, page

    mine = record_random_lora(ctx, name="Zoe", trigger_word="zxq")
    record_random_lora(other_ctx, name="Theirs", trigger_word="thr")
    at = page("pages/generate.py", ctx)
    assert not at.exception
    assert at.multiselect(key="img-loras").options == ["Zoe (zxq)"]
    at.text_area(key="img-prompt").input("zxq smiling")
    at.selectbox(key="img-size").select("custom")
    at.run()
    at.number_input(key="img-w").set_value(64)
    at.number_input(key="img-h").set_value(64)
    at.number_input(key="img-steps").set_value(2)
    at.multiselect(key="img-loras").select("Zoe (zxq)")
    at.run()
    at.slider(key=f"img-str-{mine.id}").set_value(0.5)
    btn(at, "Generate").click().run()
    assert not at.exception, at.exception
    done = jobs.wait(ctx, at.session_state["image_job"], timeout_s=120)
    assert done.status == "succeeded", done.error
    assert done.payload["loras"] == [{"id": mine.id, "strength": 0.5}] and done.payload["base_model"] == "demo-sd15"


def test_influencer_default_lora_must_be_the_workspaces(ctx, other_ctx, demo_sd15):
    from backend.influencers import service as influencers
    from tests.generation.test_pages import btn, page

    lora = record_random_lora(ctx, name="Zoe", trigger_word="zxq")
    with pytest.raises(NotFound):
        influencers.create_influencer(other_ctx, name="Thief", default_lora_id=lora.id)
    inf = influencers.create_influencer(ctx, name="Mia")
    with pytest.raises(NotFound):
        influencers.update_influencer(ctx, inf.id, default_lora_id="nope")
    at = page("pages/influencers.py", ctx)
    box = next(s for s in at.selectbox if s.label == "Default LoRA")
    assert box.options == ["(none)", "Zoe (zxq)"]
    box.select("Zoe (zxq)")
    btn(at, "Save").click().run()
    assert not at.exception
    assert influencers.get_influencer(ctx, inf.id).default_lora_id == lora.id
