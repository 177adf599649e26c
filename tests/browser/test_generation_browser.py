"""The Generate and Gallery pages in headless Chromium: generate an image with the demo model, find it in the gallery."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import JOB_TIMEOUT_MS, fill, goto_page, screenshot, setup_and_login, submit, wait_for_text, wait_idle

pytestmark = pytest.mark.browser
PROMPT = "a lighthouse at dusk, ohwx"


def set_number(page, label: str, value: int) -> None:  # type: ignore[no-untyped-def]
    """A number input commits on blur (``fill`` tabs out), reruns, and is checked to hold ``value``."""
    fill(page, label, str(value))


def test_generate_an_image_and_find_it_in_the_gallery(studio_server, page):
    setup_and_login(page, studio_server.base_url)
    goto_page(page, "Generate")
    page.get_by_role("tab", name="Images only").click()
    fill(page, "Prompt", PROMPT)
    # A small custom size and few steps keep the CPU render quick.
    page.get_by_test_id("stSelectbox").filter(has_text="Size").first.click()
    page.get_by_role("option", name="custom").click()
    page.get_by_label("Width", exact=True).wait_for()
    set_number(page, "Width", 64)
    set_number(page, "Height", 64)
    set_number(page, "Steps", 3)
    fill(page, "Seed (empty = random)", "42")
    submit(page, "Generate", {"Prompt": PROMPT, "Width": "64", "Height": "64", "Steps": "3", "Seed (empty = random)": "42"})
    # The demo model is built on first use, then the job runs on the server's in-process gpu worker.
    wait_for_text(page, "Saved to the Gallery", timeout_ms=JOB_TIMEOUT_MS)
    wait_for_text(page, "seed 42")
    wait_idle(page)
    preview = page.get_by_test_id("stMain").locator("[data-testid='stImage'] img")
    assert preview.count() == 1
    preview.first.scroll_into_view_if_needed()  # the page scrolls inside its own container
    screenshot(page, "generation_generate")

    goto_page(page, "Gallery")
    wait_for_text(page, "1 asset(s)")
    grid = page.locator("[data-testid='stImage'] img")
    grid.first.wait_for()
    assert grid.count() == 1
    wait_for_text(page, PROMPT)
    submit(page, page.get_by_test_id("stMain").get_by_role("button", name="Open", exact=True))
    wait_for_text(page, "Reuse these settings")
    page.get_by_test_id("stMain").get_by_role("button", name="Download", exact=True).wait_for()
    screenshot(page, "generation_gallery")

    listed = json.loads(studio_server.backend("jobs", "list", "--tenant", "acme-studio", "--type", "generation.image",
                                              "--json").stdout)
    assert [j["status"] for j in listed["jobs"]] == ["succeeded"]
