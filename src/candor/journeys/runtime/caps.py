"""Frequency caps and quiet hours: they defer a send to when it becomes possible, never drop it.

Settings key `sending`: `{"caps": {"email": {"per_day": 1, "per_week": 3}},
"quiet_hours": {"start": "21:00", "end": "08:00"}}`. Days and weeks (Monday first) are the
contact's own, in its time zone; counts come from the contact's marketing outbox rows. The
batch is grouped by time zone in Python (there are few), one count query per zone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, case, func, select

from candor.ledger.registry import setting
from candor.store.journey_tables import outbox
from candor.store.sql import in_batch
from candor.store.tables import contacts

FREQUENCY = "deferred:frequency_cap"
QUIET = "deferred:quiet_hours"


@dataclass(frozen=True)
class SendingRules:
    """Caps per channel as (per_day, per_week) and quiet hours as (start, end) local times."""

    caps: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    quiet: tuple[time, time] | None = None

    def capped(self, channel: str) -> bool:
        return any(n is not None for n in self.caps.get(channel, (None, None)))


def parse_rules(value: Any) -> SendingRules:
    """Rules from the stored `sending` section (absent or malformed parts mean no rule)."""
    value = value if isinstance(value, dict) else {}
    caps: dict[str, tuple[int | None, int | None]] = {}
    for channel, spec in (value.get("caps") or {}).items():
        if isinstance(spec, dict):
            caps[channel] = (_count(spec.get("per_day")), _count(spec.get("per_week")))
    quiet = None
    hours = value.get("quiet_hours")
    if isinstance(hours, dict) and hours.get("start") and hours.get("end"):
        quiet = (time.fromisoformat(str(hours["start"])), time.fromisoformat(str(hours["end"])))
    return SendingRules(caps, quiet)


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def sending_rules(conn: Connection) -> SendingRules:
    return parse_rules(setting(conn, "sending", {}))


def zone(name: str | None) -> ZoneInfo:
    """The contact's time zone (UTC when unknown)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(rules: SendingRules, tz: ZoneInfo, moment: datetime) -> datetime | None:
    """When quiet hours covering `moment` end (UTC), or None if `moment` is not quiet."""
    if rules.quiet is None:
        return None
    start, end = rules.quiet
    local = moment.astimezone(tz)
    now_t = local.time()
    if start <= end:
        inside, day = start <= now_t < end, local.date()
    else:
        inside = now_t >= start or now_t < end
        day = local.date() + timedelta(days=1) if now_t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=tz).astimezone(UTC)


def day_start(tz: ZoneInfo, now: datetime) -> datetime:
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz).astimezone(UTC)


def week_start(tz: ZoneInfo, now: datetime) -> datetime:
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=tz).astimezone(UTC)


def timezones(conn: Connection, ids: Sequence[int]) -> dict[str, list[int]]:
    """The batch's contacts grouped by time zone name."""
    groups: dict[str, list[int]] = defaultdict(list)
    rows = conn.execute(
        select(contacts.c.id, contacts.c.timezone).where(in_batch(contacts.c.id, ids))
    )
    for row in rows:
        groups[row.timezone or "UTC"].append(row.id)
    return groups


def sent_counts(
    conn: Connection, channel: str, ids: Sequence[int], day: datetime, week: datetime
) -> dict[int, tuple[int, int]]:
    """contact id -> (marketing messages today, this week) on the channel."""
    o = outbox
    today = func.sum(case((o.c.created_at >= day, 1), else_=0))
    rows = conn.execute(
        select(o.c.contact_id, today.label("day"), func.count().label("week"))
        .where(
            in_batch(o.c.contact_id, ids),
            o.c.channel == channel,
            o.c.kind == "marketing",
            o.c.status != "cancelled",
            o.c.created_at >= min(day, week),
        )
        .group_by(o.c.contact_id)
    )
    return {r.contact_id: (int(r.day or 0), int(r.week)) for r in rows}


def deferrals(
    conn: Connection,
    rules: SendingRules,
    channel: str,
    ids: Sequence[int],
    now: datetime,
    *,
    marketing: bool,
) -> dict[int, tuple[datetime, str]]:
    """contact id -> (when the send becomes possible, which rule deferred it)."""
    if not ids or (rules.quiet is None and not (marketing and rules.capped(channel))):
        return {}
    out: dict[int, tuple[datetime, str]] = {}
    for name, members in timezones(conn, ids).items():
        tz = zone(name)
        out |= _defer_zone(conn, rules, channel, tz, members, now, marketing)
    return out


def _defer_zone(
    conn: Connection,
    rules: SendingRules,
    channel: str,
    tz: ZoneInfo,
    ids: list[int],
    now: datetime,
    marketing: bool,
) -> dict[int, tuple[datetime, str]]:
    """Deferrals for the contacts of one time zone."""
    out: dict[int, tuple[datetime, str]] = {}
    per_day, per_week = rules.caps.get(channel, (None, None)) if marketing else (None, None)
    if per_day is not None or per_week is not None:
        day, week = day_start(tz, now), week_start(tz, now)
        for cid, (today, this_week) in sent_counts(conn, channel, ids, day, week).items():
            if per_week is not None and this_week >= per_week:
                out[cid] = (week_start(tz, now + timedelta(days=7)), FREQUENCY)
            elif per_day is not None and today >= per_day:
                out[cid] = (day_start(tz, now + timedelta(days=1)), FREQUENCY)
    for cid in ids:  # a send, now or deferred, that falls into quiet hours waits for their end
        when, reason = out.get(cid, (now, QUIET))
        later = quiet_until(rules, tz, when)
        if later is not None:
            out[cid] = (later, reason)
    return out
