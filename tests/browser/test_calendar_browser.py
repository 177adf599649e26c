"""The Calendar page in headless Chromium: click a day, create a post, see it in the month view."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from tests.browser.conftest import fill, goto_page, screenshot, setup_and_login, submit, wait_for_text, wait_idle

pytestmark = pytest.mark.browser
CALENDAR = "iframe[title='streamlit_calendar.calendar']"


def calendar_frame(page):  # type: ignore[no-untyped-def]
    """The calendar's iframe once the rerun settled (a re-keyed calendar briefly shows two)."""
    wait_idle(page)
    deadline = time.monotonic() + 60
    while page.locator(CALENDAR).count() != 1:
        assert time.monotonic() < deadline, f"{page.locator(CALENDAR).count()} calendars on the page"
        page.wait_for_timeout(200)
    return page.frame_locator(CALENDAR)


def test_create_a_post_from_the_calendar_and_see_it_in_the_month_view(studio_server, page):
    base = studio_server.base_url
    setup_and_login(page, base)
    studio_server.backend("influencers", "create", "--tenant", "acme-studio", "--name", "Mia")
    goto_page(page, "Calendar")
    wait_for_text(page, "0 post(s)")
    cal = calendar_frame(page)
    cal.locator(".fc-daygrid-day").first.wait_for()
    day = date.today() + timedelta(days=2)
    if day.month != date.today().month:
        cal.locator(".fc-next-button").click()
    cal.locator(f".fc-daygrid-day[data-date='{day.isoformat()}']").click()
    wait_for_text(page, "New post")
    post = {"Title": "Browser launch post", "Caption": "Made in the month view"}
    for label, value in post.items():
        fill(page, label, value)
    submit(page, "Create post", post)
    wait_for_text(page, "1 post(s)")
    cal = calendar_frame(page)
    if day.month != date.today().month:
        cal.locator(".fc-next-button").click()
    event = cal.locator(f".fc-daygrid-day[data-date='{day.isoformat()}'] .fc-event", has_text="Browser launch post")
    event.wait_for()
    screenshot(page, "calendar_month")
    listed = studio_server.backend("posts", "list", "--tenant", "acme-studio", "--json")
    assert "Browser launch post" in listed.stdout and f"{day.isoformat()} 09:00" in listed.stdout
