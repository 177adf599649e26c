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


def test_csv_round_trip_keeps_per_target_captions(ctx, influencer, webhook_account):
    post = service.create_post(ctx, influencer_id=influencer.id, scheduled_at=soon(600), caption="Shared",
                               targets=[{"kind": "webhook", "account_id": webhook_account.id},
                                        {"kind": "tiktok", "account_id": webhook_account.id, "caption": "=1+1 short, \"quoted\""}])
    text = export_csv(ctx)
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["target_captions"].startswith("{")  # JSON: never read as a formula
    # Changing only the shared caption on re-import keeps the target's own caption.
    changed = text.replace("Shared", "Shared v2")
    assert import_csv(ctx, changed).updated == [post.id]
    after = service.get_post(ctx, post.id)
    assert after.caption == "Shared v2"
    assert {t.kind: t.caption_override for t in after.targets} == {"webhook": None, "tiktok": "=1+1 short, \"quoted\""}
    # As a new post (no id), the overrides come along.
    created = import_csv(ctx, changed.replace(post.id, ""))
    assert created.errors == []
    copy = service.get_post(ctx, created.created[0])
    assert {t.kind: t.caption_override for t in copy.targets} == {"webhook": None, "tiktok": "=1+1 short, \"quoted\""}


def test_csv_with_an_oversized_cell_or_bad_target_captions_reports_the_row(ctx, influencer, webhook_account):
    header = "id,influencer_id,scheduled_local,targets,caption,target_captions\n"
    at = f"{soon(600):%Y-%m-%d %H:%M}"
    good = f",{influencer.id},{at},webhook:{webhook_account.id},fine,\n"
    bad_json = f",{influencer.id},{at},webhook:{webhook_account.id},x,\"{{not json\"\n"
    wrong_kind = f",{influencer.id},{at},webhook:{webhook_account.id},x,\"{{\"\"tiktok\"\": \"\"y\"\"}}\"\n"
    huge = f",{influencer.id},{at},webhook:{webhook_account.id},\"{'x' * 200_000}\",\n"
    report = import_csv(ctx, (header + good + bad_json + wrong_kind + huge + good).encode())
    assert len(report.created) == 1
    assert [e.split(":")[0] for e in report.errors] == ["row 3", "row 4", "row 5"]
    assert "target_captions" in report.errors[0] and "not one of the row's targets" in report.errors[1]
    assert "unreadable CSV" in report.errors[2] and "rest was skipped" in report.errors[2]


def test_csv_in_another_encoding_is_refused_and_a_bom_is_fine(ctx, influencer, webhook_account):
    row = f"influencer_id,scheduled_local,targets,caption\n{influencer.id},{soon(600):%Y-%m-%d %H:%M},webhook:{webhook_account.id},Café\n"
    with pytest.raises(InvalidInput, match="UTF-8"):
        import_csv(ctx, row.encode("latin-1"))
    with pytest.raises(InvalidInput, match="UTF-8"):
        import_csv(ctx, row.encode("utf-16"))
    report = import_csv(ctx, row.encode("utf-8-sig"))  # Excel's "CSV UTF-8" starts with a BOM
    assert report.errors == [] and service.get_post(ctx, report.created[0]).caption == "Café"
