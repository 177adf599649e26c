"""CSV round trip and hostile CSV; the .ics parses with the icalendar package."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from icalendar import Calendar

from backend.accounts.service import update_tenant
from backend.calendar import service
from backend.calendar.exports import export_csv, export_ics, import_csv
from backend.errors import InvalidInput
from tests.calendar.conftest import soon


def _make(ctx, influencer, account, n=3):  # type: ignore[no-untyped-def]
    return [
        service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(600 * (i + 1)),
                            caption=f"Caption {i}, with \"quotes\"\nand a second line", title=f"Post {i}",
                            targets=[{"kind": "webhook", "account_id": account.id}, {"kind": "tiktok", "account_id": account.id}])
        for i in range(n)
    ]


def test_csv_round_trip_keeps_every_field(ctx, influencer, webhook_account, studio_env):
    update_tenant(ctx, timezone="America/New_York")
    posts = _make(ctx, influencer, webhook_account)
    formula = service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(5000), caption="=HYPERLINK(\"x\")",
                                  targets=[{"kind": "webhook", "account_id": webhook_account.id}])
    text = export_csv(ctx)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 4 and rows[0]["timezone"] == "America/New_York"
    assert next(r for r in rows if r["id"] == formula.id)["caption"].startswith("'=")  # no formula in spreadsheets
    # Re-import into the same workspace: same ids, nothing changes.
    again = import_csv(ctx, text)
    assert again.errors == [] and sorted(again.updated) == sorted([p.id for p in posts] + [formula.id]) and again.created == []
    assert export_csv(ctx) == text
    # Drop the ids: the rows become new posts identical in everything but the id.
    stripped = text.replace(formula.id, "").replace(posts[0].id, "").replace(posts[1].id, "").replace(posts[2].id, "")
    created = import_csv(ctx, stripped)
    assert created.errors == [] and len(created.created) == 4
    before = {(p.scheduled_at, p.caption, p.title, tuple((t.kind, t.account_id) for t in p.targets)) for p in [*posts, formula]}
    new = {(p.scheduled_at, p.caption, p.title, tuple((t.kind, t.account_id) for t in p.targets))
           for p in (service.get_post(ctx, i) for i in created.created)}
    assert new == before


def test_csv_import_updates_time_and_reports_bad_rows(ctx, influencer, webhook_account):
    post = _make(ctx, influencer, webhook_account, n=1)[0]
    rows = list(csv.DictReader(io.StringIO(export_csv(ctx))))
    later = post.scheduled_at + timedelta(days=1)
    rows[0]["scheduled_local"] = f"{later:%Y-%m-%d %H:%M}"
    bad = [
        {**rows[0], "id": "", "scheduled_local": "tomorrow-ish"},
        {**rows[0], "id": "", "scheduled_local": "2001-01-01 10:00"},
        {**rows[0], "id": "", "influencer_id": "nope"},
        {**rows[0], "id": "", "targets": "fax:123"},
        {**rows[0], "id": "", "timezone": "Mars/Olympus"},
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows([rows[0], *bad])
    report = import_csv(ctx, buf.getvalue().encode())
    assert report.updated == [post.id] and report.created == []
    assert [e.split(":")[0] for e in report.errors] == ["row 3", "row 4", "row 5", "row 6", "row 7"]
    assert "past" in report.errors[1] and "not found" in report.errors[2] and "time zone" in report.errors[4]
    assert service.get_post(ctx, post.id).scheduled_at == later


def test_csv_hostile_files_are_refused(ctx):
    with pytest.raises(InvalidInput, match="header"):
        import_csv(ctx, b"a,b\n1,2\n")
    with pytest.raises(InvalidInput, match="UTF-8"):
        import_csv(ctx, b"\xff\xfe\x00bad")
    with pytest.raises(InvalidInput, match="too large"):
        import_csv(ctx, b"influencer_id,scheduled_local,targets\n" + b"x" * (6 * 1024 * 1024))


def test_ics_parses_with_icalendar(ctx, influencer, webhook_account):
    update_tenant(ctx, timezone="Europe/Rome")
    posts = _make(ctx, influencer, webhook_account, n=2)
    cal = Calendar.from_ical(export_ics(ctx))
    events = list(cal.walk("VEVENT"))
    assert cal["X-WR-TIMEZONE"] == "Europe/Rome"
    assert {str(e["UID"]) for e in events} == {f"{p.id}@influencerai-studio" for p in posts}
    starts = sorted(e.decoded("DTSTART") for e in events)
    assert starts == sorted(p.scheduled_at for p in posts)
    assert all(str(e["SUMMARY"]).startswith("Post ") for e in events)
