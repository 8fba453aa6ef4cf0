"""Times on the team pages: in the member's time zone, readable ("5 Mar 2026, 14:05 CET"),
never a raw ISO string. Used in templates as `value|when` or `value|when("date")`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import pass_context
from jinja2.runtime import Context


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def readable(value: Any, time_zone: str | None, style: str = "time") -> str:
    """A moment as people read it in `time_zone`; anything that is not a moment as it is."""
    moment = _moment(value)
    if moment is None:
        return "" if value is None else str(value)
    local = moment.astimezone(_zone(time_zone))
    day = f"{local.day} {local:%b %Y}"
    return day if style == "date" else f"{day}, {local:%H:%M} {local.tzname()}"


@pass_context
def when(context: Context, value: Any, style: str = "time") -> str:
    """The template filter: the logged-in member's time zone, else UTC."""
    session = context.get("session")
    return readable(value, getattr(session, "time_zone", None), style)
