"""Triggers the clock drives: a date in a profile field, a consent about to lapse.

Nobody writes anything when a birthday comes or a consent nears its end, so the worker
looks: each running journey with such a trigger remembers up to when it looked
(journeys.trigger_checked_at) and each look adds, set-based, one pending journey_events row
per person whose moment fell since (INSERT ... SELECT). The row's `ref` names the
occurrence (`date:2027-01-03`, `consent:<event id>`), so looking twice adds nothing twice.
Date triggers look once per day (UTC dates); expiry triggers at most every LOOK_EVERY.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import JSON, Connection, String, and_, cast, literal, or_, select, update

from candor.core.context import Candor
from candor.core.durations import add, subtract
from candor.journeys.runtime.model import Journey
from candor.journeys.runtime.step_support import upsert_insert
from candor.journeys.step_types import parse_duration
from candor.journeys.triggers import DateTrigger, ExpiryTrigger, anniversaries, day_offset
from candor.ledger.registry import purpose_facts
from candor.store.engine import is_sqlite
from candor.store.journey_tables import journey_events, journeys
from candor.store.tables import consent_state, contacts
from candor.store.types import UTCDateTime
from candor.store.wakeup import notify

LOOK_EVERY = timedelta(hours=1)
MAX_CATCH_UP_DAYS = 400  # a worker down longer than this looks back this far only
EVENT_COLUMNS = (
    "journey_id",
    "contact_id",
    "kind",
    "name",
    "ref",
    "properties",
    "occurred_at",
    "received_at",
    "status",
)


def look(cx: Candor, journey: Journey, now: datetime) -> int:
    """Add the occurrences since the journey last looked; returns how many rows were added."""
    trigger = journey.defn.trigger
    if not isinstance(trigger, DateTrigger | ExpiryTrigger):
        return 0
    with cx.engine.begin() as conn:
        row = _locked(conn, journey.id)
        if row is None or row.state != "running":
            return 0
        since: datetime = row.trigger_checked_at or row.launched_at or now
        first = row.trigger_checked_at is None
        if isinstance(trigger, DateTrigger):
            added = _dates(conn, journey, trigger, since, now, first)
        else:
            added = _expiring(conn, journey, trigger, since, now, first)
        if added is None:
            return 0
        conn.execute(
            update(journeys).where(journeys.c.id == journey.id).values(trigger_checked_at=now)
        )
        if added:
            notify(conn)
    return added


def _locked(conn: Connection, journey_id: str) -> Any:
    """The journeys row, held FOR NO KEY UPDATE: one look at a time, batches not blocked."""
    query = select(journeys.c.state, journeys.c.launched_at, journeys.c.trigger_checked_at).where(
        journeys.c.id == journey_id
    )
    if not is_sqlite(conn.engine):
        query = query.with_for_update(key_share=True)
    return conn.execute(query).first()


def _dates(
    conn: Connection,
    journey: Journey,
    trigger: DateTrigger,
    since: datetime,
    now: datetime,
    first: bool,
) -> int | None:
    """One INSERT ... SELECT per new day: people whose field's occurrence enters them then."""
    today = now.date()
    start = since.date() if first else since.date() + timedelta(days=1)
    start = max(start, today - timedelta(days=MAX_CATCH_UP_DAYS))
    if start > today:
        return None  # this day was looked at already
    offset = day_offset(trigger.offset)
    value = contacts.c.attributes[trigger.field].as_string()
    added = 0
    day = start
    while day <= today:
        found = anniversaries(day, offset, trigger.every)
        matches = (
            value.in_(found)
            if trigger.every is None
            else or_(*[value.endswith(suffix, autoescape=True) for suffix in found])
        )
        ref = literal(f"date:{(day - offset).isoformat()}")
        people = select(contacts.c.id).where(contacts.c.erased_at.is_(None), matches).subquery()
        heard = Heard(journey.id, "date", trigger.field, _midnight(day))
        added += _insert(conn, heard.rows(people.c.id, ref, now))
        day += timedelta(days=1)
    return added


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _expiring(
    conn: Connection,
    journey: Journey,
    trigger: ExpiryTrigger,
    since: datetime,
    now: datetime,
    first: bool,
) -> int | None:
    """People whose consent (the newest per scope, granted or confirmed) lapses within
    `before`: its moment to ask fell in (since, now] (on the first look: any time so far)."""
    if not first and now - since < LOOK_EVERY:
        return None
    valid_for = purpose_facts(conn, trigger.purpose).consent_valid_for
    if valid_for is None:
        return None
    before = parse_duration(trigger.before)
    # asked at occurred_at + valid_for - before; still valid while occurred_at > now - valid_for
    high = subtract(add(now, before), valid_for)
    low = subtract(add(since, before), valid_for)
    cs = consent_state
    window = [cs.c.occurred_at <= high, cs.c.occurred_at > subtract(now, valid_for)]
    if not first:
        window.append(cs.c.occurred_at > low)
    people = (
        select(cs.c.contact_id, cs.c.event_id, cs.c.occurred_at)
        .where(
            cs.c.purpose_id == trigger.purpose,
            cs.c.status.in_(("granted", "confirmed")),
            and_(*window),
        )
        .subquery("expiring")
    )
    ref = literal("consent:", String) + cast(people.c.event_id, String)
    heard = Heard(journey.id, trigger.on, trigger.purpose, now)
    return _insert(conn, heard.rows(people.c.contact_id, ref, now))


class Heard(NamedTuple):
    """What a look heard: for which journey, of which kind and key, when it happened."""

    journey_id: str
    kind: str
    name: str
    occurred_at: datetime

    def rows(self, contact_id: Any, ref: Any, now: datetime) -> Any:
        """The pending journey_events rows (EVENT_COLUMNS) for the people in `contact_id`."""
        return select(
            literal(self.journey_id),
            contact_id,
            literal(self.kind),
            literal(self.name),
            ref,
            literal({}, JSON()),
            literal(self.occurred_at, UTCDateTime()),
            literal(now, UTCDateTime()),
            literal("pending"),
        ).where(contact_id.is_not(None))


def _insert(conn: Connection, rows: Any) -> int:
    """INSERT ... SELECT that skips occurrences already heard (the unique journey/contact/ref).

    The SELECTs carry a WHERE: SQLite reads `SELECT ... ON CONFLICT` without one as a join.
    """
    stmt = upsert_insert(conn, journey_events).from_select(EVENT_COLUMNS, rows)
    stmt = stmt.on_conflict_do_nothing(index_elements=["journey_id", "contact_id", "ref"])
    return int(conn.execute(stmt).rowcount or 0)
