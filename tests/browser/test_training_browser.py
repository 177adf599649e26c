"""The Train page in headless Chromium: create a dataset and upload photos inline, train the demo model, see 100 %."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import JOB_TIMEOUT_MS, fill, goto_page, screenshot, setup_and_login, submit, upload_files, wait_for_text, wait_idle
from tests.browser.test_generation_browser import set_number
from tests.datasets.imagegen import png

pytestmark = pytest.mark.browser


def test_photos_to_trained_lora_on_one_page(studio_server, page, tmp_path):
    paths = []
    for i in range(3):
        (tmp_path / f"mia{i}.png").write_bytes(png(i, (256 + 64 * i, 256)))
        paths.append(str(tmp_path / f"mia{i}.png"))
    setup_and_login(page, studio_server.base_url)
    goto_page(page, "Train")
    wait_for_text(page, "Choose or create a dataset first.")

    # (1) No dataset yet: create one and upload photos right here (the Datasets widgets, inline).
    trigger = page.get_by_label("Trigger word", exact=True).first
    fill(page, "Name", "Mia")
    fill(page, trigger, "ohwx")
    submit(page, "Create dataset", {"Name": "Mia", trigger: "ohwx"})
    wait_for_text(page, "Upload photos to Mia")
    upload_files(page, paths)
    wait_for_text(page, "Accepted")  # the ingest report
    # Ingested: the page reran with the dataset's new statistics.
    page.get_by_test_id("stMetric").filter(has_text="Images").filter(has_text="3").first.wait_for()
    wait_idle(page)

    # (2) demo model + demo-quick preset are the defaults for a fresh studio; (3) a few steps.
    wait_for_text(page, "demo — random weights, output is noise")
    set_number(page, "Max steps", 4)
    set_number(page, "Save a checkpoint every N steps (0 = end only)", 2)
    set_number(page, "Sampling steps", 2)
    wait_for_text(page, "4 steps")  # total steps computed live
    # (4) review: estimates, then start; the page switches to the run.
    page.get_by_test_id("stMetric").filter(has_text="Total steps").filter(has_text="4").first.wait_for()
    submit(page, "Start training")
    # The demo model is built on first use, then the run trains on the server's in-process gpu worker.
    wait_for_text(page, "step 4/4 — 100%", timeout_ms=JOB_TIMEOUT_MS)
    wait_for_text(page, "LoRA Mia LoRA ready")
    # The controls update in place too: a finished run has no Stop / Save now any more.
    page.get_by_role("button", name="Stop (keep checkpoint)").wait_for(state="detached")
    wait_idle(page)
    page.get_by_role("button", name="Download LoRA at step 2").wait_for()
    page.get_by_role("button", name="Download the LoRA (.safetensors)").wait_for()
    # The end-of-run sample and the loss chart (waited for: the browser loads their code on first use).
    page.locator("[data-testid='stImage'] img").first.wait_for(state="attached")
    page.locator("[data-testid='stVegaLiteChart'], [data-testid='stArrowVegaLiteChart']").first.wait_for(state="attached")
    screenshot(page, "training_run")

    goto_page(page, "LoRAs")
    page.get_by_role("heading", name="Mia LoRA").first.wait_for()
    wait_for_text(page, "rank 4 / alpha 4 · 4 steps at 64 px")
    screenshot(page, "training_loras")

    listed = json.loads(studio_server.backend("loras", "list", "--tenant", "acme-studio", "--json").stdout)
    assert [(x["name"], x["steps"], x["base_model"]) for x in listed] == [("Mia LoRA", 4, "demo-sd15")]
