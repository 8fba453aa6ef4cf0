"""Letting people into triggered journeys: what they heard (journey_events), through the gate.

Per running triggered journey, pending journey_events are claimed in batches (PostgreSQL:
FOR UPDATE SKIP LOCKED, so several workers share them) and the batch's people are decided
at once by the SQL twin under the journey's purpose: erased, restricted, objected and
completely blocked people never enter. The target, if any, narrows who may; `reentry` says
whether someone whose stay ended may come again. Entrants start at the first step (one
INSERT for the batch); the event each entered by stays with their stay, the others go.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import JSON, Connection, cast, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB

from candor.core.context import Candor
from candor.core.durations import add, subtract
from candor.figures.step_counts import HERE
from candor.journeys.runtime.advance import hold_contacts, still_running
from candor.journeys.runtime.batch_moves import flush_stats
from candor.journeys.runtime.clock_triggers import look
from candor.journeys.runtime.collector import fewer_collections
from candor.journeys.runtime.enroll import ENROLL_COLUMNS, ENTER_STEP, NEVER_ENTER, data_object
from candor.journeys.runtime.filters import compile_filter
from candor.journeys.runtime.model import ACTIVE, Journey, running_journeys
from candor.journeys.runtime.target_lookups import target_lookups
from candor.journeys.step_types import parse_duration
from candor.journeys.triggers import reentry_after
from candor.ledger import audit
from candor.policy.twin import decisions
from candor.store.engine import is_sqlite, reading
from candor.store.journey_tables import journey_contacts, journey_events, journeys
from candor.store.sql import in_batch
from candor.store.tables import contacts
from candor.store.types import UTCDateTime


class Heard(NamedTuple):
    """A claimed journey_events row."""

    id: int
    contact_id: int
    properties: dict[str, Any]


def enter_triggered(cx: Candor, *, batch_size: int = 5000) -> int:
    """One pass over the running triggered journeys: look at the clock's triggers, then let
    in everyone heard of; returns how many entered (or were heard of by a look)."""
    now = cx.clock.now()
    with reading(cx.engine) as conn:
        triggered = [j for j in running_journeys(conn, triggered=True) if j.defn.trigger]
    done = 0
    for journey in triggered:
        if journey.ends_at is not None and now >= journey.ends_at:
            continue  # advance archives it
        done += look(cx, journey, now)
        done += enter_heard(cx, journey, now, batch_size)
    return done


def enter_heard(cx: Candor, journey: Journey, now: datetime, batch_size: int) -> int:
    """Let in everyone the journey heard about, batch by batch; returns how many entered."""
    entered = 0
    while True:
        with fewer_collections(), cx.engine.begin() as conn:
            if not still_running(conn, journey.id):
                return entered
            heard = _claim(conn, journey.id, batch_size)
            if heard:
                hold_contacts(conn, sorted({h.contact_id for h in heard}))
                entered += _enter(conn, journey, heard, now)
        if len(heard) < batch_size:
            return entered


def _claim(conn: Connection, journey_id: str, limit: int) -> list[Heard]:
    je = journey_events
    query = (
        select(je.c.id, je.c.contact_id, je.c.properties)
        .where(je.c.journey_id == journey_id, je.c.status == "pending")
        .order_by(je.c.id)
        .limit(limit)
    )
    if not is_sqlite(conn.engine):
        query = query.with_for_update(skip_locked=True)
    return [Heard(r.id, r.contact_id, dict(r.properties or {})) for r in conn.execute(query)]


def _enter(conn: Connection, journey: Journey, heard: list[Heard], now: datetime) -> int:
    """Sort the batch by the gate, the target and reentry; write entries, events and counts."""
    ids = sorted({h.contact_id for h in heard})
    reasons = _gate(conn, journey, ids, now)
    targeted = _targeted(conn, journey, ids, now)
    stays = _stays(conn, journey.id, ids)
    limit = reentry_after(journey.defn.reentry)
    counts: Counter[tuple[str, str]] = Counter()
    coming: dict[int, Heard] = {}
    for h in heard:
        outcome = _outcome(h, reasons, targeted, stays, coming, limit, now)
        counts[(ENTER_STEP, outcome)] += 1
        if outcome == "entered":
            coming[h.contact_id] = h
    kept = {h.id for h in coming.values()}
    _write_stays(conn, journey, list(coming.values()), stays, now)
    je = journey_events
    if kept:
        conn.execute(update(je).where(in_batch(je.c.id, sorted(kept))).values(status="entered"))
    gone = [h.id for h in heard if h.id not in kept]
    if gone:  # heard, but not let in: nothing of it is kept
        conn.execute(delete(je).where(in_batch(je.c.id, gone)))
    counts[(journey.first_step, HERE)] += len(coming)
    flush_stats(conn, journey.id, counts)
    if coming:
        j = journeys
        conn.execute(
            update(j).where(j.c.id == journey.id).values(entered=j.c.entered + len(coming))
        )
        audit.record(
            conn,
            actor="worker",
            action="journey.enter",
            object_type="journey",
            object_id=journey.id,
            at=now,
            entered=len(coming),
        )
    return len(coming)


def _outcome(
    h: Heard,
    reasons: dict[int, str],
    targeted: set[int] | None,
    stays: dict[int, tuple[str, datetime]],
    coming: dict[int, Heard],
    limit: Any,
    now: datetime,
) -> str:
    """Why the person does not enter (a reason code, or a word), or `entered`."""
    reason = reasons.get(h.contact_id, "erased")
    if reason in NEVER_ENTER:
        return reason
    if targeted is not None and h.contact_id not in targeted:
        return "not_targeted"
    if h.contact_id in coming:
        return "already_in"
    stay = stays.get(h.contact_id)
    if stay is None:
        return "entered"
    status, entered_at = stay
    if status in ACTIVE:
        return "already_in"
    if limit is None or entered_at > subtract(now, limit):
        return "no_reentry"
    return "entered"


def _gate(conn: Connection, journey: Journey, ids: list[int], now: datetime) -> dict[int, str]:
    """The twin's reason for each person under the journey's purpose (absent: erased)."""
    query = decisions(journey.purpose, None, None, now, dialect=conn.dialect.name, ids=ids)
    return {row.contact_id: row.reason for row in conn.execute(query)}


def _targeted(conn: Connection, journey: Journey, ids: list[int], now: datetime) -> set[int] | None:
    """Who of the batch the journey's target selects (None: no target, everyone)."""
    target = journey.defn.target
    if target is None:
        return None
    where = compile_filter(
        target, contacts.c.attributes, journey.types, lookups=target_lookups(conn, now)
    )
    query = select(contacts.c.id).where(in_batch(contacts.c.id, ids), where)
    return set(conn.execute(query).scalars())


def _stays(conn: Connection, journey_id: str, ids: list[int]) -> dict[int, tuple[str, datetime]]:
    """Each person's earlier or current stay: (status, entered_at)."""
    jc = journey_contacts
    query = select(jc.c.contact_id, jc.c.status, jc.c.entered_at).where(
        jc.c.journey_id == journey_id, in_batch(jc.c.contact_id, ids)
    )
    return {row.contact_id: (row.status, row.entered_at) for row in conn.execute(query)}


def _write_stays(
    conn: Connection,
    journey: Journey,
    coming: Sequence[Heard],
    stays: dict[int, tuple[str, datetime]],
    now: datetime,
) -> None:
    """The entrants' rows at the first step (one INSERT ... SELECT: their declared profile
    fields and the event's properties); a stay that ended makes way, with its events."""
    if not coming:
        return
    jc, je = journey_contacts, journey_events
    ids = sorted(h.contact_id for h in coming)
    again = [cid for cid in ids if cid in stays]
    if again:
        mine = (jc.c.journey_id == journey.id, in_batch(jc.c.contact_id, again))
        conn.execute(delete(jc).where(*mine))
        old = (je.c.journey_id == journey.id, in_batch(je.c.contact_id, again))
        conn.execute(delete(je).where(*old, je.c.status == "entered"))
    defn = journey.defn
    profile = data_object(conn, [f for f in defn.fields if f in journey.types])
    start = max(now, defn.starts_at) if defn.starts_at else now
    expires = add(now, parse_duration(defn.expires_after)) if defn.expires_after else None
    at = literal(now, UTCDateTime())
    rows = (
        select(
            literal(journey.id),
            je.c.contact_id,
            literal(journey.first_step),
            literal("active"),
            literal(start, UTCDateTime()),
            at,
            at,
            literal(expires, UTCDateTime()),
            json_merge(conn, profile, je.c.properties),
        )
        .select_from(je.join(contacts, contacts.c.id == je.c.contact_id))
        .where(in_batch(je.c.id, sorted(h.id for h in coming)))
        .order_by(je.c.contact_id)
    )
    conn.execute(insert(jc).from_select(ENROLL_COLUMNS, rows))


def json_merge(conn: Connection, left: Any, right: Any) -> Any:
    """Two JSON objects as one, keys of `right` winning (jsonb || / json_patch)."""
    if is_sqlite(conn.engine):
        return func.json_patch(left, right)
    return cast(cast(left, JSONB).op("||")(cast(right, JSONB)), JSON)
