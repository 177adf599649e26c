"""The platform in headless Chromium: first-run setup, login, Jobs page, cookie re-login, logout."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ADMIN, goto_page, login, screenshot, setup_and_login, submit, wait_for_cookie, wait_for_text, wait_idle

pytestmark = pytest.mark.browser


def test_setup_login_and_jobs_page(studio_server, page):
    base = studio_server.base_url
    page.goto(f"{base}/jobs")  # before any setup, a page URL shows only the setup form
    wait_for_text(page, "Welcome to InfluencerAI Studio")
    assert page.get_by_role("heading", name="Jobs").count() == 0
    screenshot(page, "platform_setup")

    setup_and_login(page, base)
    wait_for_text(page, "Dashboard")

    job_id = studio_server.submit_job("acme-studio", "system.sleep", {"steps": 400, "delay_s": 0.25})
    goto_page(page, "Jobs")
    wait_for_text(page, "1 job")
    page.goto(f"{base}/jobs?job={job_id}")  # the detail view opens from the URL
    wait_for_text(page, f"Job {job_id}")
    wait_for_text(page, "sleeping —")  # the server's embedded worker runs it
    page.get_by_role("button", name="Cancel").wait_for()
    page.wait_for_timeout(1500)  # let the in-place refresh advance the bar once more
    shot = screenshot(page, "platform_jobs")
    assert shot.stat().st_size > 10_000

    submit(page, page.get_by_role("button", name="Cancel"))
    wait_for_text(page, "cancelled")
    done = studio_server.backend("jobs", "show", "--tenant", "acme-studio", "--json", job_id)
    assert '"status": "cancelled"' in done.stdout


def test_cookie_relogin_and_logout(studio_server, page):
    base = studio_server.base_url
    setup_and_login(page, base)
    cookie = wait_for_cookie(page, "studio_auth")  # written by the authenticator's component
    assert cookie["sameSite"] == "Strict"
    page.reload()  # a new session in the same browser: the cookie logs it in again
    wait_for_text(page, f"Signed in as {ADMIN['username']}")
    submit(page, page.get_by_role("button", name="Log out"))
    wait_for_text(page, "You are logged out.")
    wait_for_cookie(page, "studio_auth", present=False)  # deleted by the authenticator's component
    page.goto(f"{base}/users")  # after logout no page shows anything but the login
    wait_idle(page)  # the cookie component's first value reruns the login page once
    page.get_by_label("Username", exact=True).wait_for()
    assert page.get_by_role("heading", name="Users").count() == 0
    assert page.get_by_text("Signed in as").count() == 0
    login(page, base, ADMIN["username"], ADMIN["password"])
