"""The Datasets page in headless Chromium: create a dataset, upload three images, see thumbnails, edit a caption."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import fill, goto_page, screenshot, setup_and_login, submit, upload_files, wait_for_text, wait_idle
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
    form = {"Name": "Mia", "Trigger word": "ohwx", "Class word": "woman"}
    for label, value in form.items():
        fill(page, label, value)
    submit(page, "Create dataset", form)
    page.get_by_role("heading", name="Mia").first.wait_for()

    upload_files(page, paths)
    wait_for_text(page, "Accepted")
    # Three thumbnails in the grid, each captioned with its file name and oriented size.
    page.locator("[data-testid='stImage'] img").nth(2).wait_for()
    wait_idle(page)
    assert page.locator("[data-testid='stImage'] img").count() == 3
    wait_for_text(page, "three.jpg · 300×400")

    caption = page.locator("textarea[aria-label='Caption']").first
    fill(page, caption, "ohwx woman smiling in the park")
    submit(page, page.get_by_role("button", name="Save", exact=True).first, {caption: "ohwx woman smiling in the park"})
    wait_for_text(page, "Saved.")
    screenshot(page, "datasets_grid")

    listed = json.loads(studio_server.backend("dataset", "list", "--tenant", "acme-studio", "--json").stdout)
    assert listed["total"] == 1 and listed["datasets"][0]["image_count"] == 3
    shown = json.loads(studio_server.backend("dataset", "show", "--tenant", "acme-studio", listed["datasets"][0]["id"], "--json").stdout)
    assert sorted(i["file"] for i in shown["images"]) == ["one.jpg", "three.jpg", "two.png"]
    assert "ohwx woman smiling in the park" in [i["caption"] for i in shown["images"]]
