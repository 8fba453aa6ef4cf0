"""Ending journeys (stop, or automatically at ends_at) and reading their figures.

Archiving cancels the journey's queued messages and deletes its journey-scoped data
(journey_contacts, journey_transitions: on PostgreSQL by dropping the journey's partitions;
journey_events: what a triggered journey heard);
the aggregates in journey_step_stats and the communications with their decision records
(the evidence) remain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from candor.core.context import Candor
from candor.core.errors import Conflict
from candor.figures import step_counts as here
from candor.journeys.runtime.model import ENTER_STEP, journey_row
from candor.journeys.validate import stored_flow_order
from candor.ledger import audit
from candor.store.engine import is_sqlite
from candor.store.journey_tables import (
    journey_contacts,
    journey_events,
    journey_step_stats,
    journey_transitions,
    journeys,
    outbox,
)
from candor.store.partitions import drop_journey_partitions
from candor.store.sql import in_batch

PURGE_BATCH = 50_000


def stop_journey(cx: Candor, journey_id: str, *, actor: str) -> dict[str, Any]:
    """Stop a running (or draft) journey now and archive it."""
    return archive_journey(cx, journey_id, actor=actor, reason="stopped")


def archive_journey(cx: Candor, journey_id: str, *, actor: str, reason: str) -> dict[str, Any]:
    """Cancel queued messages, purge journey-scoped rows, set state archived (idempotent)."""
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        row = _lock_journey(conn, journey_id)
        if row["state"] == "archived":
            if reason == "stopped":
                raise Conflict(f"journey: {journey_id!r} is already archived")
            return {"id": journey_id, "state": "archived"}
        cancelled = conn.execute(
            update(outbox)
            .where(outbox.c.journey_id == journey_id, outbox.c.status == "queued")
            .values(status="cancelled", error=f"journey_{reason}")
        ).rowcount
        conn.execute(
            update(journeys)
            .where(journeys.c.id == journey_id)
            .values(state="archived", archived_at=now)
        )
        here.drop(conn, journey_id)  # who is where no longer matters once it ended
        audit.record(
            conn,
            actor=actor,
            action=f"journey.{reason}",
            object_type="journey",
            object_id=journey_id,
            at=now,
            cancelled=cancelled,
        )
    purged = _purge(cx, journey_id)
    return {"id": journey_id, "state": "archived", "cancelled": cancelled, "purged": purged}


def _lock_journey(conn: Connection, journey_id: str) -> Any:
    row = journey_row(conn, journey_id)
    if not is_sqlite(conn.engine):
        conn.execute(select(journeys.c.id).where(journeys.c.id == journey_id).with_for_update())
        row = journey_row(conn, journey_id)
    return row


def _purge(cx: Candor, journey_id: str) -> int:
    """Delete what a triggered journey heard, then drop the journey's partitions
    (PostgreSQL), else delete its contacts and their transitions a batch of contacts at a
    time (memory and locks stay small); returns how many rows went (for dropped
    partitions, the planner's count).

    Transitions are indexed by contact (migration 0015), so each batch's go by its people;
    one last statement removes any left without a journey_contacts row.
    """
    with cx.engine.begin() as conn:
        heard = journey_events.c.journey_id == journey_id  # what a triggered journey heard
        purged = conn.execute(delete(journey_events).where(heard)).rowcount
        dropped = drop_journey_partitions(conn, journey_id)
    if dropped is not None:
        return purged + dropped
    jc, jt = journey_contacts, journey_transitions
    while True:
        with cx.engine.begin() as conn:
            batch = list(
                conn.execute(
                    select(jc.c.contact_id).where(jc.c.journey_id == journey_id).limit(PURGE_BATCH)
                ).scalars()
            )
            if batch:
                for table in (jt, jc):
                    people = (in_batch(table.c.contact_id, batch), table.c.journey_id == journey_id)
                    purged += conn.execute(delete(table).where(*people)).rowcount
        if len(batch) < PURGE_BATCH:
            break
    with cx.engine.begin() as conn:
        purged += conn.execute(delete(jt).where(jt.c.journey_id == journey_id)).rowcount
    return purged


def journey_status(conn: Connection, journey_id: str) -> dict[str, Any]:
    """The journey's state, its counts per step and outcome, and who is at which step now."""
    row = journey_row(conn, journey_id)
    stats = conn.execute(
        select(
            journey_step_stats.c.step_id, journey_step_stats.c.outcome, journey_step_stats.c.count
        ).where(journey_step_stats.c.journey_id == journey_id)
    )
    outcomes: dict[str, dict[str, int]] = {}
    for step_id, outcome, count in stats:
        if outcome != here.HERE:  # the step's head count, not an outcome ("current" below)
            outcomes.setdefault(step_id, {})[outcome] = count
    jc = journey_contacts
    current: dict[str, dict[str, int]] = {}
    for step_id, status, count in conn.execute(
        select(jc.c.step_id, jc.c.status, func.count())
        .where(jc.c.journey_id == journey_id)
        .group_by(jc.c.step_id, jc.c.status)
    ):
        current.setdefault(step_id, {})[status] = count
    return {
        "id": row["id"],
        "name": row["name"],
        "purpose": row["purpose_id"],
        "state": row["state"],
        "version": row["version"],
        "entered": row["entered"],
        "launched_at": _iso(row["launched_at"]),
        "ends_at": _iso(row["ends_at"]),
        "archived_at": _iso(row["archived_at"]),
        "outcomes": in_flow_order(row["definition"], outcomes),
        "current": in_flow_order(row["definition"], current),
    }


def in_flow_order(definition: Any, by_step: dict[str, Any]) -> dict[str, Any]:
    """`by_step` with its steps in flow order (entry first, steps no longer defined last)."""
    order = stored_flow_order(definition)
    rank = {ENTER_STEP: -1, **{sid: i for i, sid in enumerate(order)}}
    return dict(sorted(by_step.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
