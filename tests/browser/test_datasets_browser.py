"""The Datasets page in headless Chromium: create a dataset, upload three images, see thumbnails, edit a caption."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import goto_page, screenshot, setup_and_login, wait_for_text
from tests.datasets.imagegen import jpeg, jpeg_rotated, png

pytestmark = pytest.mark.browser


def test_create_upload_see_thumbnails_and_edit_a_caption(studio_server, page, tmp_path):
    files = {"one.jpg": jpeg(1), "two.png": png(2), "three.jpg": jpeg_rotated(3)}
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    setup_and_login(page, studio_server.base_url)
    goto_page(page, "Datasets")
    page.get_by_label("Name", exact=True).fill("Mia")
    page.get_by_label("Trigger word", exact=True).fill("ohwx")
    page.get_by_label("Class word", exact=True).fill("woman")
    page.get_by_role("button", name="Create dataset").click()
    page.get_by_role("heading", name="Mia").first.wait_for()

    page.locator("[data-testid='stFileUploader'] input[type='file']").first.set_input_files(paths)
    for name in files:
        wait_for_text(page, name)
    page.get_by_role("button", name="Upload", exact=True).click()
    wait_for_text(page, "Accepted", timeout_ms=60_000)
    # Three thumbnails in the grid, each captioned with its file name and oriented size.
    page.locator("[data-testid='stImage'] img").nth(2).wait_for(timeout=60_000)
    assert page.locator("[data-testid='stImage'] img").count() == 3
    wait_for_text(page, "three.jpg · 300×400")

    caption = page.locator("textarea[aria-label='Caption']").first
    caption.fill("ohwx woman smiling in the park")
    page.get_by_role("button", name="Save", exact=True).first.click()
    wait_for_text(page, "Saved.")
    screenshot(page, "datasets_grid")

    listed = json.loads(studio_server.backend("dataset", "list", "--tenant", "acme-studio", "--json").stdout)
    assert listed["total"] == 1 and listed["datasets"][0]["image_count"] == 3
    shown = json.loads(studio_server.backend("dataset", "show", "--tenant", "acme-studio", listed["datasets"][0]["id"], "--json").stdout)
    assert sorted(i["file"] for i in shown["images"]) == ["one.jpg", "three.jpg", "two.png"]
    assert "ohwx woman smiling in the park" in [i["caption"] for i in shown["images"]]
