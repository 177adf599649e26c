"""Posting slots per influencer (e.g. Mon-Fri 09:00 and 18:00) and "next free slot"."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from backend.calendar.models import Post, PostingSlot, SlotOut
from backend.calendar.timezones import local_to_utc, workspace_tz
from backend.context import Ctx
from backend.db import session_scope, utcnow
from backend.errors import InvalidInput
from backend.settings import get_settings

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _clean(slots: list[tuple[int, str]]) -> list[tuple[int, str]]:
    reasons, out = [], set()
    for weekday, time in slots:
        if not (isinstance(weekday, int) and 0 <= weekday <= 6):
            reasons.append(f"weekday {weekday!r} is not 0 (Mon) .. 6 (Sun)")
        elif not _TIME.match(str(time).strip()):
            reasons.append(f"time {time!r} is not HH:MM")
        else:
            out.add((weekday, str(time).strip()))
    if reasons:
        raise InvalidInput("invalid slots", reasons)
    return sorted(out)


def set_slots(ctx: Ctx, influencer_id: str, slots: list[tuple[int, str]]) -> list[SlotOut]:
    """Replace the influencer's posting slots."""
    ctx.require("editor")
    from backend.influencers.service import get_influencer

    get_influencer(ctx, influencer_id)
    clean = _clean(slots)
    with session_scope() as s:
        s.execute(delete(PostingSlot).where(PostingSlot.tenant_id == ctx.tenant_id, PostingSlot.influencer_id == influencer_id))
        for weekday, time in clean:
            s.add(PostingSlot(tenant_id=ctx.tenant_id, influencer_id=influencer_id, weekday=weekday, time=time))
    return list_slots(ctx, influencer_id)


def list_slots(ctx: Ctx, influencer_id: str) -> list[SlotOut]:
    with session_scope() as s:
        rows = s.scalars(select(PostingSlot).where(PostingSlot.tenant_id == ctx.tenant_id, PostingSlot.influencer_id == influencer_id)
                         .order_by(PostingSlot.weekday, PostingSlot.time))
        return [SlotOut.model_validate(r, from_attributes=True) for r in rows]


def slot_times(ctx: Ctx, influencer_id: str, start: datetime, end: datetime) -> list[datetime]:
    """Every slot instant (UTC) in ``[start, end)``; slots are wall-clock times in the workspace zone."""
    slots = list_slots(ctx, influencer_id)
    if not slots:
        return []
    tz = workspace_tz(ctx)
    day = start.astimezone(tz).date()
    out = []
    while True:
        for slot in (x for x in slots if x.weekday == day.weekday()):
            h, m = map(int, slot.time.split(":"))
            try:
                at = local_to_utc(datetime(day.year, day.month, day.day, h, m), tz)
            except InvalidInput:
                continue  # a slot inside a DST gap does not exist that day
            if start <= at < end:
                out.append(at)
        day += timedelta(days=1)
        if local_to_utc(datetime(day.year, day.month, day.day), tz) >= end:
            return sorted(out)


def next_free_slot(ctx: Ctx, influencer_id: str, *, after: datetime | None = None, horizon_days: int = 60) -> datetime | None:
    """The first slot after ``after`` (default now) with no post of the influencer within the gap."""
    start = after or utcnow()
    gap = timedelta(minutes=max(get_settings().post_min_gap_minutes, 1))
    candidates = slot_times(ctx, influencer_id, start, start + timedelta(days=horizon_days))
    if not candidates:
        return None
    with session_scope() as s:
        taken = list(s.scalars(select(Post.scheduled_at).where(
            Post.tenant_id == ctx.tenant_id, Post.influencer_id == influencer_id,
            Post.scheduled_at > start - gap, Post.scheduled_at < candidates[-1] + gap,
        )))
    for at in candidates:
        if all(abs(at - t) >= gap for t in taken):
            return at
    return None
