"""CSV import/export of posts and the iCalendar (.ics) export of the schedule."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from backend.calendar import service
from backend.calendar.models import PostOut, TargetIn
from backend.calendar.timezones import format_local, parse_local, workspace_tz, zone
from backend.context import Ctx
from backend.errors import DomainError, InvalidInput

CSV_COLUMNS = ["id", "influencer_id", "scheduled_local", "timezone", "title", "caption", "media_kind",
               "media_asset_ids", "targets", "status", "target_captions"]
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_ROWS = 5000
# Spreadsheets run cells starting with these as formulas: exported with a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _uncell(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:2] in _FORMULA_START and value[1:2] else value


def _targets_text(post: PostOut) -> str:
    return " ".join(f"{t.kind}:{t.account_id or ''}" for t in post.targets)


def _captions_text(post: PostOut) -> str:
    """Per-target caption overrides as a JSON object {kind: caption}; "" when there are none."""
    overrides = {t.kind: t.caption_override for t in post.targets if t.caption_override is not None}
    return json.dumps(overrides, ensure_ascii=False, sort_keys=True) if overrides else ""


def _parse_targets(text: str, captions: str = "") -> list[TargetIn]:
    try:
        overrides = json.loads(captions) if captions.strip() else {}
    except ValueError:
        raise InvalidInput("invalid target_captions", ['use a JSON object such as {"instagram_feed": "caption"}']) from None
    if not isinstance(overrides, dict) or not all(isinstance(v, str) for v in overrides.values()):
        raise InvalidInput("invalid target_captions", ['use a JSON object such as {"instagram_feed": "caption"}'])
    out = []
    for part in text.split():
        kind, _, account = part.partition(":")
        kind = kind.strip()
        out.append(TargetIn(kind=kind, account_id=account.strip() or None, caption=overrides.get(kind)))
    unknown = sorted(set(overrides) - {t.kind for t in out})
    if unknown:
        raise InvalidInput("invalid target_captions", [f"{k!r} is not one of the row's targets" for k in unknown])
    return out


def export_csv(ctx: Ctx, *, start: datetime | None = None, end: datetime | None = None) -> str:
    """The workspace's posts as CSV, times local to the workspace zone."""
    tz = workspace_tz(ctx)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for p in service.list_posts(ctx, start=start, end=end):
        w.writerow([p.id, p.influencer_id, format_local(p.scheduled_at, tz), tz.key, _cell(p.title), _cell(p.caption),
                    p.media_kind, " ".join(p.media_asset_ids), _targets_text(p), p.status, _captions_text(p)])
    return buf.getvalue()


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "row N: reason"

    def as_dict(self) -> dict[str, Any]:
        return {"created": len(self.created), "updated": len(self.updated), "errors": self.errors}


def import_csv(ctx: Ctx, data: bytes | str) -> ImportReport:
    """Create posts from CSV rows (or update the row's post when its id exists); bad rows are reported."""
    ctx.require("editor")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_CSV_BYTES:
        raise InvalidInput("CSV too large", [f"{len(raw)} bytes; the limit is {MAX_CSV_BYTES}"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("CSV is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = {"influencer_id", "scheduled_local", "targets"} - set(reader.fieldnames or [])
    if missing:
        raise InvalidInput("CSV header incomplete", [f"missing column {m}" for m in sorted(missing)])
    default_tz = workspace_tz(ctx)
    report = ImportReport()
    n = 1  # the header is row 1, as a spreadsheet numbers it
    while True:
        n += 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            # A row the csv module cannot read (an oversized cell) ends the import: what follows
            # it cannot be split into rows reliably.
            report.errors.append(f"row {n}: unreadable CSV ({err}); the rest was skipped")
            break
        if n - 1 > MAX_CSV_ROWS:
            report.errors.append(f"row {n}: more than {MAX_CSV_ROWS} rows; the rest was skipped")
            break
        try:
            _import_row(ctx, row, default_tz, report)
        except DomainError as err:
            report.errors.append(f"row {n}: {err}")
        except (ValueError, TypeError) as err:
            report.errors.append(f"row {n}: {err}")
    return report


def _import_row(ctx: Ctx, row: dict[str, str | None], default_tz, report: ImportReport) -> None:  # type: ignore[no-untyped-def]
    get = lambda k: (row.get(k) or "").strip()  # noqa: E731
    tz = zone(get("timezone")) if get("timezone") else default_tz
    at = parse_local(get("scheduled_local"), tz)
    fields = dict(
        caption=_uncell(row.get("caption") or ""), title=_uncell(get("title")),
        media_kind=get("media_kind") or "none", media_asset_ids=get("media_asset_ids").split(),
        targets=_parse_targets(get("targets"), get("target_captions")),
    )
    post_id = get("id")
    if post_id:
        try:
            current = service.get_post(ctx, post_id)
        except DomainError:
            current = None
        if current is not None:
            unchanged = (current.scheduled_at == at and current.caption == fields["caption"] and current.title == fields["title"]
                         and current.media_kind == fields["media_kind"] and current.media_asset_ids == fields["media_asset_ids"]
                         and [(t.kind, t.account_id, t.caption_override) for t in current.targets]
                         == [(t.kind, t.account_id, t.caption) for t in fields["targets"]])
            if not unchanged:
                service.update_post(ctx, post_id, scheduled_at=at, **fields)
            report.updated.append(post_id)
            return
    post = service.create_post(ctx, influencer_id=get("influencer_id"), scheduled_at=at, **fields)
    report.created.append(post.id)


def export_ics(ctx: Ctx, *, start: datetime | None = None, end: datetime | None = None, event_minutes: int = 15) -> bytes:
    """The schedule as an iCalendar file: one event per post, in UTC, with the zone named."""
    from icalendar import Calendar, Event

    tz = workspace_tz(ctx)
    cal = Calendar()
    cal.add("prodid", "-//InfluencerAI Studio//Content calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Content calendar")
    cal.add("x-wr-timezone", tz.key)
    for p in service.list_posts(ctx, start=start, end=end):
        ev = Event()
        ev.add("uid", f"{p.id}@influencerai-studio")
        ev.add("dtstamp", p.scheduled_at)
        ev.add("dtstart", p.scheduled_at)
        ev.add("dtend", p.scheduled_at + timedelta(minutes=event_minutes))
        ev.add("summary", p.title or (p.caption[:60] or "Post"))
        targets = ", ".join(f"{t.kind} ({t.status})" for t in p.targets)
        ev.add("description", f"{p.caption}\n\nTargets: {targets}")
        ev.add("status", "CONFIRMED" if p.status in ("scheduled", "published", "publishing") else "TENTATIVE")
        ev.add("categories", [p.status])
        cal.add_component(ev)
    return cal.to_ical()
