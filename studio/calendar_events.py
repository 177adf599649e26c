"""The calendar widget's data: posts as FullCalendar events, and its callbacks turned into actions.

FullCalendar runs with ``timeZone: "UTC"`` and receives workspace wall-clock times, so what it
shows, and the times its callbacks send back, are the workspace's local times whatever the
browser's zone; the server converts them to UTC instants (``backend.calendar.timezones``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from backend.calendar import service
from backend.calendar.models import PostOut
from backend.calendar.timezones import local_to_utc, utc_to_local, workspace_tz
from backend.context import Ctx
from backend.errors import DomainError

STATUS_COLOURS = {
    "draft": "#9e9e9e",
    "needs_approval": "#f9a825",
    "scheduled": "#1e88e5",
    "publishing": "#8e24aa",
    "published": "#43a047",
    "failed": "#e53935",
    "unconfirmed": "#fb8c00",
}
VIEWS = {"Month": "dayGridMonth", "Week": "timeGridWeek", "List": "listMonth"}
LOCKED = ("publishing", "published", "unconfirmed")


def _wall(at: datetime, tz) -> str:  # type: ignore[no-untyped-def]
    return utc_to_local(at, tz).strftime("%Y-%m-%dT%H:%M:%S")


def events_for(ctx: Ctx, posts: list[PostOut]) -> list[dict[str, Any]]:
    """FullCalendar events, coloured by status; sent posts cannot be dragged."""
    tz = workspace_tz(ctx)
    out = []
    for p in posts:
        locked = any(t.status in LOCKED for t in p.targets)
        out.append({
            "id": p.id,
            "title": f"{p.title or p.caption[:40] or 'Post'} · {p.status.replace('_', ' ')}",
            "start": _wall(p.scheduled_at, tz),
            "end": _wall(p.scheduled_at + timedelta(minutes=30), tz),
            "backgroundColor": STATUS_COLOURS.get(p.status, "#9e9e9e"),
            "borderColor": STATUS_COLOURS.get(p.status, "#9e9e9e"),
            "editable": not locked,
            "extendedProps": {"status": p.status, "influencer_id": p.influencer_id},
        })
    return out


def calendar_options(view: str, *, initial_date: str | None = None, editable: bool = True) -> dict[str, Any]:
    return {
        "initialView": VIEWS.get(view, "dayGridMonth"),
        "timeZone": "UTC",  # events carry workspace wall-clock times; see the module docstring
        "editable": editable,
        "selectable": editable,
        "eventDurationEditable": False,
        "firstDay": 1,
        "height": 720,
        "nowIndicator": True,
        "headerToolbar": {"left": "prev,next today", "center": "title", "right": ""},
        **({"initialDate": initial_date} if initial_date else {}),
    }


def parse_wall(text: str) -> datetime:
    """A time sent back by the widget as a naive workspace wall-clock time."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=None)


@dataclass
class CalendarAction:
    """What a widget callback asks for: create on a day, edit a post, or the result of a drag."""

    kind: str  # create | edit | moved | refused | none
    post_id: str | None = None
    when: datetime | None = None  # local wall-clock time (create) or the new UTC time (moved)
    message: str = ""
    warnings: list[str] | None = None


def callback_signature(value: dict[str, Any] | None) -> str:
    """A key for one callback value: the widget repeats its last value on every rerun."""
    import json

    return json.dumps(value or {}, sort_keys=True, default=str)


def handle_callback(ctx: Ctx, value: dict[str, Any] | None, *, now: datetime | None = None) -> CalendarAction:
    """Turn one widget callback into an action; a drag is validated and saved on the server."""
    if not value or not value.get("callback"):
        return CalendarAction("none")
    cb = value["callback"]
    data = value.get(cb) or {}
    if cb in ("dateClick", "select"):
        raw = data.get("date") or data.get("start")
        if not raw:
            return CalendarAction("none")
        when = parse_wall(raw)
        if data.get("allDay", len(raw) <= 10):
            when = when.replace(hour=9, minute=0)  # a click on a day proposes the morning
        return CalendarAction("create", when=when)
    event = data.get("event") or {}
    if cb == "eventClick":
        return CalendarAction("edit", post_id=str(event.get("id") or "")) if event.get("id") else CalendarAction("none")
    if cb == "eventChange":
        post_id = str(event.get("id") or "")
        if not post_id or not event.get("start"):
            return CalendarAction("none")
        try:
            moved = service.reschedule_post(ctx, post_id, local_to_utc(parse_wall(event["start"]), workspace_tz(ctx)), now=now)
        except DomainError as err:
            return CalendarAction("refused", post_id=post_id, message=str(err))
        return CalendarAction("moved", post_id=post_id, when=moved.scheduled_at, message=f"moved to {moved.local_time}",
                              warnings=moved.warnings)
    return CalendarAction("none")
