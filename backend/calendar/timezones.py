"""Times are stored in UTC and shown in the workspace's time zone; conversions live here."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backend.context import Ctx
from backend.errors import InvalidInput

LOCAL_FORMAT = "%Y-%m-%d %H:%M"


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (InvalidInput when unknown)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("invalid time zone", [f"{name!r} is not an IANA time zone"]) from None


def workspace_tz(ctx: Ctx) -> ZoneInfo:
    """The caller's workspace time zone."""
    from backend.accounts.service import get_tenant

    return zone(get_tenant(ctx).timezone)


def local_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in ``tz`` as a UTC instant; refuses times a DST change skips."""
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    aware = local.replace(tzinfo=tz)
    # A time inside the spring-forward gap does not survive the round trip: refuse it rather
    # than publish an hour off.
    back = aware.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != local:
        raise InvalidInput("invalid time", [f"{local:%Y-%m-%d %H:%M} does not exist in {tz.key} (clocks skip it)"])
    return aware.astimezone(UTC)


def utc_to_local(at: datetime, tz: ZoneInfo) -> datetime:
    """A UTC instant as an aware wall-clock time in ``tz``."""
    return at.astimezone(tz)


def parse_local(text: str, tz: ZoneInfo) -> datetime:
    """Parse ``YYYY-MM-DD HH:MM`` (local to ``tz``) or an ISO time with an offset into UTC."""
    raw = (text or "").strip()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("invalid time", [f"{raw!r}: use YYYY-MM-DD HH:MM"]) from None
    return local_to_utc(value, tz)


def format_local(at: datetime, tz: ZoneInfo) -> str:
    return utc_to_local(at, tz).strftime(LOCAL_FORMAT)
